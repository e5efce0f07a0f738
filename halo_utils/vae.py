"""VAE and conditional VAE of FRI/FRII radio galaxies (Bastien et al. 2021; notebook 07_vae).

The loss is the negative ELBO with a Bernoulli likelihood: the binary cross-entropy of the
pixels (summed over the image) plus KL(q(z|x) ‖ N(0, I)) (summed over the latent
dimensions), averaged over the batch, in nats per image. Training draws batches, the
reparametrisation noise and (through the Keras seed state) the dropout masks from
checkpointed random state, in :func:`halo_utils.training.run_steps`, so a run resumes
after interruption and the same seed gives the same numbers.

The paper's protocol picks the learning rate and the latent size by the loss on the test
set. The ``strict`` protocol here holds out validation galaxies from the training set
instead (before rotation), so the test set only reports; ``paper`` is offered, labelled.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["VAEConfig", "vae_config", "VAE", "split_validation", "select_model", "prepare", "fit_latent_sizes", "table",
           "near_zero_fraction", "class_balance"]


@dataclasses.dataclass(frozen=True)
class VAEConfig:
    """VAE/CVAE settings of one profile."""

    profile: str  # profile this config belongs to
    size: int = 100  # image side after the centre cut, px
    widths: tuple = (4096, 2048, 1024, 512, 256)  # encoder dense layers (decoder: reversed)
    dropout: float = 0.2
    latent_sizes: tuple = (2, 4, 8, 16, 32, 64)  # d
    learning_rates: tuple = tuple(round(0.5e-3 + 1e-4 * i, 6) for i in range(11))  # 0.5e-3 ... 1.5e-3
    n_angles: int = 360  # training rotations over 360 degrees (1 degree steps)
    batch_size: int = 64
    search_epochs: float = 50  # epochs of each learning-rate trial
    epochs: float = 5000  # epochs of the final training (an epoch = one draw per training galaxy)
    n_validation: int = 50  # training galaxies held out for validation (strict protocol)
    n_generated: int = 1000  # images generated per model for RAMIS
    classifier_epochs: int = 30  # RAMIS classifier (Tang et al. 2019): Adagrad 1e-3
    classifier_angles: int = 360  # rotations of its training images
    judge_noise: float = 0.25  # max std of the noise floor on half the judge's training images (0: none, as Tang et al.)
    checkpoint_every: int = 1000  # steps

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def model_settings(self) -> dict:
        """The fields one VAE training depends on (the judge's and the search's fields are left out)."""
        keys = ("profile", "size", "widths", "dropout", "n_angles", "batch_size", "checkpoint_every")
        return {k: v for k, v in self.to_dict().items() if k in keys}

    def steps(self, epochs: float, n_train: int) -> int:
        """Optimisation steps of ``epochs`` passes over ``n_train`` galaxies (at least 1)."""
        return max(1, int(round(epochs * n_train / self.batch_size)))


_PROFILES = {
    "smoke": VAEConfig("smoke", size=20, widths=(32, 16), latent_sizes=(2, 4), learning_rates=(1e-3, 1.5e-3),
                       n_angles=2, batch_size=8, search_epochs=0.1, epochs=0.2, n_validation=10, n_generated=16,
                       classifier_epochs=1, classifier_angles=2, checkpoint_every=2),
    "cpu": VAEConfig("cpu", widths=(1024, 512, 256, 128, 64), learning_rates=(0.5e-3, 1e-3, 1.5e-3), n_angles=36,
                     search_epochs=10, epochs=100, n_generated=500, classifier_epochs=10, classifier_angles=36),
    "paper": VAEConfig("paper"),
}


def vae_config(profile: str, **overrides) -> VAEConfig:
    """The :class:`VAEConfig` of a profile, with optional overrides (unknown keys are an error)."""
    from .config import from_profile

    return from_profile(_PROFILES, profile, overrides)


def split_validation(n: int, n_validation: int, seed: int):
    """Indices (train, validation) of ``n`` galaxies, validation drawn without replacement (before rotation)."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_validation:]), np.sort(order[:n_validation])


