"""Generated images on disk: ``data/generated/<model>/<run>/samples.npz`` with their normalisation.

Each file holds the images as the model produced them (log-scaled to [-1, 1]), the same
images mapped back to Jy/beam, their conditioning labels, the bands and the
:class:`~halo_utils.prep.preprocess.LogNormaliser` that maps between the two, so the classifier
and the metrics code can load them without the generator.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..config import data_config
from ..data.images import read_dataset
from ..paths import atomic_write, data_dir
from ..prep.dataset import build_dataset, dataset_root, training_halos
from ..prep.preprocess import LogNormaliser
from ..prep.splits import protocol_split

__all__ = ["run_tag", "training_set", "samples_dir", "save_samples", "band_normaliser", "load_samples"]


def run_tag(bands) -> str:
    """The ``tag`` of a generator run's name (:func:`halo_utils.config.run_name`): ``b<bands>``, e.g. ``b0123``."""
    return f"b{''.join(map(str, bands))}"


def training_set(source: str, gleam_dir, seed: int, profile: str, bands) -> dict:
    """What a generator learns from: the training halos of the strict protocol for ``seed``.

    Returns
    -------
    dict with ``ds`` (the :class:`~halo_utils.prep.dataset.HaloDataset`, for its normaliser),
    ``images`` (n, 64, 64, len(bands)) in [-1, 1], ``labels`` (n,) source indices and
    ``names`` (the training sources the labels index)
    """
    sources = read_dataset(dataset_root(source, gleam_dir, seed))
    split, _ = protocol_split(sources, "strict", seed)
    ds = build_dataset(sources, data_config(profile), seed=seed, split=split)
    images, labels, names = training_halos(ds, bands)
    return dict(ds=ds, images=images, labels=labels, names=names)


def samples_dir(model: str, run: str) -> Path:
    """``data/generated/<model>/<run>``."""
    return data_dir() / "generated" / model / run


def save_samples(path, images: np.ndarray, normaliser, bands, labels=None, **meta) -> Path:
    """Write ``images`` (n, H, W, B) in [-1, 1] with their Jy/beam version (atomic).

    ``normaliser`` is the fitted LogNormaliser of the training data; ``bands`` the band
    indices (0 = 72-103 MHz) the B channels stand for.
    """
    images = np.asarray(images, np.float32)
    bands = list(bands)
    if images.ndim != 4 or images.shape[-1] != len(bands):
        raise ValueError(f"images must be (n, H, W, {len(bands)}) for bands {bands}, not {images.shape}")
    scaled = band_normaliser(normaliser, bands)
    jy = scaled.inverse(images)
    labels = np.full(len(images), -1) if labels is None else np.asarray(labels)
    header = json.dumps(dict(bands=bands, normaliser=scaled.to_dict(), **meta), default=str)
    return atomic_write(path, lambda tmp: np.savez(open(tmp, "wb"), images=images, jy=jy, labels=labels,
                                                   meta=np.array(header)))


def band_normaliser(normaliser, bands):
    """The :class:`LogNormaliser` of ``bands`` (indices into the 4 bands) of a 4-band normaliser."""
    out = LogNormaliser()
    out.x0, out.low, out.high = (np.asarray(getattr(normaliser, k))[list(bands)] for k in ("x0", "low", "high"))
    return out


def load_samples(path) -> dict:
    """``images`` (n, H, W, B) in [-1, 1], ``jy`` (Jy/beam), ``labels`` and ``meta`` of a samples file."""
    with np.load(path, allow_pickle=False) as f:
        return dict(images=f["images"], jy=f["jy"], labels=f["labels"], meta=json.loads(str(f["meta"])))
