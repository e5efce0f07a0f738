"""DDPM: U-Net shapes, resumable training that ends where an uninterrupted run ends, reproducible samples."""

import numpy as np
import pytest
from conftest import dies_at

tf = pytest.importorskip("tensorflow")

from halo_utils.generate import training  # noqa: E402
from halo_utils.generate.ddpm import DDPM, ddpm_config  # noqa: E402
from halo_utils.models.unet import build_unet  # noqa: E402


@pytest.mark.parametrize("bands", [1, 4])
def test_unet_predicts_noise_of_the_input_shape(bands):
    net = build_unet(size=32, bands=bands, widths=(8, 16), attention=(False, True), n_res=1, groups=4)
    out = net([np.zeros((2, 32, 32, bands), np.float32), np.array([0, 999], np.int32)])
    assert out.shape == (2, 32, 32, bands)


def test_unet_rejects_inconsistent_levels():
    with pytest.raises(ValueError, match="attention flag"):
        build_unet(widths=(8, 16), attention=(True,))
    with pytest.raises(ValueError, match="halved"):
        build_unet(size=36, widths=(8, 16, 32, 64), attention=(False,) * 4)


IMAGES = np.random.default_rng(0).uniform(-1, 1, (12, 16, 16, 2)).astype(np.float32)


def make(steps=4):
    """A smoke DDPM with a one-level U-Net: the same training code, half the graph to trace (the shapes test above
    builds the two-level one)."""
    return DDPM(ddpm_config("smoke", train_steps=steps, checkpoint_every=2, batch_size=3, widths=(8,), attention=(True,)),
                IMAGES, seed=7)


def weights(model):
    return [w.copy() for w in model.ema.get_weights()]


def test_killed_run_resumes_and_ends_like_an_uninterrupted_one(tmp_path, monkeypatch):
    whole = make()
    done = whole.train(tmp_path / "whole")
    assert done["steps"] == 4 and done["resumed_from"] == 0

    killed = make()
    killed._step = dies_at(killed._step, 3)
    with pytest.raises(KeyboardInterrupt):
        killed.train(tmp_path / "killed")
    again = make()  # a new process: nothing in memory survives
    resumed = again.train(tmp_path / "killed")
    assert resumed["resumed_from"] == 2 and resumed["steps"] == 4
    assert resumed["losses"]["loss"] == pytest.approx(done["losses"]["loss"], rel=1e-5)
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(weights(again), weights(whole)))
    assert training.read_losses(tmp_path / "killed")["loss"] == resumed["losses"]["loss"]


def test_same_seed_same_samples(tmp_path):
    model = make(steps=2)
    model.train(tmp_path)
    a = model.sample(2, seed=3, sampler="ddim", steps=4, progress=False)
    b = model.sample(2, seed=3, sampler="ddim", steps=4, progress=False)
    c = model.sample(2, seed=4, sampler="ddim", steps=4, progress=False)
    assert a.shape == (2, 16, 16, 2) and np.array_equal(a, b) and not np.array_equal(a, c)


def test_training_prints_text_progress_lines(tmp_path, capsys):
    """Besides the bar (a widget in a notebook), text lines every ``report_every`` seconds and at each checkpoint:
    what the terminal shows of a long run under ``papermill --log-output``."""
    weight = tf.Variable(1.0)

    def step():
        weight.assign(weight * 0.5)
        return {"loss": weight.read_value()}

    training.run_steps(step, {"weight": weight}, 4, tmp_path, every=4, desc="toy", report_every=0.0)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("toy: step")]
    assert [line.split(",")[0] for line in lines] == [f"toy: step {i}/4 ({25 * i} %)" for i in (1, 2, 3, 4)]
    assert "loss 0.0625" in lines[-1] and lines[-1].endswith("about 0 s left, checkpoint saved")
    training.run_steps(step, {"weight": weight}, 8, tmp_path / "quiet", every=8, desc="toy", report_every=3600.0)
    quiet = [line for line in capsys.readouterr().out.splitlines() if line.startswith("toy: step")]
    assert len(quiet) == 1 and quiet[0].startswith("toy: step 8/8 (100 %)")  # the checkpoint's line only
