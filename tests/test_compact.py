"""Compact-source subtraction: a point source goes, a resolved halo stays."""

import numpy as np
import pytest

from halo_utils.config import data_config
from halo_utils.prep import compact
from halo_utils.sky.components import Component
from halo_utils.sky.instrument import beam, render
from halo_utils.sky.mock import SkyConfig

PIXEL = 0.733  # arcmin, the common grid
N, RMS, DEC = 128, 0.002, -30.0


def _image(components, seed=0):
    """(noise, emission) cubes (N, N, 4) Jy/beam of ``components`` on beam-correlated-free white noise of RMS."""
    sky = SkyConfig(pixel_deg=PIXEL / 60)
    beams = [beam(b, DEC, sky) for b in range(4)]
    noise = np.random.default_rng(seed).normal(0, RMS, (N, N, 4)).astype(np.float32)
    return noise, np.moveaxis(render(components, beams, (N, N), sky.pixel_deg), 0, -1).astype(np.float32)


def test_a_point_source_is_removed_and_a_resolved_halo_kept():
    """A 2 Jy point source leaves under 1 % of its flux; a halo of e-folding radius 3.7' (about one beam at 139-170
    MHz) beside it keeps its flux within 2 %, in every band."""
    point = Component("t", "compact", 40.0, 80.0, 2.0, -0.7)
    halo = Component("t", "halo", 63.5, 63.5, 1.0, -1.3, 5.0, 0.9, 30.0)
    noise, _ = _image([])
    _, p = _image([point])
    _, h = _image([halo])
    out = compact.subtract(noise + p + h, np.full(4, RMS), DEC, PIXEL)
    box, centre = (slice(60, 100), slice(20, 60)), (slice(40, 88), slice(40, 88))
    for b in range(4):
        left = (out[..., b] - noise[..., b] - h[..., b])[box].sum() / p[..., b][box].sum()
        kept = (out[..., b] - noise[..., b])[centre].sum() / h[..., b][centre].sum()
        assert abs(left) < 0.01, (b, left)
        assert abs(kept - 1) < 0.02, (b, kept)


def test_noise_alone_is_left_alone():
    noise, _ = _image([], seed=3)
    out = compact.subtract(noise, np.full(4, RMS), DEC, PIXEL)
    np.testing.assert_array_equal(out, noise)  # no peak reaches 5 sigma in 128 x 128 pixels of white noise


def test_extended_emission_is_not_taken_for_point_sources():
    fwhm, theta = (3.0, 4.5), 0.0
    halo = Component("t", "halo", 63.5, 63.5, 1.0, -1.3, 6.0)
    _, h = _image([halo])
    assert compact.point_sources(h[..., 2], RMS, fwhm, theta) == []
    _, p = _image([Component("t", "compact", 63.0, 63.0, 1.0, -0.7)])
    assert len(compact.point_sources(p[..., 2], RMS, fwhm, theta)) == 1


def test_the_setting_reaches_the_pipeline(real_sources):
    """``subtract_compact`` changes the fields the classifiers see, and needs a common grid."""
    from halo_utils.prep.dataset import source_field

    src = next(s for s in real_sources if s.name == "abell_0085")
    rms = np.full(4, 0.02)
    plain = source_field(src, data_config("smoke", clip_sigma=None), rms)
    subtracted = source_field(src, data_config("smoke", clip_sigma=None, subtract_compact=True), rms)
    assert subtracted.shape == plain.shape and subtracted.max() < plain.max()
    with pytest.raises(ValueError, match="common sky grid"):
        source_field(src, data_config("smoke", pixel_arcmin=None, subtract_compact=True), rms)
