"""Compact-source subtraction: beam-sized sources found, fitted with the band's beam and removed, the residual kept.

Radio astronomers look for diffuse emission after subtracting the compact sources (the radio galaxies, the blended
AGN) that would otherwise dominate a low-resolution image. GLEAM offers no long baselines here, so the subtraction
works in the image plane with photutils: peaks above ``nsigma`` times the noise (``find_peaks``), kept only where the
emission falls off as the beam does (``compactness``: the mean brightness one beam FWHM from the peak over the peak;
0.0625 for a point source, larger for resolved emission, so a halo's core is not taken for a point source), then
PSF photometry (``PSFPhotometry`` with a Gaussian of the band's beam, position and flux free) and the residual image.

    residual = subtract(cube, rms, dec, pixel_arcmin)   # (H, W, B) Jy/beam, compact sources removed band by band
"""

from __future__ import annotations

import warnings

import numpy as np

from ..sky.instrument import beam
from ..sky.mock import SkyConfig

__all__ = ["NSIGMA", "COMPACTNESS", "point_sources", "subtract_band", "subtract"]

NSIGMA = 5.0  # peaks this many times the noise are candidates
COMPACTNESS = 0.3  # kept as compact when the mean one FWHM out is at most this share of the peak (a point: 0.0625)


def _ring_share(image: np.ndarray, x: int, y: int, fwhm: tuple, theta_deg: float) -> float:
    """Mean of ``image`` on the ellipse one beam FWHM from (x, y) over the value at (x, y)."""
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    t = np.radians(theta_deg)
    dx, dy = fwhm[0] * np.cos(angles), fwhm[1] * np.sin(angles)
    xs = np.round(x + dx * np.cos(t) - dy * np.sin(t)).astype(int)
    ys = np.round(y + dx * np.sin(t) + dy * np.cos(t)).astype(int)
    inside = (xs >= 0) & (xs < image.shape[1]) & (ys >= 0) & (ys < image.shape[0])
    if not inside.any() or image[y, x] <= 0:
        return np.inf
    return float(image[ys[inside], xs[inside]].mean() / image[y, x])


def point_sources(image: np.ndarray, rms: float, fwhm: tuple, theta_deg: float, nsigma: float = NSIGMA,
                  compactness: float = COMPACTNESS) -> list:
    """(x, y, peak) of the compact peaks of ``image`` (H, W) Jy/beam: above ``nsigma * rms``, falling off as the beam
    of FWHMs ``fwhm`` = (x, y) px, turned by ``theta_deg``, does."""
    from photutils.detection import find_peaks

    box = max(3, int(np.ceil(min(fwhm))) | 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # photutils warns when no peak is found: an answer here, not a problem
        peaks = find_peaks(image, nsigma * rms, box_size=box)
    if peaks is None:
        return []
    out = []
    for x, y, peak in zip(peaks["x_peak"], peaks["y_peak"], peaks["peak_value"]):
        if _ring_share(image, int(x), int(y), fwhm, theta_deg) <= compactness:
            out.append((int(x), int(y), float(peak)))
    return out


def subtract_band(image: np.ndarray, rms: float, fwhm: tuple, theta_deg: float, nsigma: float = NSIGMA,
                  compactness: float = COMPACTNESS) -> tuple:
    """(residual (H, W), number of sources removed) of one band image in Jy/beam: :func:`point_sources` fitted with a
    Gaussian PSF of the beam (peak-normalised, so the fitted flux is the peak in Jy/beam) and subtracted."""
    from astropy.table import QTable
    from photutils.psf import GaussianPSF, PSFPhotometry

    found = point_sources(image, rms, fwhm, theta_deg, nsigma, compactness)
    if not found:
        return image.copy(), 0
    area = 2 * np.pi * fwhm[0] * fwhm[1] / (8 * np.log(2))  # GaussianPSF's flux is its integral: peak x area
    model = GaussianPSF(x_fwhm=fwhm[0], y_fwhm=fwhm[1], theta=theta_deg)
    model.x_fwhm.fixed = model.y_fwhm.fixed = model.theta.fixed = True
    size = int(np.ceil(1.5 * max(fwhm))) | 1
    phot = PSFPhotometry(model, (size, size), aperture_radius=max(fwhm))
    init = QTable(dict(x=[f[0] for f in found], y=[f[1] for f in found], flux=[f[2] * area for f in found]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # photutils warns of fits that did not converge; their residual stays as is
        phot(image, init_params=init)
        residual = phot.make_residual_image(image)
    return np.asarray(residual, np.float32), len(found)


def subtract(cube: np.ndarray, rms, dec: float, pixel_arcmin: float, nsigma: float = NSIGMA,
             compactness: float = COMPACTNESS) -> np.ndarray:
    """A (H, W, B) cube in Jy/beam with the compact sources of every band removed (each band's beam at ``dec``)."""
    sky = SkyConfig()
    out = np.empty_like(cube, dtype=np.float32)
    for b in range(cube.shape[-1]):
        bmaj, bmin, bpa = beam(b, dec, sky)
        out[..., b], _ = subtract_band(cube[..., b], float(rms[b]), (bmin / pixel_arcmin, bmaj / pixel_arcmin), bpa,
                                       nsigma, compactness)
    return out
