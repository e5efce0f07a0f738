"""The diffusion schedule and samplers, checked with closed-form noise predictors (no network)."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from halo_utils.generate.diffusion import GaussianDiffusion, linear_betas  # noqa: E402

DIFF = GaussianDiffusion(linear_betas(1000, 1e-4, 0.02))


def gaussian_oracle(mu, s):
    """The exact E[ε | x_t] when every pixel of x_0 is N(mu, s²)."""
    def eps(x_t, t):
        a = tf.gather(tf.constant(DIFF.alpha_bars, tf.float32), t)[:, None, None, None]
        return tf.sqrt(1 - a) * (x_t - tf.sqrt(a) * mu) / (a * s ** 2 + 1 - a)
    return eps


def test_schedule_matches_ho_et_al():
    assert DIFF.betas[0] == pytest.approx(1e-4) and DIFF.betas[-1] == pytest.approx(0.02)
    assert DIFF.alpha_bars[-1] < 1e-4  # x_T is almost pure noise
    assert np.all(np.diff(DIFF.alpha_bars) < 0)


def test_q_sample_has_the_right_moments():
    x0 = tf.fill((4000, 1, 1, 1), 0.5)
    t = tf.fill([4000], 499)
    noise = tf.random.stateless_normal((4000, 1, 1, 1), seed=(1, 2))
    x_t = DIFF.q_sample(x0, t, noise).numpy()
    a = DIFF.alpha_bars[499]
    assert x_t.mean() == pytest.approx(np.sqrt(a) * 0.5, abs=0.05)
    assert x_t.std() == pytest.approx(np.sqrt(1 - a), rel=0.05)


@pytest.mark.parametrize("sampler, steps, rel", [("ancestral", 1000, 0.05), ("ddim", 200, 0.03), ("ddim", 50, 0.1)])
def test_samplers_draw_the_data_distribution(sampler, steps, rel):
    """With the exact noise predictor of Gaussian data both samplers return that Gaussian.

    Deterministic DDIM under-disperses with few steps (its Euler steps are coarse where the
    noise level is close to the data spread): 50 steps give 8 % too small a spread here.
    """
    mu, s = 0.1, 0.3
    x = DIFF.sample(gaussian_oracle(mu, s), (8, 16, 16, 1), seed=0, sampler=sampler, steps=steps, progress=False)
    assert x.shape == (8, 16, 16, 1)
    assert x.mean() == pytest.approx(mu, abs=0.015)
    assert x.std() == pytest.approx(s, rel=rel)


def test_ddim_with_eta_one_over_every_step_is_the_ancestral_sampler():
    """η = 1 over all T steps is Ho et al.'s sampler (σ² = β̃): it keeps the data spread. Over 50 steps it
    under-disperses more than η = 0 (the x̂_0 of a long step is a mean, and its spread is not added back)."""
    mu, s = 0.1, 0.3
    oracle = gaussian_oracle(mu, s)
    x = DIFF.sample(oracle, (8, 16, 16, 1), seed=0, sampler="ddim", steps=1000, progress=False, eta=1.0)
    assert x.mean() == pytest.approx(mu, abs=0.015) and x.std() == pytest.approx(s, rel=0.05)
    short = [DIFF.sample(oracle, (8, 16, 16, 1), seed=0, sampler="ddim", steps=50, progress=False, eta=eta).std()
             for eta in (0.0, 1.0, 1.0)]
    assert short[1] == short[2] and short[1] < short[0] < s


def test_x0_estimates_are_clipped_to_the_given_data_range():
    """A data range of [0, 1] (the DDPM's z scale) keeps every sample inside it, even from a wrong predictor."""
    diff = GaussianDiffusion(linear_betas(100), clip=(0.0, 1.0))
    x = diff.sample(lambda x_t, t: -x_t, (2, 8, 8, 1), seed=0, sampler="ddim", steps=10, progress=False)
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert diff.predict_x0(tf.fill((1, 2, 2, 1), -3.0), 50, tf.zeros((1, 2, 2, 1))).numpy().max() == 0.0


def test_same_seed_same_samples_and_ddim_is_deterministic_given_the_noise():
    oracle = gaussian_oracle(0.0, 0.3)
    a = DIFF.sample(oracle, (2, 8, 8, 2), seed=5, sampler="ancestral", progress=False)
    b = DIFF.sample(oracle, (2, 8, 8, 2), seed=5, sampler="ancestral", progress=False)
    c = DIFF.sample(oracle, (2, 8, 8, 2), seed=6, sampler="ancestral", progress=False)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_point_mass_is_recovered_exactly():
    target = np.linspace(-0.5, 0.5, 16, dtype=np.float32).reshape(1, 4, 4, 1)

    def eps(x_t, t):
        a = tf.gather(tf.constant(DIFF.alpha_bars, tf.float32), t)[:, None, None, None]
        return (x_t - tf.sqrt(a) * target) / tf.sqrt(1 - a)

    for sampler in ("ancestral", "ddim"):
        x = DIFF.sample(eps, (1, 4, 4, 1), seed=0, sampler=sampler, steps=20, progress=False)
        assert np.allclose(x, target, atol=1e-4)


def test_bad_sampler_arguments_are_named():
    with pytest.raises(ValueError, match="'euler'"):
        DIFF.sample(gaussian_oracle(0, 1), (1, 2, 2, 1), seed=0, sampler="euler")
    with pytest.raises(ValueError, match="2000"):
        DIFF.ddim_timesteps(2000)
