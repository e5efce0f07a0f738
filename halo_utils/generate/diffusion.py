"""Gaussian diffusion (Ho et al. 2020) and its samplers, kept apart from any network.

:class:`GaussianDiffusion` holds the noise schedule (arrays precomputed once) and the
three operations a DDPM needs: the forward process ``q_sample`` (Ho et al. eq. 4), one
ancestral reverse step ``p_step`` (eq. 11, σ_t² = β_t) and one deterministic DDIM step
``ddim_step`` (Song et al. 2021 eq. 12; η = 0 deterministic, η = 1 as noisy as ancestral). The samplers take any
``eps_fn(x_t, t) -> ε̂`` so they can be tested with a closed-form predictor.

Arrays are NumPy float64 on the way in; the sampler loops run in NumPy-compatible
TensorFlow ops on float32 images of shape (n, H, W, bands) scaled to [-1, 1].
"""

from __future__ import annotations

import numpy as np

__all__ = ["linear_betas", "GaussianDiffusion"]


def linear_betas(steps: int = 1000, start: float = 1e-4, end: float = 0.02) -> np.ndarray:
    """β_t linear from ``start`` to ``end`` over ``steps`` (Ho et al. 2020)."""
    return np.linspace(start, end, steps, dtype=np.float64)


class GaussianDiffusion:
    """The forward and reverse processes of a DDPM with schedule ``betas`` (T,)."""

    def __init__(self, betas: np.ndarray, clip=(-1.0, 1.0)):
        self.betas = np.asarray(betas, dtype=np.float64)
        self.steps = len(self.betas)
        self.alphas = 1.0 - self.betas
        self.alpha_bars = np.cumprod(self.alphas)
        self.alpha_bars_prev = np.append(1.0, self.alpha_bars[:-1])
        self.clip = (-clip, clip) if np.isscalar(clip) else tuple(clip)  # the data range x̂_0 is clipped to

    def q_sample(self, x0, t, noise):
        """x_t = sqrt(ᾱ_t) x_0 + sqrt(1 - ᾱ_t) ε (eq. 4); ``t`` (n,) integer steps, 0-based."""
        import tensorflow as tf

        a = tf.gather(tf.constant(self.alpha_bars, tf.float32), t)[:, None, None, None]
        return tf.sqrt(a) * x0 + tf.sqrt(1.0 - a) * noise

    def predict_x0(self, x_t, t: int, eps):
        """x̂_0 = (x_t - sqrt(1 - ᾱ_t) ε̂) / sqrt(ᾱ_t), clipped to the data range ``clip``."""
        import tensorflow as tf

        a = float(self.alpha_bars[t])
        x0 = (x_t - float(np.sqrt(1.0 - a)) * eps) / float(np.sqrt(a))
        return tf.clip_by_value(x0, *self.clip)

    def p_step(self, x_t, t: int, eps, noise):
        """One ancestral step x_t -> x_{t-1} (the posterior mean of eq. 7 from x̂_0, σ_t² = β̃_t; no noise at t = 0)."""
        x0 = self.predict_x0(x_t, t, eps)
        a_bar, a_bar_prev, beta = self.alpha_bars[t], self.alpha_bars_prev[t], self.betas[t]
        c0 = float(np.sqrt(a_bar_prev) * beta / (1 - a_bar))
        ct = float(np.sqrt(self.alphas[t]) * (1 - a_bar_prev) / (1 - a_bar))
        mean = c0 * x0 + ct * x_t
        if t == 0:
            return mean
        return mean + float(np.sqrt(beta * (1 - a_bar_prev) / (1 - a_bar))) * noise

    def ddim_step(self, x_t, t: int, t_prev: int, eps, eta: float = 0.0, noise=None):
        """One DDIM step x_t -> x_{t_prev} (Song et al. eq. 12); ``t_prev`` = -1 means x_0.

        ``eta`` scales the step's noise: 0 is deterministic, 1 matches the ancestral variance
        (then ``noise``, shaped like ``x_t``, is required).
        """
        x0 = self.predict_x0(x_t, t, eps)
        if t_prev < 0:
            return x0
        a, a_prev = self.alpha_bars[t], self.alpha_bars[t_prev]
        eps = (x_t - float(np.sqrt(a)) * x0) / float(np.sqrt(1 - a))  # consistent with the clipped x̂_0
        sigma = eta * np.sqrt((1 - a_prev) / (1 - a) * (1 - a / a_prev))
        x = float(np.sqrt(a_prev)) * x0 + float(np.sqrt(1 - a_prev - sigma**2)) * eps
        return x + float(sigma) * noise if sigma > 0 else x

    def ddim_timesteps(self, n: int) -> np.ndarray:
        """``n`` evenly spaced steps from T-1 down to 0."""
        if not 1 <= n <= self.steps:
            raise ValueError(f"DDIM needs 1 ... {self.steps} steps, not {n}")
        return np.unique(np.linspace(0, self.steps - 1, n).round().astype(int))[::-1]

    def sample(self, eps_fn, shape: tuple, seed: int, sampler: str = "ddim", steps: int = 50, progress: bool = True,
               eta: float = 0.0):
        """Draw images (n, H, W, bands) in [-1, 1].

        Parameters
        ----------
        eps_fn : callable (x_t float32 tensor, t int32 tensor (n,)) -> ε̂ tensor
        shape : (n, H, W, bands)
        seed : seeds the initial noise and the ancestral noise (same seed -> same images)
        sampler : 'ancestral' (T steps, the paper's) or 'ddim' (``steps`` steps)
        eta : DDIM noise scale (0: deterministic)
        """
        import tensorflow as tf
        from tqdm.auto import tqdm

        rng = tf.random.Generator.from_seed(seed)
        x = rng.normal(shape)
        if sampler == "ancestral":
            schedule = list(range(self.steps - 1, -1, -1))
        elif sampler == "ddim":
            schedule = list(self.ddim_timesteps(steps))
        else:
            raise ValueError(f"sampler must be 'ancestral' or 'ddim', not {sampler!r}")
        for i, t in enumerate(tqdm(schedule, desc=f"{sampler} sampling", disable=not progress)):
            eps = eps_fn(x, tf.fill([shape[0]], tf.constant(t, tf.int32)))
            if sampler == "ancestral":
                x = self.p_step(x, t, eps, rng.normal(shape))
            else:
                x = self.ddim_step(x, t, schedule[i + 1] if i + 1 < len(schedule) else -1, eps, eta,
                                   rng.normal(shape) if eta else None)
        return tf.clip_by_value(x, *self.clip).numpy()