class VAE:
    """Encoder, decoder, optimiser and random state of one VAE (``classes=0``) or CVAE run.

    Parameters
    ----------
    config : the profile's :class:`VAEConfig`
    latent : d, the latent size
    learning_rate : Adam step size
    images : (n, size, size) training images in [0, 1] (already rotated and centre-cut); pass a
        ``tf.Tensor`` to share one copy between models
    labels : (n,) class indices (used by a CVAE only)
    classes : 0 for a VAE, the number of classes for a CVAE
    """

    def __init__(self, config: VAEConfig, latent: int, learning_rate: float, images, labels, classes: int, seed: int):
        import keras
        import tensorflow as tf

        from .models.vae import build_decoder, build_encoder

        self.config, self.latent, self.classes = config, latent, classes
        from .config import deterministic

        deterministic(seed)  # seeds and deterministic TensorFlow ops: the same seed gives the same run in any process
        kwargs = dict(size=config.size, latent=latent, classes=classes, widths=config.widths, dropout=config.dropout)
        self.encoder, self.decoder = build_encoder(**kwargs), build_decoder(**kwargs)
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.optimizer.build(self._weights())
        self.rng = tf.random.Generator.from_seed(seed)
        self.images = tf.convert_to_tensor(images, tf.float32)  # a tensor passed in is shared, not copied
        self.onehot = self._onehot(labels, len(images))
        self._step = tf.function(self._train_step)

    def _weights(self):
        return self.encoder.trainable_variables + self.decoder.trainable_variables

    def _onehot(self, labels, n: int):
        """One-hot classes (n, max(classes, 1)); ``labels`` None means class 0 (ignored by a plain VAE)."""
        import tensorflow as tf

        return tf.one_hot(np.zeros(n, int) if labels is None else np.asarray(labels), max(self.classes, 1))

    def _inputs(self, x, onehot):
        import tensorflow as tf

        x = tf.convert_to_tensor(x, tf.float32)
        return [x, tf.convert_to_tensor(onehot, tf.float32)] if self.classes else [x]

    def loss(self, x, onehot, noise, training: bool = False):
        """Negative ELBO per image (n,), nats: BCE summed over pixels + KL summed over z (eqs. of Kingma & Welling)."""
        import tensorflow as tf

        mu, log_var = self.encoder(self._inputs(x, onehot), training=training)
        z = mu + tf.exp(0.5 * log_var) * noise  # 1. reparametrisation
        logits = self.decoder(self._inputs(z, onehot), training=training)
        bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits)  # 2. Bernoulli log-likelihood
        kl = -0.5 * tf.reduce_sum(1.0 + log_var - tf.square(mu) - tf.exp(log_var), axis=1)  # 3. KL to the prior
        return tf.reduce_sum(bce, axis=[1, 2]) + kl

    def _train_step(self):
        import tensorflow as tf

        idx = self.rng.uniform([self.config.batch_size], 0, tf.shape(self.images)[0], dtype=tf.int32)
        x, onehot = tf.gather(self.images, idx), tf.gather(self.onehot, idx)
        noise = self.rng.normal([self.config.batch_size, self.latent])
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(self.loss(x, onehot, noise, training=True))
        grads = tape.gradient(loss, self._weights())
        self.optimizer.apply_gradients(zip(grads, self._weights()))
        return {"loss": loss}

    def train(self, steps: int, workdir, desc: str = "VAE training") -> dict:
        """Train to ``steps`` optimisation steps, resuming from ``workdir``; see :func:`~halo_utils.training.run_steps`."""
        from .training import run_steps

        trackables = dict(encoder=self.encoder, decoder=self.decoder, optimizer=self.optimizer, rng=self.rng)
        settings = dict(self.config.model_settings(), latent=self.latent, classes=self.classes, steps=steps,
                        learning_rate=float(self.optimizer.learning_rate.numpy()), data_shape=list(self.images.shape))
        return run_steps(self._step, trackables, steps, workdir, every=self.config.checkpoint_every, desc=desc,
                         settings=settings)

    def evaluate(self, images, labels, seed: int = 0) -> float:
        """Mean negative ELBO (nats per image) of held-out images (n, size, size), dropout off, seeded noise."""

        images = np.asarray(images, np.float32)
        noise = np.random.default_rng(seed).standard_normal((len(images), self.latent)).astype(np.float32)
        return float(np.mean(self.loss(images, self._onehot(labels, len(images)), noise).numpy()))

    def decode(self, z, labels=None) -> np.ndarray:
        """Mean images (n, size, size) in [0, 1] of latent points z (n, d) [and classes (n,) for a CVAE]."""
        import tensorflow as tf

        z = np.asarray(z, np.float32)
        return tf.sigmoid(self.decoder(self._inputs(z, self._onehot(labels, len(z))), training=False)).numpy()

    def encode(self, images, labels=None) -> np.ndarray:
        """Posterior means E[z|x] (n, d) of images (n, size, size), dropout off."""
        onehot = self._onehot(labels, len(images))
        mu, _ = self.encoder(self._inputs(np.asarray(images, np.float32), onehot), training=False)
        return mu.numpy()

    def reconstruct(self, images, labels=None) -> np.ndarray:
        """Decoded posterior means of images (n, size, size)."""
        return self.decode(self.encode(images, labels), labels)

    def active_units(self, images, labels=None, threshold: float = 0.01) -> int:
        """Latent dimensions whose posterior mean varies over images (n, size, size): Var_x E[z|x] > threshold.

        Burda et al. (2016)'s count of active units; 0 means posterior collapse (every image is
        encoded alike, so every reconstruction is the same mean image).
        """
        return int(np.sum(np.var(self.encode(images, labels), axis=0) > threshold))

    def generate(self, n: int, seed: int, labels=None) -> np.ndarray:
        """``n`` images (n, size, size) decoded from z ~ N(0, I) [with the given classes for a CVAE]."""
        z = np.random.default_rng(seed).standard_normal((n, self.latent))
        return self.decode(z, labels)


