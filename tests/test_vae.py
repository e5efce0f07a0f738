"""VAE/CVAE: shapes, the ELBO, resumable training with dropout, the selection rule, the RAMIS judge."""

import numpy as np
import pytest
from conftest import dies_at

tf = pytest.importorskip("tensorflow")

from halo_utils.generate.vae import VAE, vae_config  # noqa: E402
from halo_utils.generate.vae_runs import select_model, split_validation  # noqa: E402
from halo_utils.models.tang import build_tang  # noqa: E402
from halo_utils.models.vae import build_decoder, build_encoder  # noqa: E402

CONFIG = vae_config("smoke")
RNG = np.random.default_rng(0)
IMAGES = (RNG.uniform(0, 1, (16, CONFIG.size, CONFIG.size)) > 0.7).astype(np.float32)
LABELS = np.arange(16) % 2


@pytest.mark.parametrize("classes", [0, 2])
def test_encoder_and_decoder_shapes(classes):
    kw = dict(size=10, latent=3, classes=classes, widths=(16, 8))
    enc, dec = build_encoder(**kw), build_decoder(**kw)
    onehot = np.eye(2, dtype=np.float32)[[0, 1]]
    mu, log_var = enc([np.zeros((2, 10, 10), np.float32), onehot] if classes else [np.zeros((2, 10, 10), np.float32)])
    assert mu.shape == log_var.shape == (2, 3)
    assert dec([np.zeros((2, 3), np.float32), onehot] if classes else [np.zeros((2, 3), np.float32)]).shape == (2, 10, 10)


def test_paper_encoder_layer_widths():
    widths = [layer.units for layer in build_encoder(size=10, latent=2).layers if hasattr(layer, "units")]
    assert widths == [4096, 2048, 1024, 512, 256, 2, 2]


def test_negative_elbo_is_bce_plus_kl():
    model = VAE(CONFIG, 2, 1e-3, IMAGES, LABELS, 0, seed=1)
    x, onehot, noise = IMAGES[:4], tf.one_hot(LABELS[:4], 1), np.zeros((4, 2), np.float32)
    mu, log_var = (t.numpy() for t in model.encoder([x], training=False))
    p = tf.sigmoid(model.decoder([mu], training=False)).numpy().astype(np.float64)
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=(1, 2))
    kl = 0.5 * (np.exp(log_var) + mu ** 2 - 1 - log_var).sum(axis=1)
    np.testing.assert_allclose(model.loss(x, onehot, noise).numpy(), bce + kl, rtol=1e-4)


def make(steps_seed=3):
    return VAE(CONFIG, 2, 1e-3, IMAGES, LABELS, 2, seed=steps_seed)


def test_killed_run_with_dropout_resumes_like_an_uninterrupted_one(tmp_path):
    whole = make()
    whole.train(6, tmp_path / "whole")
    killed = make()
    killed._step = dies_at(killed._step, 4)  # dies in step 4: the last checkpoint holds step 2
    with pytest.raises(KeyboardInterrupt):
        killed.train(6, tmp_path / "parts")
    resumed = make()
    fit = resumed.train(6, tmp_path / "parts")
    assert fit["resumed_from"] == 2 and fit["steps"] == 6
    for a, b in zip(whole.decoder.get_weights(), resumed.decoder.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_reset_vae_trains_like_a_new_one(tmp_path):
    new = VAE(CONFIG, 2, 1.5e-3, IMAGES, LABELS, 2, seed=3)
    new.train(4, tmp_path / "new")
    reused = make()  # lr 1e-3, same seed
    reused.train(3, tmp_path / "other")  # moves weights, optimiser slots, batch and dropout random states
    reused.reset(1.5e-3).train(4, tmp_path / "reused")
    for a, b in zip(new.encoder.get_weights() + new.decoder.get_weights(),
                    reused.encoder.get_weights() + reused.decoder.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_other_settings_in_the_same_folder_are_refused(tmp_path):
    make().train(2, tmp_path / "run")
    other = VAE(CONFIG, 4, 1e-3, IMAGES, LABELS, 2, seed=3)
    with pytest.raises(ValueError, match="other settings"):
        other.train(2, tmp_path / "run")


def test_validation_galaxies_are_held_out_before_rotation():
    train, val = split_validation(100, 10, seed=0)
    assert len(val) == 10 and not set(train) & set(val) and len(train) + len(val) == 100


def test_selection_rule():
    rows = [dict(latent=2, ramis=1.1, selection_loss=50), dict(latent=4, ramis=1.3, selection_loss=40),
            dict(latent=8, ramis=1.35, selection_loss=60), dict(latent=16, ramis=1.0, selection_loss=45)]
    best = select_model(rows)
    assert best["latent"] == 4 and best["rule_met"]  # d=8 has the top RAMIS but a loss above the mean
    worst_loss = [dict(r, selection_loss=-r["ramis"]) for r in rows]  # high RAMIS always comes with low loss
    assert select_model(worst_loss)["latent"] == 8


def test_tang_classifier_gives_probabilities():
    p = build_tang(size=32)(np.zeros((3, 32, 32), np.float32)).numpy()
    assert p.shape == (3, 2)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)


def test_active_units_count_the_latent_dimensions_that_vary_with_the_image():
    model = VAE(CONFIG, 2, 1e-3, IMAGES, LABELS, 0, seed=1)
    mu = model.encoder.get_layer("mu")
    kernel, bias = mu.get_weights()
    mu.set_weights([np.zeros_like(kernel), bias + 3.0])  # collapsed: one code for every image
    assert model.active_units(IMAGES) == 0
    mu.set_weights([np.concatenate([np.full_like(kernel[:, :1], 1.0), np.zeros_like(kernel[:, 1:])], axis=1), bias])
    assert model.active_units(IMAGES) == 1  # only the first dimension depends on the image


def test_gleam_cvae_learns_from_training_sources_only_and_makes_halos(mock_sky, tmp_path):
    from halo_utils import config
    from halo_utils.data import read_dataset
    from halo_utils.generate.vae_runs import fit_gleam_cvae, generate_halos, gleam_sets
    from halo_utils.prep import dataset
    from halo_utils.prep.splits import protocol_split

    sources = read_dataset(mock_sky)
    split, _ = protocol_split(sources, "strict", seed=0)
    ds = dataset.build_dataset(sources, config.data_config("smoke"), seed=0, split=split)
    sets = gleam_sets(ds, band=2)
    train_mask = (ds.split == "train") & ~ds.empty
    assert len(sets["train"]) == train_mask.sum() and set(sets["train_labels"]) == {0, 1}
    assert len(sets["select"]) == ((ds.split == "val") & ~ds.empty).sum()  # validation sources, never test
    np.testing.assert_allclose(sets["train"], (ds.log_inputs(train_mask)[..., 2] + 1) / 2, atol=1e-6)  # band 2, [0, 1]
    fit = fit_gleam_cvae(sets, vae_config("smoke", epochs=0.05), 2, 1e-3, seed=0, workdir=tmp_path / "cvae")
    halos = generate_halos(fit["model"], 5, seed=0)
    assert halos.shape == (5, 64, 64, 1) and np.array_equal(halos, generate_halos(fit["model"], 5, seed=0))
    not_halos = 2 * fit["model"].generate(5, 0, np.zeros(5, int)) - 1
    assert not np.allclose(halos[..., 0], not_halos, atol=1e-4)  # the class label reaches the decoder
    assert np.isfinite(fit["selection_loss"])
