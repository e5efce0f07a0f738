"""Halos injected into real backgrounds: training and test images whose truth is known and whose sky is real.

Images come in pairs cut from one place of a :class:`~halo_utils.prep.backgrounds.Bank` (a random allowed
position or, ``hard_share`` of the time, a non-halo cluster's centre), turned by a multiple of 90 deg and maybe
mirrored: row ``2j + 1`` holds a halo of the mock population (:mod:`halo_utils.sky.population`) at its centre,
row ``2j`` the same cut-out without it — empty, or, ``decoy_share`` of the time, with a decoy (a ring or a blended
group of compact sources at halo-like flux density). The only difference between the classes is then the
emission put in, never the background.

Each band's emission is rendered on the cut-out's own grid with the band's beam at the field's declination. Where
the authors clipped the image, the noise under their clip is unknown: it is drawn again, beam-correlated at the
image's RMS (windows of one noise map per field and band) and held inside the clip, so a pixel rises above it with
the noise it would have had; both images of a pair get the same noise. Then the pipeline's own clip (``DataConfig.clip_sigma``) runs on both alike.

    images = Injected(bank, n=4000, seed=0, config=settings)
    x = images[rows]                    # (len(rows), 64, 64, B) Jy/beam, made when read
    x, truth = images.make(rows)        # and what each holds (pandas): kind, flux, size, redshift, peak S/N ...
    epoch3 = images.at_epoch(3)         # the same number of pairs, new draws
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np

from ..config import seeded
from ..constants import BAND_KEYS, PEAK_BAND
from ..sky.components import _kpc_to_px, injected_emission
from ..sky.instrument import beam, beam_kernel, correlated_noise, render
from .mockset import mock_sky_config
from .preprocess import clip_cube

__all__ = ["NOISE_SIDE", "Injected", "inject", "refilled"]


NOISE_SIDE = 256  # side of the noise map drawn once per field and band, px; cut-outs take windows of it


def refilled(image: np.ndarray, threshold: float, noise: np.ndarray) -> np.ndarray:
    """``image`` (H, W) with its clipped pixels (exact zeros) given ``noise`` (H, W) held inside (-threshold,
    threshold): clipping it again at ``threshold`` gives ``image`` back."""
    bound = np.nextafter(np.float32(threshold), np.float32(0))  # the largest float32 the clip zeroes
    return np.where(image == 0, np.clip(noise, -bound, bound), image).astype(np.float32)


def inject(cube: np.ndarray, model, rms, threshold, config, noise) -> np.ndarray:
    """A real cut-out (S, S, B) Jy/beam with emission ``model`` (B, S, S) Jy/beam added (None: nothing), through the
    pipeline's clip of ``config``; where the authors clipped a band (``threshold`` (B,) finite) its zeros are first
    refilled with ``noise(band)`` (S, S) held inside their clip. Returns a new (S, S, B) float32 array."""
    out = np.array(cube, np.float32)
    clip = np.inf if config.clip_sigma is None else config.clip_sigma
    for b in range(out.shape[-1]):
        clipped = np.isfinite(threshold[b]) and threshold[b] > 0
        if clipped and (model is not None or threshold[b] > clip * rms[b]):  # else the refill is clipped away again
            out[..., b] = refilled(out[..., b], threshold[b], noise(b))
        if model is not None:
            out[..., b] += model[b]
    if config.clip_sigma is not None or config.cap_sigma is not None:
        out = clip_cube(out, rms, config.clip_sigma, config.cap_sigma)
    return out


@dataclasses.dataclass(frozen=True)
class _Pair:
    field: int
    y: int
    x: int
    turns: int
    mirror: bool
    hard: bool


class Injected:
    """``n`` images (n // 2 pairs) of a bank, made when read; see the module docstring.

    Parameters
    ----------
    bank : :class:`~halo_utils.prep.backgrounds.Bank`
    n : images (even)
    seed, draw : the draws are those of (seed, draw); ``at_epoch(k)`` gives draw ``k``
    config : :class:`~halo_utils.config.DataConfig` (the pipeline's clip)
    decoy_share : share of the empty rows given a decoy
    hard_share : share of the pairs centred on a non-halo cluster's centre (if the bank has any)
    sky : :class:`~halo_utils.sky.mock.SkyConfig` fields to change for the injected emission
    """

    def __init__(self, bank, n: int, seed: int, config, decoy_share: float = 0.5, hard_share: float = 0.25,
                 draw: int = 0, sky: dict | None = None):
        if n % 2:
            raise ValueError(f"Injected images come in pairs: n must be even, not {n}")
        self.bank, self.n, self.seed, self.config, self.draw = bank, n, seed, config, draw
        self.decoy_share, self.hard_share, self.sky_overrides = decoy_share, hard_share, dict(sky or {})
        self.sky = mock_sky_config(config, population="balanced", **self.sky_overrides)
        self.label = np.arange(n) % 2
        self.shape = (n, bank.size, bank.size, len(BAND_KEYS))
        self._maps, self._beams = {}, {}

    def __len__(self) -> int:
        return self.n

    def at_epoch(self, epoch: int) -> "Injected":
        """The same bank and settings with the draws of training epoch ``epoch`` (epoch 0: these); the noise maps and
        beams, which do not depend on the draw, are shared rather than made again (and held again) every epoch."""
        out = Injected(self.bank, self.n, self.seed, self.config, self.decoy_share, self.hard_share, epoch,
                       self.sky_overrides)
        out._maps, out._beams = self._maps, self._beams
        return out

    def pair(self, j: int) -> _Pair:
        """Where pair ``j`` is cut: field, centre pixel, turns, mirror, whether on a cluster centre."""
        rng = seeded(self.seed, 41, self.draw, j)
        hard = bool(self.bank.hard) and rng.uniform() < self.hard_share
        if hard:
            field, y, x = self.bank.hard[int(rng.integers(len(self.bank.hard)))]
        else:
            field, y, x = self.bank.draw(rng)
        return _Pair(field, y, x, int(rng.integers(4)), bool(rng.uniform() < 0.5), hard)

    def __getitem__(self, rows) -> np.ndarray:
        return self.make(rows)[0]

    def make(self, rows) -> tuple:
        """(images (len(rows), S, S, B) float32 Jy/beam, truth table (pandas) with one row per image)."""
        import pandas as pd

        rows = np.arange(self.n)[rows]
        out = np.empty((len(rows), *self.shape[1:]), np.float32)
        truth = []
        for k, i in enumerate(rows):
            out[k], record = self._image(int(i))
            truth.append(record)
        return out, pd.DataFrame(truth)

    def _image(self, i: int) -> tuple:
        where, label = self.pair(i // 2), i % 2
        rng = seeded(self.seed, 43, self.draw, i)
        bank, centre = self.bank, (self.bank.size - 1) / 2
        components, cluster = [], {}
        if label == 1 or rng.uniform() < self.decoy_share:
            components, cluster = injected_emission(rng, f"pair{i // 2}", label, centre, self.sky)
        cube = bank.cutout(where.field, where.y, where.x)
        rms, threshold = bank.rms[where.field], bank.threshold[where.field]
        model = render(components, self._beams_of(where.field), (bank.size, bank.size),
                       self.sky.pixel_deg).astype(np.float32) if components else None
        cube = inject(cube, model, rms, threshold, self.config, lambda b: self._noise(where, b))
        cube = np.rot90(cube, where.turns, axes=(0, 1))
        cube = cube[:, ::-1] if where.mirror else cube
        return np.ascontiguousarray(cube), self._record(i, where, components, cluster, model, rms)

    def _noise(self, where: _Pair, band: int) -> np.ndarray:
        """The refill noise of a pair (both images alike) in one band: a window of the field's noise map at an offset,
        turn and mirror drawn for the pair."""
        rng = seeded(self.seed, 47, self.draw, where.field, where.y, where.x, band)
        size = self.bank.size
        y, x = rng.integers(NOISE_SIDE - size, size=2)
        window = np.rot90(self._noise_map(where.field, band)[y:y + size, x:x + size], int(rng.integers(4)))
        return window[:, ::-1] if rng.uniform() < 0.5 else window

    def _noise_map(self, field: int, band: int) -> np.ndarray:
        """Beam-correlated noise (NOISE_SIDE, NOISE_SIDE) of the field's RMS in ``band``, drawn once per (seed, field)."""
        if (field, band) not in self._maps:
            px = self.sky.pixel_deg * 60
            bmaj, bmin, bpa = self._beams_of(field)[band]
            rng = seeded(self.seed, 53, field, band)
            self._maps[field, band] = correlated_noise(rng, self.bank.rms[field, band], beam_kernel(
                bmaj / px, bmin / px, bpa), (NOISE_SIDE, NOISE_SIDE)).astype(np.float32)
        return self._maps[field, band]

    def _record(self, i, where, components, cluster, model, rms) -> dict:
        halo = next((c for c in components if c.kind == "halo"), None)
        kind = "none" if not components else halo.kind if halo else components[0].kind
        re_px = halo.size if halo else np.nan
        return dict(image=i, label=i % 2, host=self.bank.names[where.field], y=where.y, x=where.x,
                    on_cluster_centre=where.hard, kind=kind, z=cluster.get("z", np.nan),
                    m500=cluster.get("m500", np.nan),
                    flux_150=sum(c.flux_150 for c in components) if components else 0.0,
                    re_arcmin=re_px * self.sky.pixel_deg * 60,
                    re_kpc=re_px / _kpc_to_px(1.0, halo.z, self.sky.pixel_deg) if halo else np.nan,
                    peak_snr=0.0 if model is None else float(model[PEAK_BAND].max() / rms[PEAK_BAND]))

    def _beams_of(self, field: int) -> list:
        if field not in self._beams:
            dec = float(self.bank.radec[field][1])
            self._beams[field] = [beam(b, dec, self.sky) for b in range(len(BAND_KEYS))]
        return self._beams[field]

    def fingerprint(self) -> str:
        """SHA-1 naming the bank's fields and positions, the settings and the draws."""
        digest = hashlib.sha1()
        for name, field, allowed in zip(self.bank.names, self.bank.fields, self.bank.allowed):
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(field).tobytes())
            digest.update(np.packbits(allowed).tobytes())
        digest.update(np.ascontiguousarray(self.bank.rms).tobytes())
        digest.update(json.dumps(dict(n=self.n, seed=self.seed, draw=self.draw, decoy=self.decoy_share,
                                      hard=self.hard_share, sky=self.sky.to_dict(), hard_centres=self.bank.hard,
                                      config=self.config.to_dict()), sort_keys=True, default=str).encode())
        return digest.hexdigest()
