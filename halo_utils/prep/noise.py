"""Noise RMS per image: a Gaussian fit to the lower end of the pixel histogram.

The radio-halo paper fits a Gaussian to the pixel histogram (its Fig. 5) and checks it
by hand on source-free ds9 regions. Here the check is automatic (five source-free
patches) and a third estimate comes from astropy's sigma-clipped statistics.

Most published images are already clipped: pixels with |x| < t were set to zero. A
Gaussian fit to that spike would be meaningless, so such images are recognised and the
noise is inferred from the clip threshold t and the count of surviving negative pixels
(for Gaussian noise, n(x < -t) / n(x < t) = Phi(-k) / Phi(k) with k = t / sigma).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from astropy.stats import sigma_clipped_stats
from scipy.optimize import curve_fit
from scipy.stats import norm

from ..constants import BAND_KEYS

__all__ = ["NoiseEstimate", "estimate_noise", "band_noise", "fit_lower_gaussian", "clip_state",
           "patch_rms", "sigma_clip_rms", "noise_table", "recovery"]

CLIPPED_ZERO_FRACTION = 0.3
"""An image with at least this fraction of exact zeros, zeroed symmetrically, counts as clipped."""


UNTRUSTED_FLAGS = ("zero_region", "negative_median")
"""Reader flags (:func:`halo_utils.data.read_image`) after which an image's own RMS is not used."""


@dataclasses.dataclass(frozen=True)
class NoiseEstimate:
    """Noise of one image (all values in the image's unit, Jy/beam)."""

    rms: float  # noise standard deviation; NaN if it cannot be told
    mean: float  # noise mean (0 for clipped images)
    method: str  # 'gaussian-fit'; for clipped images 'clipped-count', 'clipped-no-tail' or
    # 'clipped-negative-excess' (the last two give rms = NaN)
    clipped: bool  # the image was already clipped symmetrically around zero
    threshold: float  # clip threshold t found in the image (NaN if none)
    zero_fraction: float  # fraction of pixels exactly zero


def _gauss(x, amp, mu, sigma):
    return amp * np.exp(-0.5 * ((x - mu) / sigma) ** 2)


def clip_state(image: np.ndarray) -> dict:
    """Describe zeroed pixels: zero fraction, the gap (-t_neg, t_pos) around 0 and whether it is symmetric."""
    values = image[np.isfinite(image)]
    zero_fraction = float(np.mean(values == 0))
    pos, neg = values[values > 0], values[values < 0]
    t_pos = float(pos.min()) if pos.size else np.nan
    t_neg = float(-neg.max()) if neg.size else np.nan
    symmetric = bool(pos.size and (not neg.size or t_neg >= 0.5 * t_pos))
    clipped = zero_fraction >= CLIPPED_ZERO_FRACTION and symmetric
    return dict(zero_fraction=zero_fraction, t_pos=t_pos, t_neg=t_neg, clipped=clipped)


def fit_lower_gaussian(values: np.ndarray, gap=(0.0, 0.0), n_bins: int = 120, upper: float = 0.5) -> tuple:
    """Fit a Gaussian to the lower end of a histogram, up to ``mu + upper * sigma``.

    Bins inside ``gap`` = (lo, hi) (a zeroed range) are left out of the fit.

    Returns
    -------
    (mu, sigma) in the unit of ``values``
    """
    values = np.asarray(values, dtype=np.float64)
    mu = float(np.median(values))
    sigma = float(mu - np.percentile(values, 15.865))
    if not sigma > 0:
        sigma = float(np.std(values)) or 1.0
    for _ in range(3):
        lo, hi = mu - 5 * sigma, mu + upper * sigma
        counts, edges = np.histogram(values, bins=n_bins, range=(lo, hi))
        centres = 0.5 * (edges[1:] + edges[:-1])
        keep = ~((centres > gap[0]) & (centres < gap[1]))
        if keep.sum() < 5:
            break
        p0 = (max(counts[keep].max(), 1), mu, sigma)
        try:
            (amp, mu, sigma), _ = curve_fit(_gauss, centres[keep], counts[keep], p0=p0, maxfev=5000)
        except RuntimeError:  # no convergence: keep the percentile estimate
            break
        sigma = abs(sigma)
    return float(mu), float(sigma)


def _clipped_estimate(values: np.ndarray, state: dict) -> NoiseEstimate:
    t = min(state["t_pos"], state["t_neg"]) if np.isfinite(state["t_neg"]) else state["t_pos"]
    n_zero, n_neg = int(np.sum(values == 0)), int(np.sum(values < 0))
    if n_neg < 5:
        return NoiseEstimate(np.nan, 0.0, "clipped-no-tail", True, t, state["zero_fraction"])
    share = n_neg / (n_zero + n_neg)
    if share >= 0.5:  # more negatives than zeroed pixels: an offset or artefacts, not zero-mean noise
        return NoiseEstimate(np.nan, 0.0, "clipped-negative-excess", True, t, state["zero_fraction"])
    k = -norm.ppf(share / (1.0 + share))  # solves Phi(-k) / Phi(k) = share
    return NoiseEstimate(float(t / k), 0.0, "clipped-count", True, t, state["zero_fraction"])


