"""Synthetic test images with known noise (the seed of the mock-sky simulator).

``noisy_field`` draws Gaussian noise, beam-convolved point sources with a power-law
flux distribution and an optional central exponential halo: enough to check that the
noise estimator recovers a known RMS.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

__all__ = ["noisy_field"]


def noisy_field(seed: int, sigma: float, shape=(300, 300), n_sources: int = 40, beam_px: float = 2.0,
                halo_peak: float = 3.0, halo_re_px: float = 15.0) -> np.ndarray:
    """An (H, W) image in Jy/beam: N(0, sigma) noise + point sources + a central halo.

    Point-source peaks are ``sigma * (5 + 200 * Pareto(1.5))``; the halo is
    ``halo_peak * sigma * exp(-r / halo_re_px)`` (no halo if ``halo_peak`` is 0).
    """
    rng = np.random.default_rng(seed)
    image = rng.normal(0.0, sigma, shape)
    points = np.zeros(shape)
    ys, xs = rng.integers(0, shape[0], n_sources), rng.integers(0, shape[1], n_sources)
    points[ys, xs] = sigma * (5 + 200 * rng.pareto(1.5, n_sources))
    image += gaussian_filter(points, beam_px) * 2 * np.pi * beam_px ** 2  # peak-preserving beam
    if halo_peak:
        y, x = np.mgrid[: shape[0], : shape[1]]
        r = np.hypot(x - (shape[1] - 1) / 2, y - (shape[0] - 1) / 2)
        image += halo_peak * sigma * np.exp(-r / halo_re_px)
    return image.astype(np.float64)
