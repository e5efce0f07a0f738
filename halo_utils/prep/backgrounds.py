"""A bank of real backgrounds: the published GLEAM fields on the common sky grid, and where a cut-out may be cut.

A detector trained on mock skies does not transfer to real ones: real noise, compact sources, artefacts and the
authors' clipping differ from the simulator's. Real fields are the background that does: every published field is
resampled onto the detector's grid over the largest square all four bands cover (``wide_field_size``, about
140'), and cut-outs of the detector's size are drawn from it at random positions — but only where

* no halo-class source lies within its exclusion radius (:func:`exclusion_arcmin`: 1.5 Mpc at the source's
  redshift, larger than the largest halo in ``SCIENCE.md``; ``default_arcmin`` where z is unknown) of the cut-out;
* no pixel of the cut-out lies in the field of a source outside the bank (a held-out source's field, outskirts
  included, is never trained on).

The centres of the non-halo clusters are kept (``hard``): hard negatives, and hosts for injected halos.

    bank = build_bank(sources, names, config, rms, thresholds, z)
    field, y, x = bank.draw(rng)              # a random allowed cut-out centre
    cut = bank.cutout(field, y, x)            # (64, 64, B) Jy/beam, as published (the authors' clip kept)
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ..constants import BAND_KEYS, kpc_per_arcmin
from ..data.grid import regrid, sky_grid, wide_field_size
from .dataset import subtracted

__all__ = ["EXCLUSION_KPC", "DEFAULT_EXCLUSION_ARCMIN", "Bank", "exclusion_arcmin", "wide_fields", "build_bank",
           "field_extent_deg"]

EXCLUSION_KPC = 1500.0
"""Radius kept free around a halo-class source, kpc: half of a 3 Mpc halo (giant halos are 1-2 Mpc, rarely >2 Mpc)."""
DEFAULT_EXCLUSION_ARCMIN = 30.0
"""Radius where the redshift is unknown, arcmin: 1.5 Mpc at z = 0.04, below the nearest halo cluster of the set."""


def exclusion_arcmin(z, kpc: float = EXCLUSION_KPC, default_arcmin: float = DEFAULT_EXCLUSION_ARCMIN) -> float:
    """The radius (arcmin) around a halo-class source at redshift ``z`` (NaN or None: unknown) that no cut-out may touch."""
    if z is None or not np.isfinite(z) or z <= 0:
        return float(default_arcmin)
    return float(kpc / kpc_per_arcmin(z))


@dataclasses.dataclass
class Bank:
    """Real fields on the detector's grid and the cut-out centres allowed in each; row i describes field i."""

    names: list  # source name of each field
    fields: list  # (S, S, B) float32 Jy/beam on the common grid, as published (the authors' clip kept)
    radec: np.ndarray  # (n, 2) field centres, degrees
    rms: np.ndarray  # (n, B) noise per band, Jy/beam (the pipeline's, with its fallback)
    threshold: np.ndarray  # (n, B) the authors' clip level per band, Jy/beam; NaN where the image was not clipped
    allowed: list  # (S, S) bool: where a cut-out's centre may sit
    hard: list  # (field, y, x) of the non-halo cluster centres among the fields
    size: int  # side of a cut-out, px
    pixel_arcmin: float

    @property
    def n_allowed(self) -> int:
        """Allowed cut-out centres, all fields."""
        return int(sum(a.sum() for a in self.allowed))

    def independent(self) -> int:
        """How many cut-outs with no pixel in common the bank holds (a greedy packing on a grid of one cut-out's
        side, fields overlapping on the sky counted once)."""
        kept = []
        for i, allowed in enumerate(self.allowed):
            ys, xs = np.nonzero(allowed)
            if not len(ys):
                continue
            grid = np.arange(ys.min(), ys.max() + 1, self.size), np.arange(xs.min(), xs.max() + 1, self.size)
            wcs = sky_grid(*self.radec[i], self.pixel_arcmin, allowed.shape[0])
            for y in grid[0]:
                for x in grid[1]:
                    if not allowed[y, x]:
                        continue
                    radec = np.array([float(v) for v in wcs.pixel_to_world_values(x, y)])
                    if all(_box_apart(radec, other, self.size * self.pixel_arcmin / 60) for other in kept):
                        kept.append(radec)
        return len(kept)

    @functools.cached_property
    def _centres(self) -> tuple:
        """(field, y, x) arrays of every allowed centre."""
        where = [np.nonzero(a) for a in self.allowed]
        field = np.concatenate([np.full(len(ys), i) for i, (ys, _) in enumerate(where)]).astype(int)
        return field, np.concatenate([ys for ys, _ in where]).astype(int), np.concatenate([xs for _, xs in where]).astype(int)

    def draw(self, rng) -> tuple:
        """A random allowed centre (field, y, x), every allowed pixel of the bank equally likely."""
        field, ys, xs = self._centres
        if not len(field):
            raise ValueError(f"the background bank of {self.names} has no allowed cut-out position")
        j = int(rng.integers(len(field)))
        return int(field[j]), int(ys[j]), int(xs[j])

    def cutout(self, field: int, y: int, x: int) -> np.ndarray:
        """The (size, size, B) cut-out of ``field`` centred on pixel (y, x), Jy/beam."""
        half = self.size // 2
        return self.fields[field][y - half:y - half + self.size, x - half:x - half + self.size]

    def world(self, field: int, y: float, x: float) -> tuple:
        """(RA, Dec) in degrees of pixel (y, x) of ``field``."""
        wcs = sky_grid(*self.radec[field], self.pixel_arcmin, self.fields[field].shape[0])
        return tuple(float(v) for v in wcs.pixel_to_world_values(x, y))


