"""The survey's and the sky's constants: GLEAM bands, pixel sizes, beam, cosmology.

Every module takes these from here; nothing else hard-codes a band edge, a pixel size or H0.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["BANDS_MHZ", "BAND_KEYS", "BAND_CENTRES_MHZ", "BAND_PIXEL_ARCMIN", "PIXEL_DEG", "BEAM_ARCMIN_200",
           "FWHM_TO_SIGMA", "PEAK_BAND", "cosmology", "kpc_per_arcmin", "cutout_extent_kpc"]

BANDS_MHZ = ((72, 103), (103, 134), (139, 170), (170, 231))
"""The four GLEAM sub-bands used throughout, (low, high) edges in MHz, ordered by frequency."""

BAND_KEYS = tuple(f"{lo}-{hi}" for lo, hi in BANDS_MHZ)
"""Band names as in the published file names: '72-103', '103-134', '139-170', '170-231'."""

BAND_CENTRES_MHZ = tuple((lo + hi) / 2 for lo, hi in BANDS_MHZ)
"""Centre frequency of each band (87.5, 118.5, 154.5, 200.5 MHz)."""

BAND_PIXEL_ARCMIN = (0.933, 0.733, 0.567, 0.467)
"""Pixel size of the published 300x300 images per band, arcmin (read from their headers; see ``data.grid``)."""

PIXEL_DEG = 0.012222
"""Pixel size of SkyView GLEAM cut-outs and of the mock sky, degrees (0.733', the published 103-134 MHz band)."""

BEAM_ARCMIN_200 = 2.0
"""GLEAM beam FWHM (minor axis) at 200 MHz, arcmin; it scales as 1 / frequency."""

FWHM_TO_SIGMA = 1 / np.sqrt(8 * np.log(2))
"""A Gaussian's sigma per unit FWHM."""

PEAK_BAND = 2
"""Index of the band whose peak S/N per beam describes a halo: 139-170 MHz."""


@functools.cache
def cosmology():
    """Flat LambdaCDM, H0 = 70 km/s/Mpc, Omega_m = 0.3 (as radio-halo papers use); built on first use
    (astropy.cosmology takes about a second to import)."""
    from astropy.cosmology import FlatLambdaCDM

    return FlatLambdaCDM(H0=70, Om0=0.3)


def kpc_per_arcmin(z) -> np.ndarray:
    """Proper kpc per arcmin at redshift ``z`` (scalar or array)."""
    return cosmology().kpc_proper_per_arcmin(np.asarray(z, float)).value


def cutout_extent_kpc(z, size_px: int = 64, pixel_deg: float = PIXEL_DEG):
    """Proper linear size (kpc) of a ``size_px`` cut-out of ``pixel_deg`` pixels at redshift ``z``."""
    return kpc_per_arcmin(z) * size_px * pixel_deg * 60
