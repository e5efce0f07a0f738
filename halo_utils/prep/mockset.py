"""Training sets from the mock sky: thousands of labelled fields drawn straight onto the detector's grid.

A mock field is simulated at the size of the field the augmentation needs (``field_size(cutout)``,
93 px for a 64 px cut-out) with the grid's pixel, so no resampling is needed; it is then clipped
as the pipeline clips (``DataConfig.clip_sigma`` times the field's injected noise; ``None``: not
clipped) — on top of the published-like clip of the mock sky itself when ``SkyConfig.clip_k`` is
set. Fields are cached in shards of ``shard`` fields (``data/mockset/<hash>/shard<k>.npy`` and ``.json``,
written atomically): a stopped build resumes and a second call reads them. They are read from disk
only when indexed (:class:`Fields`), and training views are made as they are read (:class:`Views`),
so memory does not grow with the number of fields: 3,000 fields of 93 x 93 x 4 float32 are 415 MB
(396 MiB) on disk, 50,000 are 6.9 GB (6,599 MiB).

    sky = mock_sky_config(settings, clipped=False)
    train = build(3000, seed=0, config=settings, sky=sky)
    lazy = Views(train.fields, per_field=2, seed=0)   # lazy[rows]: cut-outs (len(rows), 64, 64, 4) Jy/beam
    x, index = views(train, per_field=2, seed=0)      # all of them in memory, and the field of each
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import paths
from ..config import seeded
from ..constants import BAND_KEYS, PEAK_BAND
from ..data.grid import field_size
from ..sky.instrument import beam, render
from ..sky.mock import SkyConfig, simulate_field
from .augment import crop_centre, rotate_cube
from .preprocess import clip_cube

if TYPE_CHECKING:  # annotations only: pandas is imported where it is used
    import pandas

__all__ = ["MockSet", "Fields", "Views", "mock_sky_config", "build", "views"]


@dataclasses.dataclass
class MockSet:
    """Mock fields on the detector's grid; row i of ``table`` describes ``fields[i]``."""

    fields: "Fields"  # (n, S, S, B) float32, Jy/beam, clipped as the pipeline clips; read from disk when indexed
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
    key = dict(seed=seed, shard=n_shard, clip_sigma=config.clip_sigma, cap_sigma=config.cap_sigma, sky=sky.to_dict())
    if config.subtract_compact:
        key["subtract_compact"] = True
    key = json.dumps(key, sort_keys=True, default=str)
    return paths.data_dir() / "mockset" / hashlib.sha1(key.encode()).hexdigest()[:12]


def _field(seed: int, index: int, config, sky: SkyConfig) -> tuple:
    """One simulated field, clipped by the pipeline's rule, and its table row (with the halo's peak S/N per beam)."""
    label = index % 2
    sim = simulate_field(seed, index, f"mock{seed}_{index:05d}", label, sky)
    row = dict(sim["field"])
    rms = np.array([row[f"rms_{b}"] for b in BAND_KEYS])
    cube = np.moveaxis(sim["cube"], 0, -1)
    if config.subtract_compact:
        from .compact import subtract

        cube = subtract(cube, rms, row["dec"], config.pixel_arcmin)
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
    """``n`` mock fields (alternately halo and not) of ``seed``, simulated into the cache (with a progress bar) or found
    there. The fields stay on disk (:class:`Fields`); only the table is read into memory."""
    import pandas as pd
    from tqdm.auto import tqdm

    folder = _folder(shard, seed, config, sky)
    files, counts, rows = [], [], []
    bar = tqdm(total=n, desc=f"mock fields (seed {seed})", disable=not progress)
    for k in range(int(np.ceil(n / shard))):
        stem = folder / f"shard{k:04d}"
        if not stem.with_suffix(".json").exists():
            _write_shard(stem, [_field(seed, i, config, sky) for i in range(k * shard, (k + 1) * shard)])
        take = min(shard, n - k * shard)
        files.append(stem.with_suffix(".npy"))
        counts.append(take)
        rows.append(pd.read_json(stem.with_suffix(".json"), orient="records").iloc[:take])
        bar.update(take)
    bar.close()
    return MockSet(Fields(files, counts), pd.concat(rows, ignore_index=True))


def _write_shard(stem: Path, made: list):
    """The fields (``.npy``) then the table (``.json``, the commit point), each written atomically."""
    import pandas as pd

    paths.atomic_write(stem.with_suffix(".npy"), lambda tmp: _save(tmp, np.stack([c for c, _ in made])))
    table = pd.DataFrame([r for _, r in made])
    paths.atomic_write(stem.with_suffix(".json"), lambda tmp: table.to_json(tmp, orient="records"))


def _save(path, array: np.ndarray):
    with open(path, "wb") as f:  # a file object: np.save would add ".npy" to a temporary file's name
        np.save(f, array)