def select_model(rows: list) -> dict:
    """The paper's rule: RAMIS above the mean and loss below the mean over the latent sizes.

    ``rows``: dicts with ``latent``, ``ramis`` and ``selection_loss``. Returns the row with the
    highest RAMIS among those meeting both conditions (``rule_met`` True), else the
    highest-RAMIS row with ``rule_met`` False.
    """
    ramis_mean = np.mean([r["ramis"] for r in rows])
    loss_mean = np.mean([r["selection_loss"] for r in rows])
    passing = [r for r in rows if r["ramis"] > ramis_mean and r["selection_loss"] < loss_mean]
    best = max(passing or rows, key=lambda r: r["ramis"])
    return dict(best, rule_met=bool(passing), ramis_mean=float(ramis_mean), loss_mean=float(loss_mean))


def prepare(data: dict, config: VAEConfig, protocol: str, seed: int, n_angles: int | None = None) -> dict:
    """Rotated, centre-cut training images and the selection and test sets of one protocol.

    ``data`` is :func:`halo_utils.frdeep.read_frdeep`'s dict. ``strict``: ``n_validation``
    training galaxies are held out (before rotation) and choose the learning rate and the
    model; ``paper``: the test set does (optimistic, as published). ``n_angles`` overrides
    ``config.n_angles`` (the RAMIS judge uses its own number of rotations).

    Returns
    -------
    dict with ``train`` (n, size, size) in [0, 1] and ``train_labels``, ``select`` /
    ``select_labels`` (the set that picks the rate and the model) and ``test`` / ``test_labels``
    """
    from .frdeep import augment, crop_centre

    if protocol not in ("strict", "paper"):
        raise ValueError(f"protocol must be 'strict' or 'paper', not {protocol!r}")
    images, labels, cut = data["train"], data["train_labels"], min(100, data["train"].shape[1])
    keep, held = split_validation(len(images), config.n_validation if protocol == "strict" else 0, seed)
    train, train_labels = augment(images[keep], labels[keep], n_angles or config.n_angles, size=cut)
    test = crop_centre(data["test"], cut)
    select, select_labels = (crop_centre(images[held], cut), labels[held]) if protocol == "strict" \
        else (test, data["test_labels"])
    return dict(train=_resize(train, config.size), train_labels=train_labels, select=_resize(select, config.size),
                select_labels=select_labels, test=_resize(test, config.size), test_labels=data["test_labels"])


def _resize(images: np.ndarray, size: int) -> np.ndarray:
    """Images (n, S, S) resized to ``size`` (area average; the smoke profile works on small images)."""
    import tensorflow as tf

    if images.shape[1] == size:
        return images.astype(np.float32)
    return tf.image.resize(images[..., None], (size, size), method="area").numpy()[..., 0]


