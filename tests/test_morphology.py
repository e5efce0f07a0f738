"""The RAMIS judge: its noise-floor training images, and degradation checks with a judge whose behaviour is known."""

import numpy as np

from halo_utils.judge import morphology

BINARY = (np.random.default_rng(0).uniform(0, 1, (16, 20, 20)) > 0.7).astype(np.float32)


def doubles(n: int, size: int = 48, seed: int = 0):
    """Rotated FRI-like (bright core, fading jets) and FRII-like (bright lobes at the ends) sources (n, size, size)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    images = []
    for i in range(n):
        a = rng.uniform(0, np.pi)
        u, v = xx * np.cos(a) + yy * np.sin(a), -xx * np.sin(a) + yy * np.cos(a)
        jet = np.exp(-0.5 * (v / 1.5) ** 2) * (np.abs(u) < 22)
        profile = np.exp(-np.abs(u) / 3) if i % 2 == 0 else np.exp(-0.5 * ((np.abs(u) - 19) / 2) ** 2)
        images.append(jet * profile / (jet * profile).max())
    return np.array(images, np.float32)


class EdgeJudge:
    """p(FRII) rises steeply with the share of the flux beyond 8 px of the centre (a Keras-like ``predict``)."""

    def predict(self, images, batch_size=None, verbose=0):
        size = images.shape[1]
        yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
        share = (images * (np.hypot(xx, yy) > 8)).sum((1, 2)) / np.maximum(images.sum((1, 2)), 1e-9)
        p = 1 / (1 + np.exp(-40 * (share - 0.5)))
        return np.stack([1 - p, p], axis=1)


def test_ramis_of_a_known_judge_never_rises_and_ends_low_under_every_degradation():
    curves = morphology.degradation_curves(EdgeJudge(), doubles(40), seed=0)
    assert set(curves) == {"blur", "noise", "crop"}
    for kind, curve in curves.items():
        ramis = np.array(curve["ramis"])
        assert ramis[0] > 1.9, kind  # sharp and balanced before degrading
        assert np.all(np.diff(ramis) <= 1e-6), (kind, ramis)
        assert ramis[-1] < 1.5, (kind, ramis)
        assert len(curve["std"]) == len(ramis)


def test_noise_floor_on_every_other_image_only():
    noisy = morphology.with_noise_floor(BINARY, 0.1, seed=0)
    np.testing.assert_array_equal(noisy[::2], BINARY[::2])
    assert np.any(noisy[1::2] != BINARY[1::2])
    assert noisy.min() >= 0 and noisy.max() <= 1
    np.testing.assert_array_equal(noisy, morphology.with_noise_floor(BINARY, 0.1, seed=0))
