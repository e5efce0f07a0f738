"""Clipping, central cut-outs and the paper's two normalisations (with exact inverses).

Order of the pipeline (see :mod:`halo_utils.prep.dataset`): clip each band below
``clip_sigma * rms`` -> augment the full 300x300 image -> 64x64 central cut-out ->
normalise with statistics from training sources only.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from astropy.nddata import Cutout2D, NoOverlapError, PartialOverlapError

from ..constants import BAND_KEYS
from ..data.images import DataError

__all__ = ["band_rms", "clip_cube", "central_cutout", "side_cutouts",
           "MinMaxNormaliser", "LogNormaliser"]


def band_rms(noise_rows, split_of: dict) -> dict:
    """Per-band fallback RMS: median of the valid estimates of training sources (Jy/beam).

    Parameters
    ----------
    noise_rows : DataFrame from :func:`halo_utils.prep.noise.noise_table`
    split_of : source name -> 'train' / 'val' / 'test'
    """
    train = noise_rows[noise_rows.source.map(split_of) == "train"]
    return {band: float(np.nanmedian(train[train.band == band].rms)) for band in BAND_KEYS}


def clip_cube(cube: np.ndarray, rms, clip_sigma: float | None = 3.0, cap_sigma: float | None = None) -> np.ndarray:
    """Set pixels below ``clip_sigma * rms`` to zero, band by band; optionally saturate above ``cap_sigma * rms``.

    Parameters
    ----------
    cube : (H, W, B) Jy/beam
    rms : (B,) noise per band, Jy/beam (finite, > 0)
    clip_sigma : clip level in units of rms (None: no clipping; negative noise stays)
    cap_sigma : brightness cap in units of rms (None: no cap)
    """
    rms = np.asarray(rms, dtype=np.float32)
    if rms.shape != (cube.shape[-1],) or not np.all(np.isfinite(rms) & (rms > 0)):
        raise DataError(f"clip_cube needs one finite positive rms per band, got {rms}")
    out = cube.copy()
    if clip_sigma is not None:
        out[cube < clip_sigma * rms] = 0
    if cap_sigma is not None:
        np.minimum(out, np.float32(cap_sigma) * rms, out=out)
    return out


def central_cutout(image: np.ndarray, wcs=None, size: int = 64):
    """Central ``size`` x ``size`` cut-out of an (H, W) or (H, W, B) array with astropy ``Cutout2D``.

    Uses ``mode='strict'``: a cut-out that would fall off the image raises instead of
    being silently smaller. Returns ``(array, wcs)``; the WCS is that of the cut-out.
    """
    centre = ((image.shape[1] - 1) / 2.0, (image.shape[0] - 1) / 2.0)
    return _cutout(image, centre, size, wcs)


def _cutout(image, centre, size, wcs):
    planes = image[..., None] if image.ndim == 2 else image
    try:
        cuts = [Cutout2D(planes[..., b], centre, (size, size), wcs=wcs, mode="strict")
                for b in range(planes.shape[-1])]
    except (PartialOverlapError, NoOverlapError) as err:
        raise DataError(f"a {size}x{size} cut-out at pixel {centre} does not fit in an image of "
                        f"shape {image.shape[:2]}") from err
    data = np.stack([c.data for c in cuts], axis=-1)
    return (data[..., 0] if image.ndim == 2 else data), cuts[0].wcs


def side_cutouts(image: np.ndarray, size: int = 64, margin: int = 8) -> np.ndarray:
    """The paper's "empty" side cut-outs: four ``size`` cut-outs centred left/right/above/below.

    They sit half-way between the centre and the edge, away from the central halo.
    Returns (4, size, size, B).
    """
    h, w = image.shape[:2]
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    dy, dx = (h - size) / 2.0 - margin, (w - size) / 2.0 - margin
    centres = [(cx - dx, cy), (cx + dx, cy), (cx, cy - dy), (cx, cy + dy)]
    return np.stack([_cutout(image, c, size, None)[0] for c in centres])


_CHUNK = 256  # images per step of the normalisers: float64 temporaries of one chunk, not of the whole set


def _span(low, high):
    """high - low per band, 1 where a band is constant (so the transform stays finite)."""
    return np.where(high > low, high - low, 1.0)


@dataclasses.dataclass
class MinMaxNormaliser:
    """Per-band min-max to [0, 1] (classifier inputs); fitted on training images only."""

    low: np.ndarray = None  # (B,) Jy/beam
    high: np.ndarray = None  # (B,) Jy/beam

    def fit(self, x: np.ndarray) -> "MinMaxNormaliser":
        """x: (n, H, W, B) Jy/beam of training sources."""
        self.low = x.min(axis=(0, 1, 2)).astype(np.float64)
        self.high = x.max(axis=(0, 1, 2)).astype(np.float64)
        return self

    def transform(self, x):
        return ((x - self.low) / _span(self.low, self.high)).astype(np.float32)

    def inverse(self, y):
        """Back to Jy/beam."""
        return (np.asarray(y, np.float64) * _span(self.low, self.high) + self.low).astype(np.float32)

    def to_dict(self):
        return dict(kind="minmax", low=self.low.tolist(), high=self.high.tolist())

    @classmethod
    def from_dict(cls, values: dict, bands=None) -> "MinMaxNormaliser":
        """From :meth:`to_dict` output; ``bands`` (indices) keeps those bands only."""
        pick = slice(None) if bands is None else list(bands)
        return cls(np.asarray(values["low"], np.float64)[pick], np.asarray(values["high"], np.float64)[pick])


@dataclasses.dataclass
class LogNormaliser:
    """The generative models' scaling: y = log10(1 + x / x0), min-max over training, then to [-1, 1].

    ``x0`` (B,) is a per-band reference flux, by default one noise RMS (Jy/beam), so the
    faintest surviving emission lands near log10(4) and bright sources are compressed.
    """

    x0: np.ndarray = None  # (B,) Jy/beam
    low: np.ndarray = None  # (B,) of the log-scaled training values
    high: np.ndarray = None

    def fit(self, x: np.ndarray, x0) -> "LogNormaliser":
        """x: (n, H, W, B) Jy/beam of training sources, read in chunks (memory: one chunk in float64)."""
        self.x0 = np.asarray(x0, dtype=np.float64)
        lows, highs = [], []
        for i in range(0, len(x), _CHUNK):
            logged = self._log(x[i:i + _CHUNK])
            lows.append(logged.min(axis=(0, 1, 2)))
            highs.append(logged.max(axis=(0, 1, 2)))
        self.low, self.high = np.min(lows, axis=0), np.max(highs, axis=0)
        return self

    def _log(self, x):
        return np.log10(1.0 + np.maximum(np.asarray(x, np.float64), 0.0) / self.x0)

    def transform(self, x):
        """To [-1, 1] (training range), float32, chunk by chunk along the first axis."""
        out = np.empty(np.shape(x), np.float32)
        for i in range(0, len(out), _CHUNK):
            out[i:i + _CHUNK] = 2.0 * (self._log(x[i:i + _CHUNK]) - self.low) / _span(self.low, self.high) - 1.0
        return out

    def inverse(self, y):
        """Back to Jy/beam (exact for inputs >= 0, i.e. clipped images)."""
        logged = (np.asarray(y, np.float64) + 1.0) / 2.0 * _span(self.low, self.high) + self.low
        return ((10.0 ** logged - 1.0) * self.x0).astype(np.float32)

    def to_dict(self):
        return dict(kind="log", x0=self.x0.tolist(), low=self.low.tolist(), high=self.high.tolist())

    @classmethod
    def from_dict(cls, values: dict, bands=None) -> "LogNormaliser":
        """From :meth:`to_dict` output; ``bands`` (indices) keeps those bands only."""
        pick = slice(None) if bands is None else list(bands)
        return cls(*(np.asarray(values[k], np.float64)[pick] for k in ("x0", "low", "high")))