def fit_latent_sizes(sets: dict, config: VAEConfig, classes: int, seed: int, workdir, judge=None) -> list:
    """The paper's experiment for one model kind: per latent size d, a learning-rate search, then training.

    Each rate trains ``config.search_epochs``; the one with the lowest loss on the selection
    set trains ``config.epochs``. ``classes`` = 0 for a VAE, 2 for a CVAE. With a ``judge``
    (the RAMIS classifier) each row also carries ``ramis`` of ``config.n_generated`` images
    drawn from the prior (a CVAE: half of each class) and, for a CVAE, the share of each
    class the judge recognises.

    Returns one dict per d: ``latent``, ``learning_rate``, ``search`` (rate -> loss),
    ``train_loss`` (mean of the last 10 % of steps), ``selection_loss``, ``test_loss``,
    ``active_units`` (of the selection images; see :meth:`VAE.active_units`),
    ``ramis``, ``recognised`` (CVAE), ``losses`` (per step) and the trained ``model``.
    """
    import gc
    from pathlib import Path

    import tensorflow as tf

    kind = "cvae" if classes else "vae"
    n_train = len(sets["train"]) // config.n_angles
    images = tf.convert_to_tensor(sets["train"], tf.float32)  # one copy for every model (0.7 GB in cpu)
    rows = []
    for d in config.latent_sizes:
        search = {}
        for rate in config.learning_rates:
            trial = VAE(config, d, rate, images, sets["train_labels"], classes, seed)
            trial.train(config.steps(config.search_epochs, n_train), Path(workdir) / f"{kind}_d{d}_lr{rate:g}",
                        desc=f"{kind} d={d} lr={rate:g}")
            search[rate] = trial.evaluate(sets["select"], sets["select_labels"], seed)
            del trial
            gc.collect()  # a trial holds its traced step function and optimiser state
        rate = min(search, key=search.get)
        model = VAE(config, d, rate, images, sets["train_labels"], classes, seed)
        fit = model.train(config.steps(config.epochs, n_train), Path(workdir) / f"{kind}_d{d}",
                          desc=f"{kind} d={d} (lr {rate:g})")
        losses = fit["losses"]["loss"]
        row = dict(latent=d, learning_rate=rate, search={f"{k:g}": v for k, v in search.items()},
                   train_loss=float(np.mean(losses[-max(1, len(losses) // 10):])),
                   selection_loss=model.evaluate(sets["select"], sets["select_labels"], seed),
                   test_loss=model.evaluate(sets["test"], sets["test_labels"], seed),
                   active_units=model.active_units(sets["select"], sets["select_labels"]), losses=losses, model=model)
        rows.append(dict(row, **(_judged(model, judge, config.n_generated, seed) if judge is not None else {})))
    return rows


def _judged(model: VAE, judge, n: int, seed: int) -> dict:
    """RAMIS of ``n`` prior samples; for a CVAE the share of each requested class the judge assigns to it."""
    from .metrics import ramis
    from .morphology import probabilities

    labels = np.arange(n) % 2 if model.classes else None
    p = probabilities(judge, model.generate(n, seed, labels))
    out = dict(ramis=ramis(p))
    if model.classes:
        out["recognised"] = {c: float(np.mean(p[labels == c].argmax(1) == c)) for c in (0, 1)}
    return out


def table(rows: list) -> list:
    """The rows of :func:`fit_latent_sizes` without the models and per-step losses (for tables and JSON)."""
    return [{k: v for k, v in r.items() if k not in ("model", "losses")} for r in rows]


def near_zero_fraction(images: np.ndarray, threshold: float = 5e-5) -> float:
    """Share of pixels below ``threshold`` (real FIRST images are mostly exact zeros; a VAE's sigmoid never is)."""
    return float(np.mean(np.asarray(images) < threshold))


def class_balance(model: VAE, judge, n: int, seed: int, limit: float = 4.0) -> dict:
    """Judge's counts of FRI/FRII among ``n`` + ``n`` CVAE samples (n asked of each class), z from the prior
    N(0, I) or uniform in [-limit, limit]^d. Returns sampling -> requested class -> [n judged FRI, n judged FRII]."""
    from .morphology import probabilities

    rng = np.random.default_rng(seed)
    draws = {"prior": rng.standard_normal((2 * n, model.latent)), "uniform": rng.uniform(-limit, limit, (2 * n, model.latent))}
    labels = np.repeat([0, 1], n)
    out = {}
    for name, z in draws.items():
        judged = probabilities(judge, model.decode(z, labels)).argmax(1)
        out[name] = {c: np.bincount(judged[labels == c], minlength=2).tolist() for c in (0, 1)}
    return out
