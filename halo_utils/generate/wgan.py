"""Conditional WGAN-GP training and sampling of halo cut-outs (notebook 02_wgan).

Wasserstein loss with gradient penalty (Gulrajani et al. 2017): the critic maximises
D(real) - D(fake) - λ (‖∇D(x̂)‖₂ - 1)² with x̂ = ε real + (1 - ε) fake, ε ~ U[0, 1] per
image; n_critic critic steps per generator step; Adam 2e-4, β (0.5, 0.999). The label is
the training source an image comes from, so the generator learns one mode per cluster.
Small Gaussian noise is added to the real images, as the paper did. Checkpoints of both
networks, both optimisers, the step and the random state go through
:func:`halo_utils.generate.training.run_steps`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..config import deterministic, distribution, from_profile, loss_scaled, precision_record, replica_slice
from ..models.wgan import build_critic, build_generator
from .training import run_steps

__all__ = ["WGANConfig", "wgan_config", "mixing_weights", "gradient_penalty", "WGAN"]


@dataclasses.dataclass(frozen=True)
class WGANConfig:
    """WGAN-GP settings of one profile."""

    profile: str  # profile this config belongs to
    latent: int = 128  # size of z
    generator_widths: tuple = (128, 256, 128)  # transposed-convolution widths before the output layer
    generator_channels: int = 1024  # channels of the 4x4 latent map
    critic_widths: tuple = (64, 128, 256, 512)  # strided convolutions of the critic
    gp_weight: float = 10.0  # λ
    n_critic: int = 5  # critic steps per generator step
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    batch_size: int = 32
    train_steps: int = 10_000  # generator steps
    real_noise: float = 0.02  # std of the Gaussian noise added to real images ([-1, 1] scale)
    checkpoint_every: int = 500
    n_samples: int = 64

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_PROFILES = {
    "smoke": WGANConfig("smoke", latent=16, generator_widths=(8, 8, 8), generator_channels=16, critic_widths=(8, 16),
                        n_critic=2, batch_size=4, train_steps=3, checkpoint_every=3, n_samples=4),
    "cpu": WGANConfig("cpu", generator_widths=(64, 64, 32), generator_channels=128, critic_widths=(32, 64, 128),
                      train_steps=2000, checkpoint_every=200, n_samples=32),
    "paper": WGANConfig("paper"),
}


def wgan_config(profile: str, **overrides) -> WGANConfig:
    """The :class:`WGANConfig` of a profile, with optional overrides (unknown keys are an error)."""
    return from_profile(_PROFILES, profile, overrides)


def mixing_weights(rng, n):
    """ε ~ U[0, 1], one per image: (n, 1, 1, 1)."""
    return rng.uniform([n, 1, 1, 1], 0.0, 1.0)


def gradient_penalty(critic, real, fake, labels, eps, batch_size=None):
    """(‖∇_x̂ D(x̂)‖₂ - 1)² at x̂ = ε real + (1 - ε) fake (Gulrajani et al. eq. 3), summed over the images and divided
    by ``batch_size`` (default: their number, the mean; on one of several devices, the global batch)."""
    import tensorflow as tf

    mixed = eps * real + (1.0 - eps) * fake
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        score = critic([mixed, labels], training=True)
    grads = tape.gradient(score, mixed)
    norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + 1e-12)
    n = tf.cast(tf.shape(real)[0], tf.float32) if batch_size is None else float(batch_size)
    return tf.reduce_sum(tf.square(norm - 1.0)) / n


class WGAN:
    """Generator, critic, their optimisers and the random state of one conditional WGAN-GP run."""

    def __init__(self, config: WGANConfig, images: np.ndarray, labels: np.ndarray, seed: int, devices=None):
        """``images`` (n, H, W, B) in [-1, 1], ``labels`` (n,) source indices; ``devices``: where to train
        (:func:`halo_utils.config.distribution`; ``config.batch_size`` is the global batch)."""
        import keras
        import tensorflow as tf

        self.config = config
        n_labels, size, bands = int(labels.max()) + 1, images.shape[1], images.shape[-1]
        self.strategy = distribution(devices)
        if config.batch_size % self.strategy.num_replicas_in_sync:
            raise ValueError(f"batch_size {config.batch_size} does not split over "
                             f"{self.strategy.num_replicas_in_sync} devices")

        deterministic(seed)  # seeds and deterministic TensorFlow ops: the same seed gives the same run in any process
        with self.strategy.scope():
            self.generator = build_generator(latent=config.latent, labels=n_labels, bands=bands, size=size,
                                             channels=config.generator_channels, widths=config.generator_widths)
            self.critic = build_critic(labels=n_labels, bands=bands, size=size, widths=config.critic_widths)
            self.g_opt = loss_scaled(keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1, beta_2=0.999),
                                     self.generator)
            self.c_opt = loss_scaled(keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1, beta_2=0.999),
                                     self.critic)
            self.g_opt.build(self.generator.trainable_variables)
            self.c_opt.build(self.critic.trainable_variables)
        self.rng = tf.random.Generator.from_seed(seed)
        self.images, self.labels = tf.constant(images), tf.constant(labels.astype(np.int32))
        self.n_labels = n_labels
        self._step = tf.function(self._train_step)

    def _batch(self):
        import tensorflow as tf

        c = self.config
        idx = self.rng.uniform([c.batch_size], 0, tf.shape(self.images)[0], dtype=tf.int32)
        real = tf.gather(self.images, idx)
        return real + c.real_noise * self.rng.normal(tf.shape(real)), tf.gather(self.labels, idx)

    def _train_step(self):
        import tensorflow as tf

        c = self.config
        # 1. n_critic critic steps: Wasserstein estimate plus gradient penalty (global batches, split over devices)
        for _ in range(c.n_critic):
            real, labels = self._batch()
            z = self.rng.normal([c.batch_size, c.latent])
            eps = mixing_weights(self.rng, c.batch_size)
            critic_loss, wasserstein = self._sum(self.strategy.run(self._critic_step, args=(real, labels, z, eps)))
        # 2. one generator step on fresh latents and labels
        z = self.rng.normal([c.batch_size, c.latent])
        labels = self.rng.uniform([c.batch_size], 0, self.n_labels, dtype=tf.int32)
        generator_loss = self._sum(self.strategy.run(self._generator_step, args=(z, labels)))[0]
        return {"critic": critic_loss, "generator": generator_loss, "wasserstein": wasserstein}

    def _sum(self, values) -> list:
        """Per-device values (each already divided by the global batch) summed over the devices."""
        return [self.strategy.reduce("SUM", v, axis=None) for v in values]

    def _critic_step(self, real, labels, z, eps):
        import tensorflow as tf

        real, labels, z, eps = replica_slice(self.config.batch_size, real, labels, z, eps)
        n = self.config.batch_size
        with tf.GradientTape() as tape:
            fake = self.generator([z, labels], training=True)
            wasserstein = (tf.reduce_sum(self.critic([real, labels], training=True))
                           - tf.reduce_sum(self.critic([fake, labels], training=True))) / n
            penalty = gradient_penalty(self.critic, real, fake, labels, eps, batch_size=n)
            critic_loss = -wasserstein + self.config.gp_weight * penalty
            scaled = self.c_opt.scale_loss(critic_loss)  # the loss itself unless float16 computes
        grads = tape.gradient(scaled, self.critic.trainable_variables)
        self.c_opt.apply_gradients(zip(grads, self.critic.trainable_variables))
        return critic_loss, wasserstein

    def _generator_step(self, z, labels):
        import tensorflow as tf

        z, labels = replica_slice(self.config.batch_size, z, labels)
        with tf.GradientTape() as tape:
            score = self.critic([self.generator([z, labels], training=True), labels], training=True)
            generator_loss = -tf.reduce_sum(score) / self.config.batch_size
            scaled = self.g_opt.scale_loss(generator_loss)
        grads = tape.gradient(scaled, self.generator.trainable_variables)
        self.g_opt.apply_gradients(zip(grads, self.generator.trainable_variables))
        return (generator_loss,)

    def trackables(self) -> dict:
        return dict(generator=self.generator, critic=self.critic, g_opt=self.g_opt, c_opt=self.c_opt, rng=self.rng)

    def train(self, workdir) -> dict:
        """Train to ``config.train_steps`` generator steps, resuming from ``workdir``."""
        return run_steps(self._step, self.trackables(), self.config.train_steps, workdir,
                         every=self.config.checkpoint_every, desc="WGAN-GP training",
                         settings=dict(self.config.to_dict(), data_shape=list(self.images.shape),
                                       **precision_record(self.generator)))

    def sample(self, n: int, seed: int, labels=None) -> tuple:
        """``n`` images (n, H, W, B) in [-1, 1] and their labels (uniform over the training sources by default)."""
        import tensorflow as tf

        rng = tf.random.Generator.from_seed(seed)
        z = rng.normal([n, self.config.latent])
        labels = rng.uniform([n], 0, self.n_labels, dtype=tf.int32) if labels is None else tf.constant(labels, tf.int32)
        return self.generator([z, labels], training=False).numpy(), labels.numpy()
