"""Training sets from the mock sky: thousands of labelled fields drawn straight onto the detector's grid.

A mock field is simulated at the size of the field the augmentation needs (``field_size(cutout)``,
93 px for a 64 px cut-out) with the grid's pixel, so no resampling is needed; it is then clipped
as the pipeline clips (``DataConfig.clip_sigma`` times the field's injected noise; ``None``: not
clipped) — on top of the published-like clip of the mock sky itself when ``SkyConfig.clip_k`` is
set. Fields are cached in shards of ``shard`` fields (``data/mockset/<hash>/shard<k>.npz``, written
atomically): a stopped build resumes and a second call reads them. 3,000 fields of 93 x 93 x 4
float32 take 415 MB.

    sky = mock_sky_config(settings, clipped=False)
    train = build(3000, seed=0, config=settings, sky=sky)
    x, index = views(train, per_field=2, seed=0)      # cut-outs (n, 64, 64, 4) Jy/beam, field of each
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from pathlib import Path

import numpy as np

from .. import paths
from ..constants import BAND_KEYS
from ..data.grid import field_size
from ..sky.instrument import beam, render
from ..sky.mock import SkyConfig, simulate_field
from .augment import crop_centre, rotate_cube
from .preprocess import clip_cube

__all__ = ["MockSet", "mock_sky_config", "build", "views"]

PEAK_BAND = 2  # 139-170 MHz: the band whose peak S/N per beam describes a halo


@dataclasses.dataclass
class MockSet:
    """Mock fields on the detector's grid; row i of ``table`` describes ``fields[i]``."""

    fields: np.ndarray  # (n, S, S, B) float32, Jy/beam, clipped as the pipeline clips
    table: "pandas.DataFrame"  # name, label, kind, central, z, m500, halo_* columns, peak_snr, rms_<band>

    @property
    def rms(self) -> np.ndarray:
        """(n, B) injected noise per field and band, Jy/beam."""
        return self.table[[f"rms_{b}" for b in BAND_KEYS]].to_numpy(np.float64)


def mock_sky_config(config, clipped: bool = False, population: str = "balanced", **overrides) -> SkyConfig:
    """The :class:`~halo_utils.sky.mock.SkyConfig` of training fields for a :class:`~halo_utils.config.DataConfig`.

    ``clipped``: clip the mock images as the published ones were (|x| < k rms, k in 2-3.5) before the
    pipeline's own clip; False: unclipped, as SkyView delivers.
    """
    return SkyConfig(size=field_size(config.cutout), pixel_deg=config.pixel_arcmin / 60, population=population,
                     clip_k=SkyConfig.clip_k if clipped else None, **overrides)


def _folder(n_shard: int, seed: int, config, sky: SkyConfig) -> Path:
    key = json.dumps(dict(seed=seed, shard=n_shard, clip_sigma=config.clip_sigma, cap_sigma=config.cap_sigma,
                          sky=sky.to_dict()), sort_keys=True, default=str)
    return paths.data_dir() / "mockset" / hashlib.sha1(key.encode()).hexdigest()[:12]


def _field(seed: int, index: int, config, sky: SkyConfig) -> tuple:
    """One simulated field, clipped by the pipeline's rule, and its table row (with the halo's peak S/N per beam)."""
    label = index % 2
    sim = simulate_field(seed, index, f"mock{seed}_{index:05d}", label, sky)
    row = dict(sim["field"])
    rms = np.array([row[f"rms_{b}"] for b in BAND_KEYS])
    cube = np.moveaxis(sim["cube"], 0, -1)
    if config.clip_sigma is not None or config.cap_sigma is not None:
        cube = clip_cube(cube, rms, config.clip_sigma, config.cap_sigma)
    halo = [c for c in sim["components"] if c.kind in ("halo", "mini-halo")]
    peak = 0.0
    if halo:
        beams = [beam(b, row["dec"], sky) for b in range(len(BAND_KEYS))]
        peak = float(render(halo, beams, (sky.size, sky.size), sky.pixel_deg)[PEAK_BAND].max() / rms[PEAK_BAND])
    row.update(name=row.pop("field"), peak_snr=peak)
    return cube.astype(np.float32), row


def build(n: int, seed: int, config, sky: SkyConfig, shard: int = 500, progress: bool = True) -> MockSet:
    """``n`` mock fields (alternately halo and not) of ``seed``, from the cache or simulated (with a progress bar)."""
    import pandas as pd
    from tqdm.auto import tqdm

    folder = _folder(shard, seed, config, sky)
    cubes, rows = [], []
    bar = tqdm(total=n, desc=f"mock fields (seed {seed})", disable=not progress)
    for k in range(int(np.ceil(n / shard))):
        path = folder / f"shard{k:04d}.npz"
        if not path.exists():
            made = [_field(seed, i, config, sky) for i in range(k * shard, (k + 1) * shard)]
            table = pd.DataFrame([r for _, r in made])
            paths.atomic_write(path, lambda tmp: np.savez(open(tmp, "wb"), fields=np.stack([c for c, _ in made]),
                                                          table=np.array(table.to_json(orient="records"))))
        with np.load(path, allow_pickle=False) as saved:
            take = min(shard, n - k * shard)
            cubes.append(saved["fields"][:take])
            rows.append(pd.read_json(io.StringIO(str(saved["table"])), orient="records").iloc[:take])
        bar.update(take)
    bar.close()
    return MockSet(np.concatenate(cubes), pd.concat(rows, ignore_index=True))


def views(mocks: MockSet, per_field: int, seed: int, size: int = 64) -> tuple:
    """``per_field`` random views of every field: a multiple of 90 deg and a mirror, then the central cut-out.

    Returns (cut-outs (n * per_field, size, size, B) float32 Jy/beam, index of each view's field).
    """
    rng = np.random.default_rng([seed, 31])
    index = np.repeat(np.arange(len(mocks.fields)), per_field)
    out = np.empty((len(index), size, size, mocks.fields.shape[-1]), np.float32)
    for j, i in enumerate(index):
        cube = rotate_cube(mocks.fields[i], 90.0 * rng.integers(4))
        cube = cube[:, ::-1] if rng.uniform() < 0.5 else cube
        out[j] = np.moveaxis(crop_centre(np.moveaxis(cube, -1, 0), size), 0, -1)
    return out, index
