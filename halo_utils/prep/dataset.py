"""The processed dataset: clipped, augmented, cut-out images of every source with labels and splits.

``build_dataset`` runs the whole pre-processing chain of the radio-halo paper in one
reproducible pass (same seed -> byte-identical arrays):

1. noise RMS per source and band (:mod:`halo_utils.prep.noise`) on the native images; images whose
   RMS cannot be told use the median of the training sources in that band (recorded);
2. resample the four bands onto one sky grid (:mod:`halo_utils.data.grid`; ``pixel_arcmin`` None
   keeps the published pixel-by-pixel stacking);
3. clip below ``clip_sigma * rms`` (one level for every image, at or above the published
   clip levels, so the clip floor carries no label), optionally cap above ``cap_sigma * rms``;
4. augment the field, cut the central cut-out (:mod:`halo_utils.prep.augment`);
5. optionally add the paper's empty side cut-outs of halo images as class 0, augmented alike;
6. fit the normalisers on training sources only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np

from .. import paths
from ..config import seeded
from ..constants import BAND_KEYS
from ..data.grid import field_size, regrid, wide_field_size
from ..paths import atomic_write
from ..sky.mock import sky_root
from .augment import augment, augment_sides, variants
from .noise import noise_table
from .preprocess import LogNormaliser, MinMaxNormaliser, band_rms, clip_cube
from .splits import published_split

__all__ = ["dataset_root", "HaloDataset", "build_dataset", "source_field", "subtracted", "source_rms", "rms_with_fallback", "source_rng",
           "training_halos"]

_FLIPS = ("none", "horizontal", "vertical")
_ARRAYS = ("jy", "label", "source", "split", "angle", "flip", "brightness", "empty")


def dataset_root(source: str, gleam_dir=None, seed: int = 0) -> Path:
    """The folder to read: the published images (``source='gleam'``: ``gleam_dir`` or ``$HALO_GLEAM_DIR``)
    or the mock sky of ``seed`` (``'mock'``, written on first use)."""
    if source == "gleam":
        return paths.gleam_dir(gleam_dir)
    if source == "mock":
        return sky_root(seed)
    raise ValueError(f"source must be 'gleam' (the published images) or 'mock' (the mock sky), not {source!r}")


@dataclasses.dataclass
class HaloDataset:
    """Cut-outs of all sources; row i of every array describes image i."""

    jy: np.ndarray  # (n, 64, 64, B) float32, Jy/beam after clipping and augmentation
    label: np.ndarray  # (n,) int8, 1 = halo class
    source: np.ndarray  # (n,) str, source name
    split: np.ndarray  # (n,) str, 'train' / 'val' / 'test'
    angle: np.ndarray  # (n,) float32, rotation in degrees
    flip: np.ndarray  # (n,) int8, index into ('none', 'horizontal', 'vertical')
    brightness: np.ndarray  # (n,) float32, brightness factor
    empty: np.ndarray  # (n,) bool, an "empty" side cut-out of a halo image (paper protocol)
    rms: dict  # source -> (B,) rms used for clipping, Jy/beam
    rms_fallback: dict  # source -> list of bands whose rms came from the training median
    minmax: MinMaxNormaliser  # classifier scaling, fitted on train
    log: LogNormaliser  # generative-model scaling, fitted on train

    def minmax_inputs(self, mask=None) -> np.ndarray:
        """(n, 64, 64, B) linear min-max scaled, in [0, 1] for training sources (other splits may leave the range):
        the paper's classifier inputs; the classifiers here default to :meth:`log_inputs` (``TrainConfig.scaling``)."""
        return self.minmax.transform(self.jy if mask is None else self.jy[mask])

    def log_inputs(self, mask=None) -> np.ndarray:
        """(n, 64, 64, B) log-scaled, in [-1, 1] for training sources: the generators' inputs and (mapped to
        [0, 1]) the classifiers'."""
        return self.log.transform(self.jy if mask is None else self.jy[mask])

    def classifier_inputs(self, scaling: str = "log", mask=None) -> np.ndarray:
        """(n, 64, 64, B) classifier inputs, in [0, 1] for training sources: ``scaling`` 'log' is
        :meth:`log_inputs` mapped from [-1, 1] to [0, 1] (lifts faint diffuse emission out of the
        zeros), 'minmax' is :meth:`minmax_inputs` (the paper's)."""
        if scaling not in ("log", "minmax"):
            raise ValueError(f"unknown scaling {scaling!r}; choose 'log' or 'minmax'")
        return self.minmax_inputs(mask) if scaling == "minmax" else (self.log_inputs(mask) + 1) / 2

    def sizes(self) -> dict:
        """Image counts: split -> class -> n (Table 3 of the paper)."""
        out = {}
        for part in ("train", "val", "test"):
            sel = self.split == part
            if sel.any():
                out[part] = {str(c): int(np.sum(sel & (self.label == c))) for c in (1, 0)}
        return out

    def fingerprint(self) -> str:
        """SHA-256 over every array, to check reproducibility."""
        digest = hashlib.sha256()
        for name in _ARRAYS:
            digest.update(np.ascontiguousarray(getattr(self, name)).tobytes())
        return digest.hexdigest()

    def save(self, path):
        """Write all arrays and the normalisation metadata to one ``.npz`` (atomic)."""
        arrays = {k: getattr(self, k) for k in _ARRAYS}
        meta = dict(minmax=self.minmax.to_dict(), log=self.log.to_dict(), bands_mhz=list(BAND_KEYS),
                    rms={k: v.tolist() for k, v in self.rms.items()}, rms_fallback=self.rms_fallback)
        arrays["meta"] = np.array(json.dumps(meta))
        return atomic_write(path, lambda tmp: np.savez(open(tmp, "wb"), **arrays))


