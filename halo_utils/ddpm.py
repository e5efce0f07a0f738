"""DDPM training and sampling of halo cut-outs (notebook 03_ddpm).

The network (:func:`halo_utils.models.unet.build_unet`) predicts the noise ε; the loss is
the plain L2 of Ho et al. (2020, eq. 14). Adam with a cosine-decaying learning rate, an
exponential moving average of the weights for sampling, and a checkpoint of everything
(networks, EMA, optimiser, step, random state) every ``checkpoint_every`` steps through
:func:`halo_utils.training.run_steps`. Training data: the log-scaled [-1, 1] cut-outs of
the training halos only, one band or all four.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .diffusion import GaussianDiffusion, linear_betas

__all__ = ["DDPMConfig", "ddpm_config", "DDPM"]


@dataclasses.dataclass(frozen=True)
class DDPMConfig:
    """DDPM settings of one profile."""

    profile: str  # profile this config belongs to
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

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_PROFILES = {
    "smoke": DDPMConfig("smoke", widths=(8, 16), attention=(False, True), n_res=1, groups=4, diffusion_steps=50, train_steps=4,
                        batch_size=4, checkpoint_every=2, n_samples=4, ddim_steps=5),
    "cpu": DDPMConfig("cpu", widths=(16, 32, 64, 64), n_res=1, groups=4, train_steps=3000, batch_size=32,
                      ema=0.995, checkpoint_every=250, n_samples=32, ddim_steps=50),
    "paper": DDPMConfig("paper"),
}


def ddpm_config(profile: str, **overrides) -> DDPMConfig:
    """The :class:`DDPMConfig` of a profile, with optional overrides (unknown keys are an error)."""
    from .config import from_profile

    return from_profile(_PROFILES, profile, overrides)


class DDPM:
    """A noise-prediction U-Net, its EMA copy, the diffusion process and the optimiser."""

    def __init__(self, config: DDPMConfig, images: np.ndarray, seed: int):
        import keras
        import tensorflow as tf

        from .models.unet import build_unet

        self.config = config
        self.diffusion = GaussianDiffusion(linear_betas(config.diffusion_steps, *config.beta_range))
        size, bands = images.shape[1], images.shape[-1]
        keras.utils.set_random_seed(seed)
        kwargs = dict(size=size, bands=bands, widths=config.widths, attention=config.attention,
                      n_res=config.n_res, groups=config.groups)
        self.network = build_unet(**kwargs, name="unet")
        self.ema = build_unet(**kwargs, name="unet_ema")
        self.ema.set_weights(self.network.get_weights())
        schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, config.train_steps)
        self.optimizer = keras.optimizers.Adam(schedule)
        self.optimizer.build(self.network.trainable_variables)
        self.rng = tf.random.Generator.from_seed(seed)
        self.data = tf.constant(images)
        self.alpha_bars = tf.constant(self.diffusion.alpha_bars, tf.float32)
        self._step = tf.function(self._train_step)

    def _train_step(self):
        import tensorflow as tf

        c = self.config
        # 1. a batch of training images, steps t and noise, all from the checkpointed generator
        idx = self.rng.uniform([c.batch_size], 0, tf.shape(self.data)[0], dtype=tf.int32)
        x0 = tf.gather(self.data, idx)
        t = self.rng.uniform([c.batch_size], 0, c.diffusion_steps, dtype=tf.int32)
        noise = self.rng.normal(tf.shape(x0))
        # 2. the forward process (Ho et al. eq. 4) and the L2 noise-prediction loss (eq. 14)
        x_t = self.diffusion.q_sample(x0, t, noise)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(noise - self.network([x_t, t], training=True)))
        # 3. one Adam step, then the EMA of the weights
        grads = tape.gradient(loss, self.network.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.network.trainable_variables))
        for ema_w, w in zip(self.ema.weights, self.network.weights):
            ema_w.assign(c.ema * ema_w + (1.0 - c.ema) * w)
        return {"loss": loss}

    def trackables(self) -> dict:
        return dict(network=self.network, ema=self.ema, optimizer=self.optimizer, rng=self.rng)

    def train(self, workdir) -> dict:
        """Train to ``config.train_steps`` (resuming from ``workdir``); see :func:`halo_utils.training.run_steps`."""
        from .training import run_steps

        return run_steps(self._step, self.trackables(), self.config.train_steps, workdir,
                         every=self.config.checkpoint_every, desc="DDPM training")

    def sample(self, n: int, seed: int, sampler: str = "ddim", steps: int | None = None, progress: bool = True):
        """``n`` images (n, H, W, B) in [-1, 1] from the EMA network."""
        import tensorflow as tf

        eps_fn = tf.function(lambda x, t: self.ema([x, t], training=False))
        return self.diffusion.sample(eps_fn, (n, *self.data.shape[1:]), seed, sampler,
                                     steps or self.config.ddim_steps, progress)
