"""One generator per cross-validation fold, trained on that fold's training halos only, cached.

A classifier evaluated on a fold must not learn from halos that its generator saw in the fold's
validation or test sources. So each fold gets its own generator, trained on the halo images of
its training sources, and a pool of samples drawn once; classifiers of any seed then draw from
the pool. Generators are cached per (generator, its settings, the fold's training sources, the
data settings, bands, seed) under ``data/models/generators/`` and resume when stopped.

    pool = fold_pool("ddpm", sources, split, settings, bands, profile, seed, root)
    jy = draw(pool, n, seed)   # (n, 64, 64, B) Jy/beam

A sweep trains its generators ahead of the classifiers, each in its own process, from a job file
(:func:`halo_utils.studies.augmentation.generator_runs`)::

    python -m halo_utils.generate.folds data/runs/generators/ddpm_<key>.json
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from .. import cli
from ..paths import only_once
from ..prep.dataset import build_dataset, training_halos
from ..prep.preprocess import clip_cube
from .ddpm import DDPM, SAMPLING, ddpm_config
from .generated import load_samples, save_samples

__all__ = ["GENERATORS", "fold_settings", "fold_key", "fold_pool", "draw", "clip_like_data", "main"]

GENERATORS = ("ddpm",)
"""Generators that can be trained per fold. The WGAN-GP and the GLEAM CVAE are not wired in yet (see deviations)."""

_FOLD_DDPM = {
    "smoke": {},
    # a third of the parameters of the `cpu` DDPM of 03_ddpm and 2,000 steps: ~0.25 s per step on 2 cores
    "cpu": dict(widths=(16, 32, 64), attention=(False, True, True), n_res=1, groups=4, train_steps=2000,
                checkpoint_every=250),
    "paper": {},
}
POOL_PER_REAL = 1.0
"""Samples drawn per training halo image of the fold; classifiers asking for more reuse them (with other rotations)."""
_BATCH = 256  # images per sampling call (memory of the paper-size U-Net)


def fold_settings(kind: str, profile: str):
    """The settings of a per-fold generator of ``kind`` in ``profile`` (the notebook's, made cheaper for ``cpu``)."""
    if kind not in GENERATORS:
        raise ValueError(f"generator {kind!r} cannot be trained per fold; choose one of {GENERATORS}")
    return ddpm_config(profile, **_FOLD_DDPM[profile])


def fold_key(kind: str, settings, halos, data_config, bands, seed: int) -> tuple:
    """Two 16-hex-digit names of one per-fold generator: of its network (what it is, what it learns from, its seed)
    and of its samples (the network's name and the sampler's settings)."""
    def digest(value) -> str:
        return hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]

    train = digest(dict(kind=kind, settings=settings.network_settings(), halos=sorted(halos),
                        data=data_config.to_dict(), bands=list(bands), seed=seed))
    return train, digest(dict(train=train, **{k: settings.to_dict()[k] for k in SAMPLING}))


def fold_pool(kind: str, sources, split: dict, config, bands, profile: str, seed: int, root,
              progress: bool = True) -> dict:
    """The sample pool of the generator of one fold (trained and sampled on first use, then read).

    Parameters
    ----------
    sources : the labelled sources; ``split`` maps each to 'train' / 'val' / 'test' (the fold)
    config : :class:`~halo_utils.config.DataConfig` of the classifier (the generator learns the same cut-outs)
    bands : band indices the generator learns jointly (the classifier's)
    seed : the generator's seed (its training images' augmentation, weights, noise and samples)
    root : folder of the cached generators

    Returns
    -------
    :func:`~halo_utils.generate.generated.load_samples` of ``<root>/<kind>_<key>/pool_<sampling key>.npz``: ``images``
    in [-1, 1],
    ``jy`` (n, 64, 64, B) Jy/beam, ``meta`` (generator, key, sampling, halos, n_real, settings, seconds)
    """
    settings = fold_settings(kind, profile)
    halos = [s.name for s in sources if s.label == 1 and split[s.name] == "train"]
    key, sampling = fold_key(kind, settings, halos, config, bands, seed)
    folder = Path(root) / f"{kind}_{key}"
    pool = folder / f"pool_{sampling}.npz"
    with only_once(pool, wait_s=48 * 3600) as mine:  # runs of a sweep started together train each generator once
        if mine:
            start = time.perf_counter()
            ds = build_dataset(sources, config, seed=seed, split=split)
            images, _, names = training_halos(ds, bands)
            model = DDPM(settings, images, seed)
            model.train(folder / "train")
            n = int(np.ceil(POOL_PER_REAL * len(images)))
            samples = np.concatenate([model.sample(min(_BATCH, n - i), seed=seed + i, progress=progress)
                                      for i in range(0, n, _BATCH)])
            save_samples(pool, samples, ds.log, bands, generator=kind, key=key, sampling=sampling, halos=names,
                         n_real=len(images), seed=seed, settings=settings.to_dict(),
                         seconds=time.perf_counter() - start)
    return load_samples(pool)


def draw(pool: dict, n: int, seed) -> np.ndarray:
    """``n`` images (n, H, W, B) Jy/beam from a pool, each turned by a random multiple of 90° and maybe mirrored.

    Without replacement while the pool lasts; beyond it, with replacement (the turns make most repeats new images).
    """
    rng = np.random.default_rng(seed)
    jy = pool["jy"]
    pick = rng.choice(len(jy), n, replace=n > len(jy))
    turns, mirror = rng.integers(4, size=n), rng.integers(2, size=n)
    out = np.stack([np.rot90(jy[i], k) for i, k in zip(pick, turns)])
    out[mirror == 1] = out[mirror == 1, :, ::-1]
    return np.ascontiguousarray(out, dtype=np.float32)


def clip_like_data(jy: np.ndarray, normaliser: dict, config) -> np.ndarray:
    """Generated images (n, H, W, B) Jy/beam clipped as the pipeline clips the real ones it learnt from.

    The real cut-outs are zero below ``config.clip_sigma`` times their noise; a generator only approaches that
    (a faint floor over the empty sky, a signature no real image has). The noise is the training sources' median
    per band: the normaliser's reference flux ``x0`` over ``config.log_reference_sigma``.
    """
    rms = np.asarray(normaliser["x0"], np.float64) / config.log_reference_sigma
    return clip_cube(np.asarray(jy, np.float32), rms, config.clip_sigma, config.cap_sigma)


def main(argv=None):
    """Train one fold's generator and draw its pool, as a job file says: ``kind``, ``profile``, ``data_config``
    (a :class:`~halo_utils.config.DataConfig` as a dict), ``bands``, ``seed``, ``split`` (source -> part), ``gleam_dir``
    and ``root`` (the arguments of :func:`fold_pool`)."""

    from ..config import DataConfig
    from ..data.images import read_dataset

    parser = cli.parser(__spec__.name, main.__doc__)
    parser.add_argument("job", type=Path, help="the job file (JSON)")
    path = parser.parse_args(argv).job
    job = json.loads(path.read_text())
    missing = sorted({"kind", "profile", "data_config", "bands", "seed", "split", "gleam_dir", "root"} - set(job))
    if missing:
        parser.error(f"the job {path} lacks {missing}")
    sources = read_dataset(job["gleam_dir"])
    pool = fold_pool(job["kind"], sources, job["split"], DataConfig.from_dict(job["data_config"]), job["bands"],
                     job["profile"], job["seed"], job["root"])
    print(f"{job['kind']} {pool['meta']['key']}: {len(pool['jy'])} samples, {pool['meta']['seconds']:.0f} s")


if __name__ == "__main__":
    main()