def source_rms(noise, split: dict, clip_sigma: float | None = None) -> tuple:
    """RMS per source (B,), and the bands where the training median had to stand in.

    Where the RMS cannot be told, the median RMS of the training sources in that band stands in;
    with ``clip_sigma``, it is raised to ``threshold / clip_sigma`` where the image's published
    clip threshold is higher, so that re-clipping at ``clip_sigma * rms`` removes the published
    floor in every image (otherwise its threshold, which differs by class, would survive).
    """
    fallback = band_rms(noise, split)
    stand_in = np.array([fallback[b] for b in BAND_KEYS])
    table = noise.pivot(index="source", columns="band")  # one row per source, sorted; a band missing is NaN
    values, bad = rms_with_fallback(table["rms"][list(BAND_KEYS)], table["threshold"][list(BAND_KEYS)], stand_in,
                                    clip_sigma)
    rms = dict(zip(table.index, values))
    used = {name: [b for b, miss in zip(BAND_KEYS, row) if miss] for name, row in zip(table.index, bad)}
    return rms, used


def rms_with_fallback(rms, threshold, fallback, clip_sigma: float | None = None) -> tuple:
    """Per-band RMS (B,) of one image set (or (n, B) of n sets), with ``fallback`` (B,) where the RMS cannot be told.

    With ``clip_sigma`` the stand-in is raised to ``threshold / clip_sigma`` (the image's own clip
    threshold, Jy/beam), as :func:`source_rms` explains. Returns (rms, boolean mask of the bands that fell back).
    """
    values = np.asarray(rms, dtype=np.float64)
    bad = ~(np.isfinite(values) & (values > 0))
    stand_in = np.asarray(fallback, dtype=np.float64)
    if clip_sigma:
        stand_in = np.fmax(stand_in, np.asarray(threshold, dtype=np.float64) / clip_sigma)
    return np.where(bad, stand_in, values), bad


def source_rng(seed: int, name: str) -> np.random.Generator:
    """A generator that depends only on (seed, source name), not on the order of sources."""
    return seeded(seed, name)


def source_field(src, config, rms, wide: bool = False) -> np.ndarray:
    """The clipped (H, W, B) field of a source that the augmentation works on, Jy/beam.

    With ``config.pixel_arcmin`` the bands are first resampled onto one grid: a field that
    holds every rotation of the cut-out, or (``wide``) the largest field inside every band,
    for the side cut-outs; with ``config.subtract_compact`` its compact sources are then removed
    (:mod:`halo_utils.prep.compact`). Without a grid, the published 300x300 pixel-stacked cube.
    """
    if config.pixel_arcmin is None:
        if config.subtract_compact:
            raise ValueError("subtract_compact needs a common sky grid (pixel_arcmin): the beam is set per band there")
        cube = src.cube
    else:
        size = wide_field_size(src, config.pixel_arcmin) if wide else field_size(config.cutout)
        cube = subtracted(regrid(src, config.pixel_arcmin, size), rms, src.radec[1], config)
    return clip_cube(cube, rms, config.clip_sigma, config.cap_sigma)


