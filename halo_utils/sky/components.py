"""What a mock field holds: its components (halo, central galaxies, decoys, compact sources), drawn per field.

:func:`draw_components` draws the components of one field for the classic or the balanced
population (:mod:`halo_utils.sky.population`); :class:`Component` is one of them, as a row of
``truth.csv``. Positions and sizes are in pixels of the mock grid; flux densities in Jy at 150 MHz.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from ..constants import cosmology

if TYPE_CHECKING:
    from .mock import SkyConfig

__all__ = ["REFERENCE_MHZ", "Component", "log_uniform", "draw_components", "injected_emission"]

REFERENCE_MHZ = 150.0


@dataclasses.dataclass(frozen=True)
class Component:
    """One sky component, as a row of ``truth.csv``. Positions and sizes in pixels."""

    field: str  # field name
    kind: str  # 'halo', 'mini-halo', 'bcg', 'compact', 'core', 'lobe', 'wing', 'ring'
    x: float  # pixel column of the centre (0-based)
    y: float  # pixel row of the centre
    flux_150: float  # Jy at 150 MHz
    alpha: float  # spectral index, S ~ nu^alpha
    size: float = 0.0  # e-folding radius (halo), Gaussian sigma (lobe) or radius (ring); 0 = point
    axis_ratio: float = 1.0  # minor / major
    angle: float = 0.0  # major-axis position angle, degrees from +x towards +y
    width: float = 0.0  # ring width (Gaussian sigma), pixels
    z: float = float("nan")  # redshift, when the component has one

    @property
    def shape(self) -> str:
        """The brightness shape it is rendered with: 'point', 'exponential', 'ring' or 'gaussian'."""
        if self.size == 0:
            return "point"
        return {"halo": "exponential", "mini-halo": "exponential", "ring": "ring"}.get(self.kind, "gaussian")

    def flux(self, nu_mhz: float) -> float:
        """Flux density in Jy at ``nu_mhz``."""
        return self.flux_150 * (nu_mhz / REFERENCE_MHZ) ** self.alpha


def log_uniform(rng, lo_hi):
    """A draw uniform in log between ``lo_hi[0]`` and ``lo_hi[1]``."""
    lo, hi = lo_hi
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _kpc_to_px(kpc: float, z: float, pixel_deg: float) -> float:
    arcmin_per_kpc = cosmology().arcsec_per_kpc_proper(z).value / 60
    return kpc * arcmin_per_kpc / (pixel_deg * 60)


def _compact_sources(rng, name: str, config: SkyConfig) -> list:
    """Poisson number of point sources, uniform positions, dN/dS ~ S^-slope, alpha ~ N(mean, sd)."""
    n = rng.poisson(config.compact_density_deg2 * config.field_deg2)
    lo, hi = config.compact_flux_jy
    g = 1 - config.compact_slope
    flux = (lo ** g + rng.uniform(size=n) * (hi ** g - lo ** g)) ** (1 / g)
    xy = rng.uniform(0, config.size - 1, (n, 2))
    alpha = rng.normal(*config.compact_alpha, n)
    return [Component(name, "compact", float(x), float(y), float(s), float(a))
            for (x, y), s, a in zip(xy, flux, alpha)]


def _halo(rng, name: str, centre: float, z: float, config: SkyConfig) -> list:
    """A giant halo, or a mini-halo around a bright central galaxy."""
    mini = rng.uniform() < config.mini_halo_fraction
    x, y = centre + rng.normal(0, config.halo_offset_px, 2)
    re_kpc = rng.uniform(*(config.mini_halo_re_kpc if mini else config.halo_re_kpc))
    flux = log_uniform(rng, config.halo_flux_jy) * (0.3 if mini else 1.0)
    halo = Component(name, "mini-halo" if mini else "halo", float(x), float(y), flux,
                     float(rng.uniform(*config.halo_alpha)), _kpc_to_px(re_kpc, z, config.pixel_deg),
                     float(rng.uniform(*config.halo_axis_ratio)), float(rng.uniform(0, 180)), z=z)
    if not mini:
        return [halo]
    bcg = Component(name, "bcg", float(x), float(y), log_uniform(rng, config.bcg_flux_jy),
                    float(rng.normal(-0.7, 0.2)), z=z)
    return [halo, bcg]


def _radio_galaxy(rng, name: str, centre: float, z: float, config: SkyConfig) -> list:
    """Core + two Gaussian lobes; some bent (lobes swept to one side), some X-shaped (two fainter wings)."""
    flux = log_uniform(rng, config.radio_galaxy_flux_jy)
    length = _kpc_to_px(rng.uniform(*config.radio_galaxy_size_kpc), z, config.pixel_deg)
    axis = rng.uniform(0, 180)
    bend = rng.uniform(20, 70) if rng.uniform() < 0.3 else 0.0
    lobe_alpha = float(rng.normal(-0.8, 0.1))
    parts = [Component(name, "core", centre, centre, 0.1 * flux, float(rng.normal(-0.3, 0.2)), z=z)]
    for angle in (axis + bend, axis + 180 - bend):
        t = np.radians(angle)
        parts.append(Component(name, "lobe", centre + 0.5 * length * np.cos(t), centre + 0.5 * length * np.sin(t),
                               0.45 * flux, lobe_alpha, max(0.6, 0.12 * length), 0.6, float(angle), z=z))
    if rng.uniform() < 0.2:  # X-shaped: a second, fainter and shorter pair
        for angle in (axis + 60, axis + 240):
            t = np.radians(angle)
            parts.append(Component(name, "wing", centre + 0.35 * length * np.cos(t),
                                   centre + 0.35 * length * np.sin(t), 0.1 * flux, lobe_alpha - 0.3,
                                   max(0.6, 0.1 * length), 0.5, float(angle), z=z))
    return parts


def _ring(rng, name: str, centre: float, config: SkyConfig, flux: float | None = None) -> list:
    radius = rng.uniform(*config.ring_radius_arcmin) / (config.pixel_deg * 60)
    flux = log_uniform(rng, config.ring_flux_jy) if flux is None else flux
    return [Component(name, "ring", centre, centre, flux,
                      float(rng.normal(-1.4, 0.2)), float(radius), float(rng.uniform(0.8, 1.0)),
                      float(rng.uniform(0, 180)), width=float(0.15 * radius))]


def _giant_halo(name, centre, z, flux, alpha, re_kpc, rng, config) -> Component:
    x, y = centre + rng.normal(0, config.halo_offset_px, 2)
    return Component(name, "halo", float(x), float(y), flux, alpha, _kpc_to_px(re_kpc, z, config.pixel_deg),
                     float(rng.uniform(*config.halo_axis_ratio)), float(rng.uniform(0, 180)), z=z)


def _bcg(rng, name, centre, z, config) -> Component:
    return Component(name, "bcg", centre, centre, log_uniform(rng, config.bcg_flux_jy), float(rng.normal(-0.7, 0.2)), z=z)


def _group(rng, name, centre, z, flux, re_kpc, config) -> list:
    """A blended group of compact sources within about one halo radius of the centre, ``flux`` Jy in total."""
    n = int(rng.integers(config.group_members[0], config.group_members[1] + 1))
    spread = _kpc_to_px(re_kpc, z, config.pixel_deg)
    shares = rng.dirichlet(np.ones(n))
    xy = centre + rng.normal(0, spread, (n, 2))
    return [Component(name, "group", float(x), float(y), float(flux * s), float(rng.normal(-0.7, 0.2)), z=z)
            for (x, y), s in zip(xy, shares)]


_PARTS = dict(radio_galaxy=lambda *a: _radio_galaxy(*a), bcg=_bcg, halo=_giant_halo, group=_group,
              ring=lambda rng, name, centre, config, flux=None: _ring(rng, name, centre, config, flux))


def draw_components(rng, name: str, label: int, config: SkyConfig) -> tuple:
    """The components of one field, its redshift and cluster values (M500 etc., balanced population only).

    Classic population: a halo (label 1), or maybe a radio galaxy / ring (label 0). Balanced: see
    :mod:`halo_utils.sky.population`.
    """
    if config.population == "balanced":
        from .population import draw_balanced

        central, z, cluster = draw_balanced(rng, name, label, config, _PARTS)
        return central + _compact_sources(rng, name, config), z, cluster
    if config.population != "classic":
        raise ValueError(f"unknown mock population {config.population!r}; choose 'classic' or 'balanced'")
    centre = (config.size - 1) / 2
    z = float(rng.uniform(*config.z))
    if label == 1:
        central = _halo(rng, name, centre, z, config)
    else:
        u = rng.uniform()
        if u < config.radio_galaxy_fraction:
            central = _radio_galaxy(rng, name, centre, z, config)
        elif u < config.radio_galaxy_fraction + config.ring_fraction:
            central = _ring(rng, name, centre, config)
        else:
            central = []
    return central + _compact_sources(rng, name, config), z, {}


def injected_emission(rng, name: str, label: int, centre: float, config: SkyConfig) -> tuple:
    """Emission of the balanced population to put into a real cut-out about pixel (``centre``, ``centre``): a giant halo
    (``label`` 1) or a decoy drawn as that halo would be (0: a ring or a blended group, at the decoy flux scale).

    Returns (components, cluster dict of :func:`~halo_utils.sky.population.cluster_draw`).
    """
    from .population import cluster_draw, decoy

    cluster = cluster_draw(rng, config)
    if label == 1:
        return [_giant_halo(name, centre, cluster["z"], cluster["flux"], cluster["alpha"], cluster["re_kpc"], rng,
                            config)], cluster
    return decoy(rng, name, centre, cluster, config, _PARTS), cluster
