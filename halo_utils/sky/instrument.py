"""The instrument of the mock sky: GLEAM-like beams, beam-correlated noise, rendering components into images.

A component (:class:`halo_utils.sky.mock.Component`) with a spectrum S = S_150 (nu / 150 MHz)^alpha
is painted in Jy/pixel and convolved with the band's elliptical Gaussian beam of peak 1, so
images are in Jy/beam and a point source peaks at its flux density.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.signal import fftconvolve

from ..constants import BAND_CENTRES_MHZ, FWHM_TO_SIGMA

__all__ = ["beam", "beam_kernel", "beam_area_px", "correlated_noise", "add_point", "add_sidelobes",
           "render"]

GLEAM_DEC_ZENITH = -26.7  # MWA latitude: the beam stretches north-south away from it


def beam(band: int, dec: float, config) -> tuple:
    """(BMAJ, BMIN, BPA) of a band at declination ``dec``: arcmin, arcmin, degrees.

    The minor axis is ``beam_arcmin_200 * 200 MHz / nu`` (or ``beam_arcmin[band]``); the major axis is stretched by
    1 / cos(dec + 26.7 deg) (capped at 1.6), pointing north (BPA 0), as for a zenith array.
    """
    if config.beam_arcmin:
        bmin = config.beam_arcmin[band]
    else:
        bmin = config.beam_arcmin_200 * 200.0 / BAND_CENTRES_MHZ[band]
    stretch = min(1.6, 1 / np.cos(np.radians(dec - GLEAM_DEC_ZENITH)))
    return bmin * stretch, bmin, 0.0


def beam_kernel(bmaj_px: float, bmin_px: float, bpa_deg: float, offset=(0.0, 0.0)) -> np.ndarray:
    """Elliptical Gaussian beam on an odd square grid, peak 1 at ``offset`` = (dx, dy) pixels from the centre.

    FWHMs in pixels, BPA in degrees from north (+y) through east (-x).
    """
    y, x = _square(int(np.ceil(3 * bmaj_px)))
    x, y = x - offset[0], y - offset[1]
    theta = np.radians(bpa_deg)
    along = y * np.cos(theta) - x * np.sin(theta)
    across = y * np.sin(theta) + x * np.cos(theta)
    s_maj, s_min = bmaj_px * FWHM_TO_SIGMA, bmin_px * FWHM_TO_SIGMA
    return np.exp(-0.5 * ((along / s_maj) ** 2 + (across / s_min) ** 2))


@functools.lru_cache(maxsize=64)
def _square(half: int) -> tuple:
    """(y, x) pixel offsets -half..half of an odd square grid, float, read-only (made once per size: every point
    source of the mock sky asks for one)."""
    y, x = np.mgrid[-half:half + 1, -half:half + 1].astype(float)
    y.flags.writeable = x.flags.writeable = False
    return y, x


def correlated_noise(rng, rms: float, kernel: np.ndarray, shape: tuple) -> np.ndarray:
    """Gaussian noise with pixel RMS ``rms``, correlated on the beam scale."""
    pad = kernel.shape[0]
    white = rng.standard_normal((shape[0] + 2 * pad, shape[1] + 2 * pad))
    smooth = fftconvolve(white, kernel, mode="same")[pad:-pad, pad:-pad]
    return rms * smooth / np.sqrt(np.sum(kernel ** 2))


def beam_area_px(bmaj_arcmin: float, bmin_arcmin: float, pixel_deg: float) -> float:
    """Gaussian beam solid angle in pixels: pi / (4 ln 2) * BMAJ * BMIN."""
    return np.pi / (4 * np.log(2)) * bmaj_arcmin * bmin_arcmin / (pixel_deg * 60) ** 2


def _template(c, shape: tuple) -> np.ndarray:
    """Unit-flux image (Jy/pixel summing to 1) of an extended component."""
    y, x = np.mgrid[: shape[0], : shape[1]].astype(float)
    dx, dy = x - c.x, y - c.y
    theta = np.radians(c.angle)
    major = dx * np.cos(theta) + dy * np.sin(theta)
    minor = (-dx * np.sin(theta) + dy * np.cos(theta)) / c.axis_ratio
    r = np.hypot(major, minor)
    if c.shape == "exponential":
        image = np.exp(-r / c.size)
    elif c.shape == "ring":
        image = np.exp(-0.5 * ((r - c.size) / c.width) ** 2)
    else:
        image = np.exp(-0.5 * (r / c.size) ** 2)
    return image / image.sum()


def add_point(image: np.ndarray, x: float, y: float, flux: float, beam_px: tuple):
    """Add the beam (FWHMs in pixels, BPA) of a point source of ``flux`` Jy centred at (x, y) to ``image`` (Jy/beam)."""
    cx, cy = int(round(x)), int(round(y))
    stamp = flux * beam_kernel(*beam_px, offset=(x - cx, y - cy))
    half = stamp.shape[0] // 2
    y0, x0 = cy - half, cx - half
    ys = slice(max(y0, 0), min(y0 + stamp.shape[0], image.shape[0]))
    xs = slice(max(x0, 0), min(x0 + stamp.shape[1], image.shape[1]))
    if ys.start < ys.stop and xs.start < xs.stop:
        image[ys, xs] += stamp[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]


def add_sidelobes(image: np.ndarray, x: float, y: float, peak: float, beam_px: tuple, level: float,
                  phase: float = 0.0):
    """Add calibration-artefact ripples around a point source of ``peak`` Jy/beam at (x, y) to ``image`` (Jy/beam).

    A simple pattern, not an MWA point-spread function: rings one minor-axis FWHM apart, positive and negative,
    in six spokes, fading over eight major-axis FWHMs, from one to 24 of them,
    ``level * peak * cos(pi r / bmin) * exp(-r / (8 bmaj)) * (1 + cos(6 (theta - phase))) / 2``. ``phase``
    (radians) turns the spokes; sources in one snapshot image share it.
    """
    bmaj, bmin = beam_px[0], beam_px[1]
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]].astype(float)
    r, theta = np.hypot(xx - x, yy - y), np.arctan2(yy - y, xx - x)
    ripple = np.cos(np.pi * r / bmin) * np.exp(-r / (8 * bmaj)) * (1 + np.cos(6 * (theta - phase))) / 2
    image += np.where((r > bmaj) & (r <= 24 * bmaj), level * peak * ripple, 0.0)


def render(components, beams: list, shape: tuple, pixel_deg: float, sidelobes: tuple = (0.0, np.inf, 0.0)
           ) -> np.ndarray:
    """Noise-free image (n_bands, H, W) in Jy/beam of ``components``.

    ``beams`` holds one (BMAJ, BMIN, BPA) per band in arcmin, arcmin, degrees. Extended
    components are painted in Jy/pixel and convolved with the beam; point sources are
    drawn as the beam itself at their exact position. ``sidelobes`` = (level, Jy, phase): point sources brighter
    than that flux density in a band get :func:`add_sidelobes` of that level (0: none).
    """
    level, min_jy, phase = sidelobes
    px_arcmin = pixel_deg * 60
    out = np.zeros((len(beams), *shape))
    extended = [c for c in components if c.shape != "point"]
    points = [c for c in components if c.shape == "point"]
    for b, (bmaj, bmin, bpa) in enumerate(beams):
        nu, beam_px = BAND_CENTRES_MHZ[b], (bmaj / px_arcmin, bmin / px_arcmin, bpa)
        if extended:
            sky = sum(c.flux(nu) * _template(c, shape) for c in extended)
            out[b] = fftconvolve(sky, beam_kernel(*beam_px), mode="same")
        for c in points:
            add_point(out[b], c.x, c.y, c.flux(nu), beam_px)
            if level and c.flux(nu) >= min_jy:
                add_sidelobes(out[b], c.x, c.y, c.flux(nu), beam_px, level, phase)
    return out


