"""DDPM training and sampling of halo cut-outs (notebook 03_ddpm).

The network (:func:`halo_utils.models.unet.build_unet`) predicts the noise ε; the loss is
the plain L2 of Ho et al. (2020, eq. 14). Adam with a cosine-decaying learning rate, an
exponential moving average of the weights for sampling, and a checkpoint of everything
(networks, EMA, optimiser, step, random state) every ``checkpoint_every`` steps through
:func:`halo_utils.generate.training.run_steps`. Training data: the log-scaled [-1, 1] cut-outs of
the training halos only, one band or all four.

Two choices differ from the paper (see the README):

* the diffusion runs on z = (x + 1) / 2, so the empty (clipped) sky, 92 % of the pixels,
  sits at z = 0 where the Gaussian end point of the forward process is centred. On the
  [-1, 1] scale the sky is 0.9 away from it, and the clipped x̂_0 estimates of the first
  reverse steps pull every sample away from the empty sky;
* ``size`` can be smaller than the cut-out (the ``cpu`` profile trains at 32 px): images
  are average-pooled (surface brightness is kept) and samples are resized back
  bilinearly. The beam of the published images (~5 px in every band) stays ~2.5 px wide at 32 px.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..config import deterministic, distribution, from_profile, loss_scaled, precision_record, replica_slice
from ..models.unet import build_unet
from .diffusion import GaussianDiffusion, linear_betas
from .training import run_steps

__all__ = ["DDPMConfig", "SAMPLING", "ddpm_config", "DDPM", "to_model", "from_model"]


@dataclasses.dataclass(frozen=True)
class DDPMConfig:
    """DDPM settings of one profile."""

    profile: str  # profile this config belongs to
    size: int | None = None  # model resolution in px (None: the cut-out size, 64)
    widths: tuple = (64, 128, 256, 512)  # U-Net width per level (base 64 x 1, 2, 4, 8)
    attention: tuple = (False, False, True, True)  # self-attention per level (the two lowest resolutions)
    n_res: int = 2  # residual blocks per level
    groups: int = 8  # GroupNorm groups
    diffusion_steps: int = 1000  # T
    beta_range: tuple = (1e-4, 0.02)  # linear beta schedule
    train_steps: int = 40_000  # optimisation steps
    batch_size: int = 32
    learning_rate: float = 2e-4  # Adam, cosine-decayed to 0 over train_steps
    ema: float = 0.999  # EMA decay of the sampling weights
    checkpoint_every: int = 500
    n_samples: int = 64  # images generated at the end
    ddim_steps: int = 50
    ddim_eta: float = 1.0  # DDIM noise scale: 1 (stochastic) matched ancestral quality; 0 left a mottled floor
    clip_x0: tuple = (0.0, 1.0)  # range x̂_0 is clipped to when sampling: the data's z range (was (-1, 1))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def network_settings(self) -> dict:
        """The settings that define the trained network (all but the sampler's: a run resumes across those)."""
        return {k: v for k, v in self.to_dict().items() if k not in SAMPLING}


SAMPLING = ("n_samples", "ddim_steps", "ddim_eta", "clip_x0")
"""DDPMConfig fields that change the samples but not the network."""

_PROFILES = {
    "smoke": DDPMConfig("smoke", widths=(8, 16), attention=(False, True), n_res=1, groups=4, diffusion_steps=50, train_steps=4,
                        batch_size=4, checkpoint_every=2, n_samples=4, ddim_steps=5),
    "cpu": DDPMConfig("cpu", size=32, widths=(32, 64, 128, 128), n_res=1, train_steps=5000, learning_rate=5e-4,
                      checkpoint_every=250, n_samples=32, ddim_steps=50),
    "paper": DDPMConfig("paper"),
}


def ddpm_config(profile: str, **overrides) -> DDPMConfig:
    """The :class:`DDPMConfig` of a profile, with optional overrides (unknown keys are an error)."""
    return from_profile(_PROFILES, profile, overrides)


class DDPM:
    """A noise-prediction U-Net, its EMA copy, the diffusion process and the optimiser."""

    def __init__(self, config: DDPMConfig, images: np.ndarray, seed: int, devices=None):
        """``images`` (n, H, W, B) in [-1, 1]; ``devices``: where to train (:func:`halo_utils.config.distribution`:
        None one device, "gpus" or a list of devices; ``config.batch_size`` is the global batch)."""
        import keras
        import tensorflow as tf

        self.config = config
        self.strategy = distribution(devices)
        if config.batch_size % self.strategy.num_replicas_in_sync:
            raise ValueError(f"batch_size {config.batch_size} does not split over "
                             f"{self.strategy.num_replicas_in_sync} devices")
        self.diffusion = GaussianDiffusion(linear_betas(config.diffusion_steps, *config.beta_range), clip=config.clip_x0)
        self.image_shape = images.shape[1:]
        data = to_model(images, config.size)
        size, bands = data.shape[1], data.shape[-1]

        deterministic(seed)  # seeds and deterministic TensorFlow ops: the same seed gives the same run in any process
        kwargs = dict(size=size, bands=bands, widths=config.widths, attention=config.attention,
                      n_res=config.n_res, groups=config.groups)
        with self.strategy.scope():
            self.network = build_unet(**kwargs, name="unet")
            self.ema = build_unet(**kwargs, name="unet_ema")
            self.ema.set_weights(self.network.get_weights())
            schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, config.train_steps)
            self.optimizer = loss_scaled(keras.optimizers.Adam(schedule), self.network)
            self.optimizer.build(self.network.trainable_variables)
        self.rng = tf.random.Generator.from_seed(seed)
        self.data = tf.constant(data)
        self.alpha_bars = tf.constant(self.diffusion.alpha_bars, tf.float32)
        self._step = tf.function(self._train_step)
        self._eps = tf.function(lambda x, t: self.ema([x, t], training=False))  # traced once per batch shape

    def _train_step(self):
        import tensorflow as tf

        c = self.config
        # 1. a global batch of training images, steps t and noise, all from the checkpointed generator
        idx = self.rng.uniform([c.batch_size], 0, tf.shape(self.data)[0], dtype=tf.int32)
        x0 = tf.gather(self.data, idx)
        t = self.rng.uniform([c.batch_size], 0, c.diffusion_steps, dtype=tf.int32)
        noise = self.rng.normal(tf.shape(x0))
        # 2. the forward process (Ho et al. eq. 4); each device takes its slice of the batch
        x_t = self.diffusion.q_sample(x0, t, noise)
        losses = self.strategy.run(self._replica_step, args=(x_t, t, noise))
        # 3. the EMA of the weights, once the (all-reduced) Adam step is done
        for ema_w, w in zip(self.ema.weights, self.network.weights):
            ema_w.assign(c.ema * ema_w + (1.0 - c.ema) * w)
        return {"loss": self.strategy.reduce("SUM", losses, axis=None)}

    def _replica_step(self, x_t, t, noise):
        """The L2 noise-prediction loss (eq. 14) of this device's slice and one Adam step (gradients summed over
        devices; each slice's loss is scaled by the global batch, so the sum is the global mean)."""
        import tensorflow as tf

        x_t, t, noise = replica_slice(self.config.batch_size, x_t, t, noise)
        with tf.GradientTape() as tape:
            error = tf.reduce_mean(tf.square(noise - self.network([x_t, t], training=True)), axis=[1, 2, 3])
            loss = tf.reduce_sum(error) / self.config.batch_size
            scaled = self.optimizer.scale_loss(loss)  # the loss itself unless float16 computes (then loss scaling)
        grads = tape.gradient(scaled, self.network.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.network.trainable_variables))
        return loss

    def trackables(self) -> dict:
        return dict(network=self.network, ema=self.ema, optimizer=self.optimizer, rng=self.rng)

    def train(self, workdir) -> dict:
        """Train to ``config.train_steps`` (resuming from ``workdir``); see :func:`halo_utils.generate.training.run_steps`."""
        return run_steps(self._step, self.trackables(), self.config.train_steps, workdir,
                         every=self.config.checkpoint_every, desc="DDPM training",
                         settings=dict(self.config.network_settings(), data_shape=list(self.data.shape),
                                       **precision_record(self.network)))

    def sample(self, n: int, seed: int, sampler: str = "ddim", steps: int | None = None, progress: bool = True,
               eta: float | None = None):
        """``n`` images (n, H, W, B) in [-1, 1], at the cut-out size, from the EMA network (DDIM: ``steps`` and
        ``eta`` default to the config's)."""
        z = self.diffusion.sample(self._eps, (n, *self.data.shape[1:]), seed, sampler, steps or self.config.ddim_steps,
                                  progress, self.config.ddim_eta if eta is None else eta)
        return from_model(z, self.image_shape[0])


def to_model(images: np.ndarray, size: int | None = None) -> np.ndarray:
    """Cut-outs (n, H, W, B) in [-1, 1] -> the model's z = (x + 1) / 2 in [0, 1], average-pooled to ``size``."""
    z = (np.asarray(images, np.float32) + 1.0) / 2.0
    n, h, w, b = z.shape
    if size is None or size == h:
        return z
    if h % size or w != h:
        raise ValueError(f"cannot pool {h}x{w} px cut-outs to {size} px: the size must divide {h}")
    f = h // size
    return z.reshape(n, size, f, size, f, b).mean(axis=(2, 4))


def from_model(z, size: int) -> np.ndarray:
    """Model samples z (n, h, h, B) -> images (n, size, size, B) in [-1, 1] (bilinear resize)."""
    import tensorflow as tf

    z = np.asarray(z, np.float32)
    if z.shape[1] != size:
        z = tf.image.resize(z, (size, size), method="bilinear").numpy()
    return np.clip(2.0 * z - 1.0, -1.0, 1.0)
