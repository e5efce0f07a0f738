"""Mock halos injected into real images: flux kept on every band's grid, clipping redone only where the halo is."""

import dataclasses

import numpy as np
import pytest
from astropy.wcs import WCS

from halo_utils.config import data_config
from halo_utils.constants import BAND_CENTRES_MHZ, BAND_KEYS, BAND_PIXEL_ARCMIN, FWHM_TO_SIGMA
from halo_utils.prep.mockset import mock_sky_config
from halo_utils.studies import injection
from halo_utils.search.fields import Field
from halo_utils.sky.instrument import beam, beam_area_px
from tests.conftest import gleam_header, noise_image

SKY = mock_sky_config(data_config("smoke"))


def _wcs(band: int, ra=150.0, dec=-20.0) -> WCS:
    header = gleam_header(ra, dec)
    header["CDELT1"], header["CDELT2"] = -BAND_PIXEL_ARCMIN[band] / 60, BAND_PIXEL_ARCMIN[band] / 60
    return WCS(header)


def _field(clip_sigma: float | None, sigma: float = 0.02) -> Field:
    images = {}
    for b, band in enumerate(BAND_KEYS):
        image = noise_image(b, sigma)
        if clip_sigma:
            image[np.abs(image) < clip_sigma * sigma] = 0.0
        images[band] = (image, _wcs(b))
    return Field("host", (150.0, -20.0), images, [])


def test_a_halo_keeps_its_flux_density_and_place_on_every_band_grid():
    halo = max(injection.halo_draws(12, 0, SKY), key=lambda h: h.size)
    intrinsic = []
    for b in range(len(BAND_KEYS)):
        wcs = _wcs(b)
        image = injection.halo_image(halo, SKY, (300, 300), wcs, (150.0, -20.0), b)
        area = beam_area_px(*beam(b, -20.0, SKY)[:2], BAND_PIXEL_ARCMIN[b] / 60)
        assert image.sum() / area == pytest.approx(halo.flux(BAND_CENTRES_MHZ[b]), rel=0.02)
        y, x = np.unravel_index(np.argmax(image), image.shape)
        # the centre is where it sat on its mock field, in arcmin, whatever this band's pixel
        centre = (SKY.size - 1) / 2
        want = np.array([halo.x - centre, halo.y - centre]) * SKY.pixel_deg * 60 / BAND_PIXEL_ARCMIN[b] + 149.5
        assert np.hypot(x - want[0], y - want[1]) <= 1.0
        yy, xx = np.indices(image.shape)
        cx, cy = (np.sum(image * xx) / image.sum()), (np.sum(image * yy) / image.sum())
        r2 = np.sum(image * ((xx - cx) ** 2 + (yy - cy) ** 2)) / image.sum() * BAND_PIXEL_ARCMIN[b] ** 2
        bmaj, bmin, _ = beam(b, -20.0, SKY)
        intrinsic.append(r2 - (bmaj ** 2 + bmin ** 2) * FWHM_TO_SIGMA ** 2)
    # its size in arcmin too: under a Gaussian beam the flux-weighted <r^2> grows by sigma_maj^2 + sigma_min^2
    assert np.ptp(intrinsic) < 0.02 * np.mean(intrinsic)
    assert len({h.flux_150 for h in injection.halo_draws(12, 0, SKY)}) == 12
    assert injection.halo_draws(3, 0, SKY) == injection.halo_draws(3, 0, SKY) != injection.halo_draws(3, 1, SKY)


def test_an_empty_halo_gives_the_clipped_image_back_and_a_bright_one_rises_above_the_clip():
    host = _field(clip_sigma=3.0)
    fallback = np.full(len(BAND_KEYS), 0.02)
    halo = injection.halo_draws(1, 0, SKY)[0]
    empty, _ = injection.inject(host, dataclasses.replace(halo, flux_150=0.0), SKY, np.random.default_rng(0), fallback)
    for band in BAND_KEYS:
        np.testing.assert_array_equal(empty.images[band][0], host.images[band][0])
    bright, peak = injection.inject(host, dataclasses.replace(halo, flux_150=5.0), SKY, np.random.default_rng(0),
                                    fallback)
    assert peak > 20
    for b, band in enumerate(BAND_KEYS):
        before, after = host.images[band][0], bright.images[band][0]
        model = injection.halo_image(dataclasses.replace(halo, flux_150=5.0), SKY, before.shape, host.images[band][1],
                                     host.radec, b)
        changed = before != after
        assert changed.any() and np.all(model[changed] > 0)  # only where the halo is
        kept = after[after != 0]
        assert np.abs(kept).min() >= np.abs(before[before != 0]).min()  # nothing below the clip survives
    # an unclipped image gets the halo added, noise untouched
    raw = _field(clip_sigma=None)
    added, _ = injection.inject(raw, halo, SKY, np.random.default_rng(0), fallback)
    band = BAND_KEYS[2]
    model = injection.halo_image(halo, SKY, (300, 300), raw.images[band][1], raw.radec, 2)
    np.testing.assert_allclose(added.images[band][0], raw.images[band][0] + model, atol=1e-6)
