"""Upper limits: the flux density a halo would need in a cluster's own field for the detector to find it.

Radio astronomers publish, for clusters without a detected halo, the flux density at which mock halos injected
into the cluster's own image are recovered (Bonafede et al. 2017; Duchesne et al. 2021 for the MWA). Here the
halo is an exponential of the e-folding radius a cluster of that redshift and mass would have (the mock
population's r_e = 200 kpc (M500 / 6e14 Msun)^(1/3)), injected at the cluster's centre at a grid of 150 MHz flux
densities, ``per_flux`` times each (random shape, offset, turn, mirror and refill noise), and scored by the detector
that never saw the cluster. S50 and S90 are the flux densities at which 50 % and 90 % are found at the operating
threshold; P150 is the power they imply at the cluster's redshift.

    curve = detection_curve(score, bank, field, y, x, z=0.06, config=settings, seed=0)
    s50, s90 = flux_limit(curve, 0.5), flux_limit(curve, 0.9)
"""

from __future__ import annotations

import numpy as np

from ..config import seeded
from ..constants import BAND_KEYS, cosmology
from ..prep.injected import NOISE_SIDE, inject
from ..prep.mockset import mock_sky_config
from ..sky.components import Component, _kpc_to_px
from ..sky.instrument import beam, beam_kernel, correlated_noise, render
from ..sky.population import M_PIVOT

__all__ = ["FLUXES_JY", "ALPHA", "DEFAULT_Z", "halo", "detection_curve", "flux_limit", "power_150", "re_kpc"]

FLUXES_JY = tuple(np.geomspace(0.01, 10.0, 13).round(4))  # 150 MHz flux densities tried, Jy
ALPHA = -1.3  # spectral index of the injected halos (S ~ nu^alpha)
DEFAULT_Z = 0.1  # redshift assumed where none is known (the limit's power is then flagged)


def re_kpc(m500: float | None = None, pivot_kpc: float = 200.0) -> float:
    """The mock population's e-folding radius of a cluster of ``m500`` (1e14 Msun; None: the pivot mass), kpc."""
    return pivot_kpc * ((M_PIVOT if m500 is None or not np.isfinite(m500) else m500) / M_PIVOT) ** (1 / 3)


def halo(rng, flux: float, z: float, radius_kpc: float, centre: float, sky, alpha: float = ALPHA) -> Component:
    """An exponential halo of ``flux`` Jy at 150 MHz near pixel (centre, centre), shape and offset drawn as the mock
    population draws them."""
    x, y = centre + rng.normal(0, sky.halo_offset_px, 2)
    return Component("limit", "halo", float(x), float(y), float(flux), alpha, _kpc_to_px(radius_kpc, z, sky.pixel_deg),
                     float(rng.uniform(*sky.halo_axis_ratio)), float(rng.uniform(0, 180)), z=z)


def detection_curve(score, bank, field: int, y: int, x: int, z: float, config, seed: int, m500: float | None = None,
                    fluxes=FLUXES_JY, per_flux: int = 20, alpha: float = ALPHA, bands=None):
    """The share of injected halos found at each flux density in the cut-out of ``bank`` field ``field`` at (y, x).

    ``bands``: indices (into the four GLEAM bands) of the bank's bands, when it holds fewer than four.

    ``score(images) -> bool array``: images (n, S, S, B) Jy/beam after the pipeline's clip, True where found.
    Returns a pandas table: ``flux_150`` (Jy), ``n``, ``found``, ``share``; its first row, flux 0, is the cut-out with
    nothing injected (the same turns, mirrors and refill noise): how often the cluster alone is "found".
    """
    import pandas as pd

    sky = mock_sky_config(config, population="balanced")
    rng = seeded(seed, 59, field, y, x)
    size, centre = bank.size, (bank.size - 1) / 2
    rms, threshold = bank.rms[field], bank.threshold[field]
    bands = list(range(len(BAND_KEYS))) if bands is None else list(bands)
    beams = [beam(b, float(bank.radec[field][1]), sky) for b in range(len(BAND_KEYS))]
    px = sky.pixel_deg * 60
    maps = [correlated_noise(rng, rms[i], beam_kernel(beams[b][0] / px, beams[b][1] / px, beams[b][2]),
                             (NOISE_SIDE, NOISE_SIDE)).astype(np.float32) for i, b in enumerate(bands)]
    radius = re_kpc(m500)
    grid, images = (0.0, *fluxes), []
    for flux in grid:
        for _ in range(per_flux):
            # flux 0 draws a halo too (then zeroed): every row takes the same draws, so the empty row's turns,
            # mirrors and noise are those of the others
            model = render([halo(rng, max(flux, 1e-30), z, radius, centre, sky, alpha)], beams, (size, size),
                           sky.pixel_deg)[bands] * (flux > 0)
            oy, ox = rng.integers(NOISE_SIDE - size, size=2)
            cube = inject(bank.cutout(field, y, x), model.astype(np.float32), rms, threshold, config,
                          lambda b: maps[b][oy:oy + size, ox:ox + size])
            cube = np.rot90(cube, int(rng.integers(4)), axes=(0, 1))
            images.append(cube[:, ::-1] if rng.uniform() < 0.5 else cube)
    found = np.asarray(score(np.ascontiguousarray(np.stack(images))), bool).reshape(len(grid), per_flux)
    return pd.DataFrame(dict(flux_150=np.array(grid, float), n=per_flux, found=found.sum(axis=1),
                             share=found.mean(axis=1)))


def flux_limit(curve, level: float) -> float:
    """The 150 MHz flux density (Jy) at which the share found first reaches ``level``, interpolated in log flux on the
    running maximum of the curve; NaN if it never does (the limit lies above the grid) or if the cut-out with nothing
    injected (flux 0) is already found that often (no limit: the detector takes the cluster itself for a halo)."""
    empty = curve[curve.flux_150 <= 0]
    if len(empty) and empty.share.max() >= level:
        return float("nan")
    curve = curve[curve.flux_150 > 0]
    share = np.maximum.accumulate(curve.share.to_numpy())
    flux = curve.flux_150.to_numpy()
    above = np.flatnonzero(share >= level)
    if not len(above):
        return float("nan")
    k = int(above[0])
    if k == 0:
        return float(flux[0])
    f = (level - share[k - 1]) / (share[k] - share[k - 1])
    return float(np.exp(np.log(flux[k - 1]) + f * (np.log(flux[k]) - np.log(flux[k - 1]))))


def power_150(flux_jy: float, z: float, alpha: float = ALPHA) -> float:
    """Rest-frame 150 MHz power (W/Hz) of a source of ``flux_jy`` at 150 MHz at redshift ``z`` (S ~ nu^alpha): the
    inverse of :func:`halo_utils.sky.population.flux_density`."""
    d_l = cosmology().luminosity_distance(z).to_value("m")
    return float(flux_jy * 1e-26 * 4 * np.pi * d_l ** 2 / (1 + z) ** (1 + alpha))