def subtracted(cube: np.ndarray, rms, dec: float, config) -> np.ndarray:
    """``cube`` (H, W, B) on the common grid with its compact sources removed if ``config.subtract_compact``, else as is."""
    if not config.subtract_compact:
        return cube
    from .compact import subtract

    return subtract(cube, rms, dec, config.pixel_arcmin)


def build_dataset(sources, config, seed: int = 0, split: dict | None = None, noise=None,
                  empty_cutouts: bool = False) -> HaloDataset:
    """Run the pre-processing chain (module docstring) on a list of :class:`~halo_utils.data.Source`.

    Parameters
    ----------
    sources : list of Source
    config : :class:`halo_utils.config.DataConfig`
    seed : augmentation seed
    split : source name -> 'train' / 'val' / 'test'; default the published split
    noise : optional precomputed :func:`~halo_utils.prep.noise.noise_table`
    empty_cutouts : add the paper's empty side cut-outs of halo images as class 0
    """
    split = published_split(sources) if split is None else split
    noise = noise_table(sources) if noise is None else noise
    rms, fallback = source_rms(noise, split, config.clip_sigma)
    parts = []
    for src in sorted(sources, key=lambda s: s.name):
        params = variants(config, source_rng(seed, src.name))
        images = augment(source_field(src, config, rms[src.name]), params, config.cutout)
        parts.append((images, src, params, False))
        if empty_cutouts and src.label == 1:
            sides = augment_sides(source_field(src, config, rms[src.name], wide=True), params, config.cutout)
            parts.append((sides, src, [p for p in params for _ in range(4)], True))
    return _assemble(parts, split, rms, fallback, config.log_reference_sigma)


def _assemble(parts, split, rms, fallback, log_k) -> HaloDataset:
    def column(fn, dtype):
        return np.concatenate([np.full(len(images), fn(src, empty), dtype=dtype) for images, src, _, empty in parts])

    params = [p for *_, ps, _ in parts for p in ps]
    jy = np.concatenate([images for images, *_ in parts])
    ds = HaloDataset(
        jy=jy,
        label=column(lambda s, e: 0 if e else s.label, np.int8),
        source=column(lambda s, e: s.name, object).astype(str),
        split=column(lambda s, e: split[s.name], object).astype(str),
        angle=np.array([p[0] for p in params], np.float32),
        flip=np.array([_FLIPS.index(p[1]) for p in params], np.int8),
        brightness=np.array([p[2] for p in params], np.float32),
        empty=column(lambda s, e: e, bool),
        rms=rms, rms_fallback={k: v for k, v in fallback.items() if v},
        minmax=MinMaxNormaliser(), log=LogNormaliser(),
    )
    train = ds.split == "train"
    if not train.any():
        raise ValueError("no training sources: normalisation statistics come from training sources only")
    ds.minmax.fit(jy[train])
    x0 = np.median(np.stack([rms[n] for n in np.unique(ds.source[train])]), axis=0)
    ds.log.fit(jy[train], log_k * x0)
    return ds


def training_halos(ds: HaloDataset, bands=(0, 1, 2, 3)) -> tuple:
    """What the generative models learn from: the training halos only (never val/test, never empty cut-outs).

    Returns
    -------
    images : (n, 64, 64, len(bands)) float32, log-scaled to [-1, 1]
    labels : (n,) int, index of the image's source in ``names`` (the conditional label)
    names : sorted source names
    """
    mask = (ds.split == "train") & (ds.label == 1) & ~ds.empty
    if not mask.any():
        raise ValueError("no training halo images to learn from")
    names = sorted(set(ds.source[mask]))
    labels = np.searchsorted(names, ds.source[mask])
    return ds.log_inputs(mask)[..., list(bands)].astype(np.float32), labels, names
