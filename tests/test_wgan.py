"""Conditional WGAN-GP: the paper's generator size, the gradient penalty, resuming and reproducible samples."""

import numpy as np
import pytest
from conftest import dies_at

tf = pytest.importorskip("tensorflow")

from halo_utils.generate.wgan import WGAN, gradient_penalty, mixing_weights, wgan_config  # noqa: E402
from halo_utils.models.wgan import build_critic, build_generator  # noqa: E402


def n_trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_generator_has_the_papers_parameter_count():
    assert n_trainable(build_generator(latent=128, labels=10, bands=1)) == 22_079_633


@pytest.mark.parametrize("bands", [1, 4])
def test_shapes_for_one_and_four_bands(bands):
    g = build_generator(labels=3, bands=bands, size=16, channels=8, widths=(8,))
    c = build_critic(labels=3, bands=bands, size=16, widths=(8, 16))
    images = g([np.zeros((2, 128), np.float32), np.array([0, 2])])
    assert images.shape == (2, 16, 16, bands) and np.abs(images).max() <= 1
    assert c([images, tf.constant([0, 2])]).shape == (2, 1)


def test_generator_rejects_an_impossible_size():
    with pytest.raises(ValueError, match="up-samplings"):
        build_generator(size=48)


def test_gradient_penalty_is_zero_for_a_unit_slope_critic_and_grows_with_the_slope():
    """D(x) = a * mean-free linear map with gradient norm |a|: penalty (|a| - 1)^2, whatever the mixing weights."""
    import keras

    class Linear(keras.Model):
        def __init__(self, slope):
            super().__init__()
            self.slope = slope

        def call(self, inputs, training=False):
            x, _ = inputs
            n = tf.cast(tf.reduce_prod(tf.shape(x)[1:]), tf.float32)
            return self.slope * tf.reduce_sum(x, axis=[1, 2, 3])[:, None] / tf.sqrt(n)

    real = tf.random.stateless_normal((8, 4, 4, 1), seed=(0, 1))
    fake = tf.random.stateless_normal((8, 4, 4, 1), seed=(0, 2))
    labels = tf.zeros(8, tf.int32)
    rng = tf.random.Generator.from_seed(0)
    assert float(gradient_penalty(Linear(1.0), real, fake, labels, mixing_weights(rng, 8))) == pytest.approx(0.0, abs=1e-6)
    assert float(gradient_penalty(Linear(3.0), real, fake, labels, mixing_weights(rng, 8))) == pytest.approx(4.0, rel=1e-4)


@pytest.mark.parametrize("k", [1.0, 3.0])
def test_mixing_weight_is_uniform_per_image(k):
    """A quadratic critic D(x) = k |x|^2 / 2 has gradient norm k |x|: with fake = 0 and |real| = 1 the
    penalty of one image is (k eps - 1)^2, whose mean over eps ~ U[0, 1] is k^2/3 - k + 1 (1/3 for k = 1,
    1 for k = 3). A fixed eps = 0.5 would give 1/4 and 1/4; a weight per pixel instead of per image,
    (k/sqrt(3) - 1)^2 = 0.18 and 0.54; mixing towards the wrong end changes nothing here but is caught
    by the linear test above."""
    import keras

    class Quadratic(keras.Model):
        def call(self, inputs, training=False):
            x, _ = inputs
            return k * 0.5 * tf.reduce_sum(tf.square(x), axis=[1, 2, 3])[:, None]

    n = 20000
    direction = tf.random.stateless_normal((n, 4, 4, 1), seed=(1, 1))
    real = direction / tf.norm(tf.reshape(direction, (n, -1)), axis=1)[:, None, None, None]
    fake = tf.zeros_like(real)
    eps = mixing_weights(tf.random.Generator.from_seed(1), n)
    penalty = float(gradient_penalty(Quadratic(), real, fake, tf.zeros(n, tf.int32), eps))
    assert penalty == pytest.approx(k ** 2 / 3 - k + 1, abs=0.02)


IMAGES = np.random.default_rng(0).uniform(-1, 1, (10, 16, 16, 1)).astype(np.float32)
LABELS = np.arange(10) % 3


def make(steps=4):
    config = wgan_config("smoke", train_steps=steps, checkpoint_every=2, generator_widths=(8,), critic_widths=(8,))
    return WGAN(config, IMAGES, LABELS, seed=3)


def test_killed_run_resumes_and_ends_like_an_uninterrupted_one(tmp_path):
    whole = make()
    done = whole.train(tmp_path / "whole")
    killed = make()
    killed._step = dies_at(killed._step, 3)
    with pytest.raises(KeyboardInterrupt):
        killed.train(tmp_path / "killed")
    again = make()
    resumed = again.train(tmp_path / "killed")
    assert resumed["resumed_from"] == 2 and resumed["steps"] == 4
    assert resumed["losses"]["critic"] == pytest.approx(done["losses"]["critic"], rel=1e-4)
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(again.generator.get_weights(), whole.generator.get_weights()))


def test_same_seed_same_samples(tmp_path):
    model = make(steps=1)
    a, la = model.sample(4, seed=1)
    b, lb = model.sample(4, seed=1)
    c, _ = model.sample(4, seed=2)
    assert np.array_equal(a, b) and np.array_equal(la, lb) and not np.array_equal(a, c)
    assert set(la) <= {0, 1, 2}