def estimate_noise(image: np.ndarray) -> NoiseEstimate:
    """Estimate the noise of one (H, W) image in Jy/beam (see the module docstring)."""
    values = np.asarray(image, dtype=np.float64)
    values = values[np.isfinite(values)]
    state = clip_state(values)
    if state["clipped"]:
        return _clipped_estimate(values, state)
    gap = (0.0, 0.0)
    if state["zero_fraction"] > 1e-3:  # partly zeroed: leave out the zeroed range
        values = values[values != 0]
        gap = (-np.nan_to_num(state["t_neg"]), np.nan_to_num(state["t_pos"]))
    mu, sigma = fit_lower_gaussian(values, gap=gap)
    threshold = state["t_pos"] if state["zero_fraction"] > 1e-3 else np.nan
    return NoiseEstimate(sigma, mu, "gaussian-fit", False, threshold, state["zero_fraction"])


def patch_rms(image: np.ndarray, n_patches: int = 5, size: int = 20, seed: int = 0) -> float:
    """RMS from ``n_patches`` source-free square patches (the paper's manual ds9 check, automated).

    Patches on a regular grid count as source-free when no pixel deviates from the patch
    median by more than 4 robust sigma of the whole image; ``n_patches`` of them are drawn
    at random (seeded) and the median of their standard deviations is returned. NaN for a
    clipped image or when too few source-free patches exist.
    """
    image = np.asarray(image, dtype=np.float64)
    if clip_state(image)["clipped"]:
        return np.nan
    finite = image[np.isfinite(image)]
    robust = 1.4826 * np.median(np.abs(finite - np.median(finite)))
    patches = []
    for y in range(0, image.shape[0] - size + 1, size):
        for x in range(0, image.shape[1] - size + 1, size):
            patch = image[y:y + size, x:x + size]
            if np.isfinite(patch).all() and np.abs(patch - np.median(patch)).max() < 4 * robust:
                patches.append(patch)
    if len(patches) < n_patches:
        return np.nan
    chosen = np.random.default_rng(seed).choice(len(patches), n_patches, replace=False)
    return float(np.median([patches[i].std() for i in chosen]))


def sigma_clip_rms(image: np.ndarray, sigma: float = 3.0) -> float:
    """Standard deviation from astropy ``sigma_clipped_stats`` (NaN for a clipped image)."""
    image = np.asarray(image, dtype=np.float64)
    if clip_state(image)["clipped"]:
        return np.nan
    return float(sigma_clipped_stats(image[np.isfinite(image)], sigma=sigma, maxiters=10)[2])


def band_noise(image: np.ndarray, flags=()) -> dict:
    """:func:`estimate_noise` of one band image as a dict, with no RMS of its own (NaN, method
    ``flagged:<flag>``) when the reader's ``flags`` say it is truncated or in a negative bowl."""
    est = dataclasses.asdict(estimate_noise(image))
    distrust = [f for f in flags if f.split(":")[0] in UNTRUSTED_FLAGS]
    if distrust:
        est.update(rms=float("nan"), method=f"flagged:{distrust[0].split(':')[0]}")
    return est


def noise_table(sources, seed: int = 0):
    """One row per (source, band): the histogram-fit RMS and the two cross-checks.

    Parameters
    ----------
    sources : iterable of :class:`halo_utils.data.Source`

    Returns
    -------
    pandas.DataFrame with columns source, split, label, band, rms, mean, method, clipped,
    threshold, zero_fraction, patch_rms, sigma_clip_rms (Jy/beam)

    A band whose reader flagged it as truncated (``zero_region``) or sitting in a negative bowl
    (``negative_median``) gets no RMS of its own (rms NaN, method ``flagged:<flag>``): the
    pipeline then uses the training median of that band, as for any image whose RMS cannot be told.
    """
    import pandas as pd

    rows = []
    for src in sources:
        for i, band in enumerate(BAND_KEYS):
            image = src.cube[..., i]
            est = band_noise(image, src.flags.get(band, []))
            rows.append(dict(source=src.name, split=src.split, label=src.label, band=band,
                             **est, patch_rms=patch_rms(image, seed=seed),
                             sigma_clip_rms=sigma_clip_rms(image)))
    return pd.DataFrame(rows)


def recovery(table, fields):
    """Estimated against injected RMS on a mock sky.

    Parameters
    ----------
    table : :func:`noise_table` of the mock sky's sources
    fields : :func:`halo_utils.sky.mock.read_fields` of the same sky (columns ``rms_<band>``)

    Returns
    -------
    ``table`` with columns true_rms (Jy/beam) and rel_error (estimated / injected - 1; NaN
    where the estimator gives no RMS)
    """
    true = np.array([fields.loc[row.source, f"rms_{row.band}"] for row in table.itertuples()])
    return table.assign(true_rms=true, rel_error=table.rms.to_numpy() / true - 1)
