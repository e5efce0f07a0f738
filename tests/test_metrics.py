"""Judges of generated images against closed forms."""

import numpy as np
import pytest

from halo_utils.judge import metrics


def test_frechet_distance_matches_the_closed_form_in_one_dimension():
    # (mu1 - mu2)^2 + s1^2 + s2^2 - 2 s1 s2 = (mu1 - mu2)^2 + (s1 - s2)^2
    assert metrics.frechet_distance([1.0], [[4.0]], [3.0], [[1.0]]) == pytest.approx(4 + 1)


def test_frechet_distance_of_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert metrics.frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected)
    assert metrics.frechet_distance(mu1, np.diag(s1), mu1, np.diag(s1)) == pytest.approx(0, abs=1e-6)


def test_fid_from_samples_approaches_the_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, (20000, 4))
    b = rng.normal(0.5, 2, (20000, 4))
    assert metrics.fid(a, b) == pytest.approx(4 * (0.25 + 1), rel=0.05)


def test_kid_is_zero_for_one_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(1)
    real = rng.normal(0, 1, (400, 8))
    same, _ = metrics.kid(real, rng.normal(0, 1, (400, 8)), subset_size=100, n_subsets=50)
    shifted = [metrics.kid(real, rng.normal(shift, 1, (400, 8)), subset_size=100, n_subsets=50)[0]
               for shift in (0.25, 0.5, 1.0)]
    assert abs(same) < 0.02
    assert 0.02 < shifted[0] < shifted[1] < shifted[2]
    with pytest.raises(ValueError, match="at least 2"):
        metrics.kid(real[:1], real)


def test_ramis_limits():
    assert metrics.ramis(np.full((10, 2), 0.5)) == pytest.approx(1.0)  # uninformative classifier
    confident = np.array([[1.0, 0.0], [0.0, 1.0]] * 5)
    assert metrics.ramis(confident) == pytest.approx(2.0, rel=1e-6)  # sure and balanced: the number of classes
    assert metrics.ramis(np.array([[1.0, 0.0]] * 10)) == pytest.approx(1.0)  # sure but one class only


def test_histogram_error_is_zero_for_identical_sets_and_sees_a_shift():
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (50, 8, 8, 2))
    same = metrics.histogram_error(x, x, bins=10)
    assert np.allclose(same["mean_abs_rel_error"], 0)
    shifted = metrics.histogram_error(x, np.clip(x + 0.5, -1, 1), bins=10)
    assert (shifted["mean_abs_rel_error"] > 0.3).all() and shifted["real"].shape == (2, 10)


def test_degradations():
    images = np.zeros((2, 9, 9), np.float32)
    images[:, 4, 4] = 9.0
    assert metrics.blur(images, 3)[0, 4, 4] == pytest.approx(1.0)
    assert np.array_equal(metrics.blur(images, 1), images)
    cropped = metrics.crop(np.ones((1, 10, 10)), 2)
    assert cropped.sum() == 36 and cropped[0, 5, 5] == 1
    noisy = metrics.add_noise(np.full((1, 50, 50), 0.5), 0.1)
    assert 0.08 < noisy.std() < 0.12 and noisy.min() >= 0


def test_missing_inception_weights_say_where_to_put_them(tmp_path, monkeypatch):
    keras = pytest.importorskip("keras")

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(keras.applications, "InceptionV3", offline)
    with pytest.raises(metrics.MissingWeightsError, match=str(tmp_path)):
        metrics.inception_features(np.zeros((1, 8, 8)), weights_dir=tmp_path)


def test_ramis_bootstrap_error_is_zero_for_identical_images_and_shrinks_with_more():
    same = np.tile([[0.9, 0.1]], (50, 1))
    assert metrics.ramis_std(same) == pytest.approx(0, abs=1e-12)
    rng = np.random.default_rng(1)
    confident = lambda n: np.eye(2)[rng.integers(0, 2, n)] * 0.98 + 0.01  # noqa: E731
    assert metrics.ramis_std(confident(20)) > metrics.ramis_std(confident(2000)) > 0