def _box_apart(a, b, side_deg: float) -> bool:
    """Two square cut-outs of ``side_deg`` centred on ``a`` and ``b`` (RA, Dec in degrees) share no sky."""
    dra = ((a[0] - b[0] + 180) % 360 - 180) * np.cos(np.radians((a[1] + b[1]) / 2))
    return abs(dra) >= side_deg or abs(a[1] - b[1]) >= side_deg


def field_extent_deg(src, pixel_arcmin: float) -> float:
    """Side of a source's field on the common grid (the largest square all its bands cover), degrees."""
    return wide_field_size(src, pixel_arcmin) * pixel_arcmin / 60


def _distance_arcmin(grid: tuple, radec) -> np.ndarray:
    """(S, S) angular distance (arcmin) of every pixel of a grid (its (RA, Dec) arrays in degrees) from (RA, Dec); of
    one position for a grid of two numbers."""
    ra, dec = np.radians(np.asarray(grid[0], float)), np.radians(np.asarray(grid[1], float))
    ra0, dec0 = np.radians(radec[0]), np.radians(radec[1])
    cos = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0)
    return np.degrees(np.arccos(np.clip(cos, -1, 1))) * 60


def wide_fields(sources, config, rms: dict) -> dict:
    """Source -> its field on the common grid (:func:`field_extent_deg` wide; compact sources removed if
    ``config.subtract_compact``), Jy/beam, not clipped by the pipeline: what :func:`build_bank` cuts from."""
    out = {}
    for src in sources:
        side = wide_field_size(src, config.pixel_arcmin)
        out[src.name] = subtracted(regrid(src, config.pixel_arcmin, side), rms[src.name], src.radec[1], config)
    return out


def build_bank(sources, names, config, rms: dict, thresholds: dict, z: dict, kinds: dict | None = None,
               size: int | None = None, keep_out: bool = True, fields: dict | None = None,
               exclusion_kpc: float = EXCLUSION_KPC, default_arcmin: float = DEFAULT_EXCLUSION_ARCMIN) -> Bank:
    """The bank of the fields of ``names`` among ``sources``.

    With ``keep_out`` (a training bank) no cut-out has a pixel in the field of a source not in ``names``. A bank of
    held-out fields needs no such rule: its cut-outs lie inside its own fields, where no training cut-out reaches.

    Parameters
    ----------
    sources : every :class:`~halo_utils.data.Source` (positions and classes of all of them are used for exclusion)
    names : the sources whose fields feed the bank (a fold's training sources)
    config : :class:`~halo_utils.config.DataConfig` (grid pixel, cut-out side)
    rms, thresholds : source -> (B,) noise and the authors' clip level per band, Jy/beam (NaN: not clipped)
    z : source -> redshift (NaN where unknown), for the exclusion radius of halo-class sources
    fields : :func:`wide_fields` of the sources, if already made
    kinds : source -> kind (:func:`halo_utils.data.catalogue.source_kind`); the non-halo clusters' centres become ``hard``
    """
    size = size or config.cutout
    view_arcmin = size / np.sqrt(2) * config.pixel_arcmin  # a cut-out's half-diagonal
    names, half = sorted(names), size // 2
    inside = [s for s in sources if s.name in set(names)]
    outside = [s for s in sources if s.name not in set(names)]
    fields = fields or wide_fields(inside, config, rms)
    cuts, radec, allowed, hard = [], [], [], []
    for i, src in enumerate(sorted(inside, key=lambda s: s.name)):
        side = wide_field_size(src, config.pixel_arcmin)
        wcs = sky_grid(*src.radec, config.pixel_arcmin, side)
        ok = np.zeros((side, side), bool)
        ok[half:side - size + half + 1, half:side - size + half + 1] = True  # the whole cut-out inside the field
        ys, xs = np.mgrid[:side, :side]
        grid = wcs.pixel_to_world_values(xs, ys)
        span = _distance_arcmin(grid, src.radec).max()  # no pixel is farther than this from the field's centre
        keep_out_of = [(o, exclusion_arcmin(z.get(o.name), exclusion_kpc, default_arcmin)) for o in sources if o.label == 1]
        keep_out_of += [(o, field_extent_deg(o, config.pixel_arcmin) * 60 / np.sqrt(2))  # the field's circumscribed circle
                        for o in (outside if keep_out else ())]
        for other, radius in keep_out_of:
            arcmin = radius + view_arcmin
            if _distance_arcmin(src.radec, other.radec) - span <= arcmin + 1:  # else every pixel is farther (margin 1')
                ok &= _distance_arcmin(grid, other.radec) > arcmin
        cuts.append(fields[src.name])
        radec.append(src.radec)
        allowed.append(ok)
        if kinds and kinds.get(src.name) == "cluster without reported diffuse emission" and ok[side // 2, side // 2]:
            hard.append((i, side // 2, side // 2))
    ordered = sorted(inside, key=lambda s: s.name)
    return Bank(names=[s.name for s in ordered], fields=cuts, radec=np.array(radec, float).reshape(-1, 2),
                rms=np.array([rms[s.name] for s in ordered], float).reshape(-1, len(BAND_KEYS)),
                threshold=np.array([thresholds[s.name] for s in ordered], float).reshape(-1, len(BAND_KEYS)),
                allowed=allowed, hard=hard, size=size, pixel_arcmin=config.pixel_arcmin)
