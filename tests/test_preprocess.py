import numpy as np
import pytest

from halo_utils.config import data_config
from halo_utils.data import DataError
from halo_utils.prep.augment import augment, rotate_cube, variants
from halo_utils.prep.preprocess import LogNormaliser, MinMaxNormaliser, central_cutout, clip_cube, side_cutouts


def test_clip_cube_per_band():
    cube = np.stack([np.full((8, 8), v, np.float32) for v in (0.1, 0.2, 0.3, 0.4)], -1)
    out = clip_cube(cube, [0.05, 0.1, 0.2, 0.1], clip_sigma=3.0)
    np.testing.assert_array_equal(out[0, 0], np.float32([0.0, 0.0, 0.0, 0.4]))


def test_clip_cube_rejects_bad_rms():
    with pytest.raises(DataError, match="finite positive rms"):
        clip_cube(np.zeros((4, 4, 4), np.float32), [0.1, np.nan, 0.1, 0.1])


def test_central_cutout_is_centred_with_wcs():
    from astropy.wcs import WCS
    from conftest import gleam_header

    image = np.zeros((300, 300), np.float32)
    image[149:151, 149:151] = 1.0
    cut, wcs = central_cutout(image, WCS(gleam_header()), 64)
    assert cut.shape == (64, 64) and cut[31:33, 31:33].sum() == 4
    np.testing.assert_allclose(wcs.pixel_to_world_values(31.5, 31.5), (10.0, -30.0), atol=1e-6)


def test_cutout_too_large_raises_instead_of_shrinking():
    with pytest.raises(DataError, match="does not fit"):
        central_cutout(np.zeros((50, 50)), size=64)


def test_side_cutouts_avoid_the_centre():
    image = np.zeros((300, 300, 4), np.float32)
    image[118:182, 118:182] = 1.0  # the central 64x64
    sides = side_cutouts(image, 64)
    assert sides.shape == (4, 64, 64, 4) and sides.sum() == 0


def test_minmax_round_trip_and_train_only():
    rng = np.random.default_rng(0)
    train = rng.uniform(0, 2, (10, 8, 8, 4)).astype(np.float32)
    norm = MinMaxNormaliser().fit(train)
    y = norm.transform(train)
    assert y.min() == 0 and y.max() == pytest.approx(1)
    np.testing.assert_allclose(norm.inverse(y), train, rtol=1e-5, atol=1e-6)


def test_log_normaliser_range_and_inverse():
    rng = np.random.default_rng(1)
    x = np.where(rng.uniform(size=(10, 8, 8, 4)) < 0.7, 0, rng.pareto(1.5, (10, 8, 8, 4))).astype(np.float32)
    norm = LogNormaliser().fit(x, x0=[0.05, 0.02, 0.015, 0.01])
    y = norm.transform(x)
    assert y.min() == pytest.approx(-1) and y.max() == pytest.approx(1)
    np.testing.assert_allclose(norm.inverse(y), x, rtol=1e-4, atol=1e-6)


def test_paper_profile_has_160_variants():
    config = data_config("paper")
    params = variants(config, np.random.default_rng(0))
    assert config.n_variants == len(params) == 160
    assert {p[0] for p in params} == {45.0 * i for i in range(8)}
    assert all(0.9 <= p[2] <= 1.4 for p in params)


def test_rotation_before_cut_leaves_no_blank_corners():
    cube = np.ones((300, 300, 4), np.float32)
    out = augment(cube, [(45.0, "none", 1.0), (135.0, "horizontal", 1.2)], size=64)
    assert out.shape == (2, 64, 64, 4)
    np.testing.assert_allclose(out[0], 1.0, atol=1e-6)
    np.testing.assert_allclose(out[1], 1.2, atol=1e-6)


def test_quarter_turns_are_exact():
    cube = np.random.default_rng(2).normal(size=(300, 300, 4)).astype(np.float32)
    np.testing.assert_array_equal(rotate_cube(cube, 90.0), np.rot90(cube, 1, axes=(0, 1)))
    np.testing.assert_array_equal(rotate_cube(cube, 0.0), cube)


def test_interpolated_and_exact_rotations_turn_the_same_way():
    cube = np.zeros((300, 300, 1), np.float32)
    cube[150, 200] = 1.0  # 50 px along +column from the centre (149.5, 149.5)
    y90, x90 = np.unravel_index(np.argmax(rotate_cube(cube, 90.0)[..., 0]), (300, 300))
    y45, x45 = np.unravel_index(np.argmax(rotate_cube(cube, 45.0)[..., 0]), (300, 300))
    assert (y90, x90) == (99, 150)  # np.rot90
    assert y45 < 150 and x45 > 150  # half-way between the start and the 90-degree position