class Fields:
    """Mock fields kept in their shard files and read when indexed: ``fields[i]`` (S, S, B), ``fields[rows]``
    (len(rows), S, S, B) float32 Jy/beam. Memory holds only what is read, so 50,000 fields (7 GB) train on a laptop."""

    def __init__(self, files: list, counts: list):
        self.files, self.counts = [Path(f) for f in files], list(counts)
        self.first = np.concatenate([[0], np.cumsum(self.counts)]).astype(int)
        layouts = [_layout(f) for f in self.files]
        self.offsets = [offset for offset, _ in layouts]
        self.shape, self.dtype = (int(self.first[-1]), *layouts[0][1][1:]), np.dtype(np.float32)
        self._digest = None

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def __getitem__(self, rows):
        if np.isscalar(rows):
            return self._read(int(rows))
        rows = np.arange(len(self))[rows]
        out = np.empty((len(rows), *self.shape[1:]), self.dtype)
        for j, i in enumerate(rows):
            out[j] = self._read(int(i))
        return out

    def __array__(self, dtype=None, copy=None):
        return self[:].astype(dtype or self.dtype, copy=False)

    def _read(self, i: int) -> np.ndarray:
        if not 0 <= i < len(self):
            raise IndexError(f"field {i} of {len(self)}")
        k = int(np.searchsorted(self.first, i, side="right")) - 1
        size = int(np.prod(self.shape[1:]))
        offset = self.offsets[k] + (i - int(self.first[k])) * size * self.dtype.itemsize
        return np.fromfile(self.files[k], self.dtype, count=size, offset=offset).reshape(self.shape[1:])

    def fingerprint(self) -> str:
        """SHA-1 over the fields, read one shard at a time (once: the files do not change)."""
        if self._digest is None:
            digest = hashlib.sha1()
            for k in range(len(self.files)):
                digest.update(np.ascontiguousarray(self[self.first[k]:self.first[k + 1]]).tobytes())
            self._digest = digest.hexdigest()
        return self._digest


def _layout(path: Path) -> tuple:
    """(byte offset of the data, shape) of a shard's ``.npy`` file; it must hold C-ordered float32 fields."""
    mapped = np.load(path, mmap_mode="r")  # reads the header only; no page of data is touched
    if mapped.dtype != np.float32 or not mapped.flags.c_contiguous:
        raise ValueError(f"{path}: expected C-ordered float32 fields, found {mapped.dtype}")
    return int(mapped.offset), mapped.shape


class Views:
    """``per_field`` random views of every field — a multiple of 90 deg, a mirror, then the central cut-out — made
    when read: ``views[rows]`` (len(rows), size, size, B) float32 Jy/beam; ``index`` (n * per_field,) each view's
    field. The draws are made once, from ``seed`` (and ``draw``, if given), so reading a view twice gives the same
    image; ``redrawn(k)`` gives the same fields with draw ``k``'s views (fresh views for training epoch ``k``; draw 0
    is the views of ``seed`` itself, as numpy's seeding ignores a trailing 0, so epoch 0 of a fresh-view training
    reads what a fixed-view training reads)."""

    def __init__(self, fields, per_field: int, seed: int, size: int = 64, draw: int | None = None):
        rng = seeded(seed, 31) if draw is None else seeded(seed, 31, draw)
        self.fields, self.size, self.per_field, self.seed = fields, size, per_field, seed
        self.index = np.repeat(np.arange(len(fields)), per_field)
        draws = np.array([(rng.integers(4), rng.uniform()) for _ in self.index], np.float64).reshape(-1, 2)
        self.turns, self.mirror = draws[:, 0].astype(int), draws[:, 1] < 0.5
        self.shape = (len(self.index), size, size, fields.shape[-1])

    def __len__(self) -> int:
        return len(self.index)

    def redrawn(self, draw: int) -> "Views":
        """The same fields, each seen through ``per_field`` other random views (draw ``draw`` of ``seed``)."""
        return Views(self.fields, self.per_field, self.seed, self.size, draw)

    def __getitem__(self, rows) -> np.ndarray:
        rows = np.arange(len(self))[rows]
        out = np.empty((len(rows), *self.shape[1:]), np.float32)
        for j, v in enumerate(rows):
            cube = rotate_cube(self.fields[self.index[v]], 90.0 * self.turns[v])
            cube = cube[:, ::-1] if self.mirror[v] else cube
            out[j] = np.moveaxis(crop_centre(np.moveaxis(cube, -1, 0), self.size), 0, -1)
        return out


def views(mocks: MockSet, per_field: int, seed: int, size: int = 64) -> tuple:
    """All the :class:`Views` of ``mocks`` in memory: (cut-outs (n * per_field, size, size, B) float32 Jy/beam,
    index of each view's field)."""
    lazy = Views(mocks.fields, per_field, seed, size)
    return lazy[:], lazy.index
