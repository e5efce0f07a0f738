"""Hand-made features of each source: what the baseline learns from and what the shortcut audit tabulates.

From the same processed field the networks see (common grid, clipped at ``clip_sigma``,
optional cap), per band: the central S/N (peak within 5' of the centre over the noise RMS),
the summed S/N within 15' and the filled fraction (share of non-zero pixels) within 15'; and
three spectral slopes (log ratios of the summed S/N of neighbouring bands). 15 features,
computed per fold because the noise RMS of images whose RMS cannot be told comes from that
fold's training sources.

:func:`central_peak_snr` is what an astronomer reads off an image at the cluster centre: the
brightest pixel within 3' over the noise RMS at 139-170 MHz. It holds the halo's own peak S/N per
beam plus whatever compact source and noise lie there, so for a halo peaking within 3' of the
centre it is an upper bound on the halo's peak (up to noise), and it is measured the same way on
real and on mock fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..constants import BAND_KEYS, PEAK_BAND
from ..data.grid import field_size, regrid
from .preprocess import clip_cube

if TYPE_CHECKING:  # annotations only: pandas is imported where it is used
    import pandas

__all__ = ["FEATURES", "unclipped_fields", "features", "central_peak_snr", "central_peaks"]

FEATURES = ([f"central_snr_{b}" for b in BAND_KEYS] + [f"sum_snr_15_{b}" for b in BAND_KEYS]
            + [f"filled_15_{b}" for b in BAND_KEYS]
            + [f"slope_{a}_{b}" for a, b in zip(BAND_KEYS[:-1], BAND_KEYS[1:])])


def unclipped_fields(sources, config) -> dict:
    """source -> ((H, W, 4) field before clipping, (4,) pixel size in arcmin), on the common grid if any."""
    out = {}
    for src in sources:
        if config.pixel_arcmin is None:
            out[src.name] = (src.cube, np.array(src.pixel_deg) * 60)
        else:
            size = field_size(config.cutout)
            out[src.name] = (regrid(src, config.pixel_arcmin, size), np.full(len(BAND_KEYS), config.pixel_arcmin))
    return out


def _radius_arcmin(shape, pixel_arcmin: float) -> np.ndarray:
    y, x = np.indices(shape)
    return np.hypot(y - (shape[0] - 1) / 2, x - (shape[1] - 1) / 2) * pixel_arcmin


def features(fields: dict, rms: dict, config, memo: dict | None = None) -> "pandas.DataFrame":
    """The 15 :data:`FEATURES` of every source (rows indexed by source name).

    ``memo`` (a dict kept by the caller for these ``fields`` and ``config``) holds each source's row by its RMS, so
    folds and label permutations that give a source the same RMS compute it once.
    """
    import pandas as pd

    memo = {} if memo is None else memo
    rows = {}
    for name, (field, pixel) in fields.items():
        key = (name, np.asarray(rms[name], np.float64).tobytes())
        if key not in memo:
            memo[key] = _source_features(field, pixel, rms[name], config)
        rows[name] = memo[key]
    return pd.DataFrame.from_dict(rows, orient="index", columns=FEATURES)


def _source_features(field: np.ndarray, pixel: np.ndarray, rms, config) -> list:
    """The 15 features of one field (H, W, B) of pixels ``pixel`` (B,) arcmin, with noise ``rms`` (B,) Jy/beam."""
    clipped = clip_cube(field, rms, config.clip_sigma, config.cap_sigma)
    snr = clipped / np.asarray(rms, np.float32)
    central, summed, filled = [], [], []
    for b in range(snr.shape[-1]):
        r = _radius_arcmin(snr.shape[:2], pixel[b])
        central.append(snr[..., b][r <= 5].max())
        summed.append(snr[..., b][r <= 15].sum() * (pixel[b] / pixel[0]) ** 2)
        filled.append(np.mean(snr[..., b][r <= 15] > 0))
    logs = np.log10(np.maximum(summed, 0.0) + 1.0)  # unclipped: a sum below zero is noise, no emission
    return [*central, *summed, *filled, *np.diff(logs)]


def central_peak_snr(field: np.ndarray, rms, pixel_arcmin: float, radius_arcmin: float = 3.0,
                     band: int = PEAK_BAND) -> float:
    """The largest S/N within ``radius_arcmin`` of the centre of one band of a field.

    Parameters
    ----------
    field : (H, W, B) Jy/beam, on one grid of ``pixel_arcmin`` (arcmin per pixel)
    rms : (B,) noise per band, Jy/beam
    """
    image = field[..., band]
    return float(image[_radius_arcmin(image.shape, pixel_arcmin) <= radius_arcmin].max() / rms[band])


def central_peaks(fields, rms: np.ndarray, pixel_arcmin: float, chunk: int = 256, **kwargs) -> np.ndarray:
    """:func:`central_peak_snr` of every field of ``fields`` ((n, H, W, B), read ``chunk`` at a time, e.g. a lazy
    :class:`~halo_utils.prep.mockset.Fields`) with ``rms`` (n, B): (n,) float."""
    out = np.empty(len(fields))
    for start in range(0, len(fields), chunk):
        for i, field in enumerate(fields[start:start + chunk], start):
            out[i] = central_peak_snr(field, rms[i], pixel_arcmin, **kwargs)
    return out
