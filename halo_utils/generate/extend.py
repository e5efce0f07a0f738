"""Generated halos in a fold's training images: the ``extend`` hook of the cross-validation.

Each fold's generator learns that fold's training halos only (:mod:`halo_utils.generate.folds`). Its samples
either *join* class 1 of the fold's training images (augmentation: the paper's I', A', D') or *replace* the real
halos there (train on synthetic, test on real: :mod:`halo_utils.judge.tstr`). Validation and test images stay real.
Generated images go through the fold's normalisation and the pipeline's clip, as real ones do.

    extend = extender("ddpm", 1.0, sources, settings, training, profile, generator_seed=0)
    cv = crossval.run(sources, "I", settings, training, seed, workdir, extend=extend)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import paths
from .folds import GENERATORS, clip_like_data, draw, fold_pool
from .generated import band_normaliser

__all__ = ["AUGMENT_WITH", "CONTROL", "generator_root", "extender"]

CONTROL = "real"
"""The control arm: as many extra class-1 images, drawn from the fold's own real training halos (turned, mirrored)."""
AUGMENT_WITH = ("none", CONTROL) + GENERATORS

def generator_root(profile: str) -> Path:
    """``data/models/generators/<profile>``: the cached per-fold generators and their sample pools."""
    return paths.data_dir() / "models" / "generators" / profile


def extender(kind: str, per_real: float, sources, config, training, profile: str, generator_seed: int,
             draw_seed: int = 0, replace: bool = False, root=None, progress: bool = True):
    """The ``extend`` hook of :func:`halo_utils.detect.crossval.fit_kfold` that adds (or swaps in) generated halos.

    Parameters
    ----------
    kind : a generator of :data:`halo_utils.generate.folds.GENERATORS`, or :data:`CONTROL` (``"real"``): extra
        views of the fold's own real training halos, to tell what generated halos add from what any extra
        class-1 images add
    per_real : generated images per real training-halo image of the fold (the paper's ratio is about 1)
    generator_seed : seed of the per-fold generators (shared by every classifier seed on the same folds)
    draw_seed : which pool images and turns a classifier gets (its own seed)
    replace : drop the real training halos (TSTR) instead of adding to them
    """
    if training.scaling != "log":
        raise ValueError(f"generated halos join log-scaled classifier inputs only, not scaling={training.scaling!r}")
    if kind == CONTROL and replace:
        raise ValueError("the real-halo control cannot replace the real halos (train on synthetic needs a generator)")
    root = generator_root(profile) if root is None else root

    def extend(ds, fold, train):
        real = train["label"] == 1
        n = int(round(per_real * real.sum()))
        seed = [draw_seed, fold["repeat"], fold["fold"]]
        if kind == CONTROL:
            out, info = _join(train, draw(dict(jy=train["x"][real]), n, seed), real, replace, f"extra:{kind}")
            return out, dict(info, generator=kind)
        pool = fold_pool(kind, sources, fold["split"], config, training.bands, profile, generator_seed, root, progress)
        jy = clip_like_data(draw(pool, n, seed), pool["meta"]["normaliser"], config)
        x = (band_normaliser(ds.log, training.bands).transform(jy) + 1) / 2
        out, info = _join(train, x, real, replace, f"generated:{kind}")
        return out, dict(info, generator=kind, key=pool["meta"]["key"], sampling=pool["meta"].get("sampling"),
                         pool_size=len(pool["jy"]), generator_seed=generator_seed,
                         generator_seconds=pool["meta"]["seconds"])

    return extend


def _join(train: dict, x: np.ndarray, real: np.ndarray, replace: bool, source: str) -> tuple:
    """``train`` with the images ``x`` (n, H, W, B), named ``source``, added to class 1 (and its real halos dropped
    if ``replace``)."""
    n = len(x)
    keep = ~real if replace else np.ones(len(real), bool)
    out = dict(x=np.concatenate([train["x"][keep], x]),
               y=np.concatenate([train["y"][keep], np.tile(np.float32([0, 1]), (n, 1))]),
               label=np.concatenate([train["label"][keep], np.ones(n, int)]),
               source=np.concatenate([train["source"][keep], np.full(n, source)]),
               empty=np.concatenate([train["empty"][keep], np.zeros(n, bool)]))
    return out, dict(n_generated=n, n_real_halo_images=int(real.sum()), replaced=replace)
