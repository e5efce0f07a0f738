"""A mock population a detector cannot cheat on (``SkyConfig.population = "balanced"``).

In the classic mock sky a halo field holds a halo and a non-halo field a radio galaxy, a ring or
nothing: "something bright at the centre" or "total flux near the centre" tells the classes apart
without looking at morphology. Here every field draws the same central content whatever its class
(a radio galaxy, a bright central galaxy or nothing), and every non-halo field gets a **decoy**
whose 150 MHz flux density is drawn exactly as a halo's would be: a blended group of compact
sources (the confuser of a 2' beam) or an ORC-like ring. The flux within 15', the central S/N and
the filled fraction then have the same distribution in both classes (``tests/test_population.py``
checks it); what differs is the shape of the emission.

Halo power follows a P150–M500 relation of the form measured on LoTSS-DR2 (Cuciti et al. 2023,
A&A 680, A30): log10 P150 = log10 P0 + B log10(M500 / 6e14 Msun) + N(0, scatter), with M500
log-uniform over ``m500_range``. B = 3.5 and P0 = 10^25 W/Hz are **assumed** — values inside the
ranges quoted in ``SCIENCE.md`` (slope 3–4, P150 ~ 1e24–1e26 W/Hz), not the paper's fit, which could
not be read offline. The e-folding radius scales as r_e = r0 (M500 / 6e14)^(1/3) with 0.1 dex scatter
(r0 = 200 kpc, inside the 100–400 kpc of Murgia et al. 2009). Flux density: S150 = P150 (1 + z)^(1 + alpha)
/ (4 pi D_L^2) for S ~ nu^alpha.
"""

from __future__ import annotations

import numpy as np

from ..constants import cosmology

__all__ = ["halo_power", "flux_density", "cluster_draw", "draw_balanced", "decoy"]

M_PIVOT = 6.0  # 1e14 Msun


def halo_power(m500: float, rng, config) -> float:
    """log10 P150 (W/Hz) of a halo in a cluster of ``m500`` (1e14 Msun), with the relation's scatter."""
    log_p0, slope, scatter = config.p150_relation
    return float(log_p0 + slope * np.log10(m500 / M_PIVOT) + rng.normal(0, scatter))


def flux_density(log_power: float, z: float, alpha: float) -> float:
    """S150 in Jy of a source of log10 P150 (W/Hz) at redshift ``z`` with spectral index ``alpha`` (S ~ nu^alpha)."""
    d_l = cosmology().luminosity_distance(z).to_value("m")
    return float(10 ** log_power * (1 + z) ** (1 + alpha) / (4 * np.pi * d_l ** 2) / 1e-26)


def cluster_draw(rng, config) -> dict:
    """One cluster of the balanced population: ``z``, ``m500`` (1e14 Msun), a halo's spectral index ``alpha``, 150 MHz
    flux density ``flux`` (Jy, from the P150-M500 relation) and e-folding radius ``re_kpc``."""
    z = float(rng.uniform(*config.z))
    m500 = float(np.exp(rng.uniform(*np.log(config.m500_range))))
    alpha = float(rng.uniform(*config.halo_alpha))
    flux = flux_density(halo_power(m500, rng, config), z, alpha)
    re_kpc = float(config.halo_re_at_pivot_kpc * (m500 / M_PIVOT) ** (1 / 3) * 10 ** rng.normal(0, 0.1))
    return dict(z=z, m500=m500, alpha=alpha, flux=flux, re_kpc=re_kpc)


def draw_balanced(rng, name: str, label: int, config, parts) -> tuple:
    """The central components and redshift of one field of the balanced population.

    ``parts``: the classic drawing helpers of :mod:`halo_utils.sky.mock` (``halo``, ``radio_galaxy``, ``ring``,
    ``group``, ``bcg``). Returns (components, z, cluster dict: the central content, M500 and the drawn halo-like
    flux density, e-folding radius and spectral index, which a non-halo field's decoy carries instead).
    """
    centre = (config.size - 1) / 2
    c = cluster_draw(rng, config)
    z, flux, re_kpc = c["z"], c["flux"], c["re_kpc"]
    u = rng.uniform()
    if u < config.radio_galaxy_fraction:
        central, kind = parts["radio_galaxy"](rng, name, centre, z, config), "radio-galaxy"
    elif u < config.radio_galaxy_fraction + config.bcg_fraction:
        central, kind = [parts["bcg"](rng, name, centre, z, config)], "bcg"
    else:
        central, kind = [], "none"
    if label == 1:
        extra = [parts["halo"](name, centre, z, flux, c["alpha"], re_kpc, rng, config)]
    else:
        extra = decoy(rng, name, centre, c, config, parts)
    return central + extra, z, dict(central=kind, m500=c["m500"], drawn_flux_150=flux, drawn_re_kpc=re_kpc,
                                    drawn_alpha=c["alpha"])


def decoy(rng, name: str, centre: float, cluster: dict, config, parts) -> list:
    """A non-halo field's decoy for ``cluster`` (:func:`cluster_draw`): an ORC-like ring (``config.ring_fraction``
    of them) or a blended group of compact sources, at ``config.decoy_flux_scale`` times the halo's flux density."""
    flux = cluster["flux"] * config.decoy_flux_scale
    if rng.uniform() < config.ring_fraction:
        return parts["ring"](rng, name, centre, config, flux=flux)
    return parts["group"](rng, name, centre, cluster["z"], flux, cluster["re_kpc"], config)
