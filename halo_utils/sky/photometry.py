"""Measurements on images: halo photometry against a mock sky's truth, and the width of bright peaks."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..constants import BAND_CENTRES_MHZ, BAND_KEYS, PIXEL_DEG
from .instrument import beam_area_px, render

__all__ = ["halo_photometry", "source_fwhm_arcmin"]


def halo_photometry(source, components, field, pixel_deg: float = PIXEL_DEG) -> dict:
    """Halo flux density per band, fitted on the image once every other known component is subtracted.

    The other components of the field (from ``truth.csv``) are rendered and subtracted;
    the halo's flux density in each band is the least-squares amplitude of its own
    beam-convolved shape (a matched filter) over the pixels within 3 e-folding radii plus
    two beams that are not zero (zeroed pixels were clipped and carry no value).

    Parameters
    ----------
    source : :class:`halo_utils.data.Source` of a mock halo field
    components : list of :class:`Component` (all fields; the field's own are picked)
    field : the field's row of :func:`read_fields` (a pandas Series)

    Returns
    -------
    dict with ``flux`` (Jy per band), ``snr`` (per band, from the injected noise RMS and
    the beam area) and ``alpha`` (spectral index between the lowest and highest band)
    """
    own = [c for c in components if c.field == source.name]
    halo = next(c for c in own if c.kind in ("halo", "mini-halo"))
    keys = list(BAND_KEYS)
    beams = [(field[f"bmaj_{k}"], field[f"bmin_{k}"], 0.0) for k in keys]
    observed = np.moveaxis(source.cube, -1, 0).astype(float)
    shape = observed.shape[1:]
    residual = observed - render([c for c in own if c is not halo], beams, shape, pixel_deg)
    unit = render([dataclasses.replace(halo, flux_150=1.0, alpha=0.0)], beams, shape, pixel_deg)
    y, x = np.mgrid[: shape[0], : shape[1]]
    flux, snr = [], []
    for b, k in enumerate(keys):
        near = np.hypot(x - halo.x, y - halo.y) < 3 * halo.size + 2 * beams[b][0] / (pixel_deg * 60)
        use = near & (observed[b] != 0)
        t = unit[b][use]
        flux.append(float(np.sum(t * residual[b][use]) / np.sum(t ** 2)))
        snr.append(flux[-1] * np.sqrt(np.sum(t ** 2) / beam_area_px(*beams[b][:2], pixel_deg)) / field[f"rms_{k}"])
    alpha = np.log(flux[-1] / flux[0]) / np.log(BAND_CENTRES_MHZ[-1] / BAND_CENTRES_MHZ[0])
    return dict(flux=flux, snr=snr, alpha=float(alpha))


def source_fwhm_arcmin(sources, quantile: float = 0.995) -> list:
    """Median FWHM (arcmin, per band) of the bright peaks of ``sources``: a check of the beam.

    Each band is converted with its own pixel size from the headers (``Source.pixel_deg``):
    the published bands have 0.93', 0.73', 0.57' and 0.47' pixels.

    Peaks are local maxima (9x9) above the image's ``quantile``, at least 12 px from an edge;
    the FWHM is the diameter of the circle with the area of the connected region above half
    the peak. Blends and resolved sources make it an upper estimate of the beam.
    """
    from scipy.ndimage import label, maximum_filter

    widths = [[] for _ in BAND_KEYS]
    for src in sources:
        for b, widths_b in enumerate(widths):
            image = src.cube[..., b].astype(float)
            peaks = (image == maximum_filter(image, 9)) & (image > np.quantile(image, quantile))
            for y, x in zip(*np.nonzero(peaks)):
                if 12 <= y < image.shape[0] - 12 and 12 <= x < image.shape[1] - 12:
                    regions, _ = label(image[y - 12:y + 13, x - 12:x + 13] > 0.5 * image[y, x])
                    px_arcmin = src.pixel_deg[b] * 60
                    widths_b.append(2 * np.sqrt(np.sum(regions == regions[12, 12]) / np.pi) * px_arcmin)
    return [float(np.median(w)) if w else float("nan") for w in widths]
