"""Mixed precision (``config.use_precision``) and devices: the classifier, DDPM, WGAN-GP and CVAE train under the
float16 and bfloat16 policies like under float32, with float32 outputs and loss scaling where float16 needs it; the
generators (CVAE without dropout) train on two logical CPU devices (MirroredStrategy) like on one.

16-bit arithmetic changes the numbers a little (float16 keeps ~3 significant digits, bfloat16 ~2), so the first
steps' losses are compared to float32's within a stated tolerance rather than exactly. A step whose gradients were
lost (a loss scaled outside the gradient tape gives none) would not train at all: the losses would stay put.

On two devices each replica takes its half of the global batch and its loss is scaled by the global batch, so the
all-reduced gradient is the one-device gradient; a replica that used the whole batch, or a mean over its own half,
would double the step and change the second step's loss. The generators are trained once per device count, every
policy in one process, and shared by the tests (tracing them is most of the time).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = """
import json, sys
import numpy as np
import tensorflow as tf

devices = None
if sys.argv[2] == "two":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    devices = ["/cpu:0", "/cpu:1"]
from halo_utils.config import use_precision
from halo_utils.generate.ddpm import DDPM, ddpm_config
from halo_utils.generate.training import read_losses
from halo_utils.generate.vae import VAE, vae_config
from halo_utils.generate.wgan import WGAN, wgan_config

images = np.random.default_rng(0).uniform(-1, 1, (8, 16, 16, 2)).astype(np.float32)
small = dict(widths=(8,), attention=(True,))  # a one-level U-Net: half the smoke graph to trace, the same code
labels = np.arange(8) % 3
out = {}
for policy in sys.argv[3:]:
    use_precision(policy)
    work = f"{sys.argv[1]}/{sys.argv[2]}_{policy}_"
    ddpm = DDPM(ddpm_config("smoke", train_steps=4, checkpoint_every=4, **small), images, seed=1, devices=devices)
    ddpm.train(work + "ddpm")
    wgan = WGAN(wgan_config("smoke", train_steps=3, checkpoint_every=3, generator_widths=(8,), critic_widths=(8,)),
                images, labels, seed=1, devices=devices)
    wgan.train(work + "wgan")
    vae = VAE(vae_config("smoke", size=16, dropout=0.0), 2, 1e-3, (images[..., 0] + 1) / 2, labels % 2, 2, seed=1,
              devices=devices)
    vae.train(4, work + "vae")
    vae.reset(1e-3)  # back to a new VAE: loss scale and step counter too
    out[policy] = dict(losses={k: read_losses(work + k) for k in ("ddpm", "wgan", "vae")},
                       replicas=ddpm.strategy.num_replicas_in_sync,
                       ema=[float(np.abs(w).sum()) for w in ddpm.ema.get_weights()],
                       generator=[float(np.abs(w).sum()) for w in wgan.generator.get_weights()],
                       optimizers=[type(o).__name__ for o in (ddpm.optimizer, wgan.c_opt, wgan.g_opt, vae.optimizer)],
                       outputs=[str(ddpm.sample(2, 0, steps=3, progress=False).dtype),
                                str(wgan.sample(2, 0)[0].dtype), vae.decoder.output.dtype],
                       scale_after_reset=float(tf.identity(vae.optimizer.dynamic_scale.value))
                       if hasattr(vae.optimizer, "dynamic_scale") else None)
try:
    use_precision("float32")
    DDPM(ddpm_config("smoke", train_steps=4, checkpoint_every=4, **small), images, seed=1, devices=devices).train(
        f"{sys.argv[1]}/{sys.argv[2]}_{sys.argv[-1]}_ddpm")
except ValueError as err:
    out["refused"] = str(err)
if devices:
    try:
        DDPM(ddpm_config("smoke", batch_size=3, **small), images, seed=0, devices=devices)
    except ValueError as err:
        out["refused_batch"] = str(err)
print(json.dumps(out))
"""


def _run(tmp_path, devices: str, *policies) -> dict:
    pytest.importorskip("tensorflow")
    path = tmp_path / "precision.py"
    path.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(path), str(tmp_path), devices, *policies], capture_output=True,
                          text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def _close(mixed: dict, full: dict, rtol: float, atol: float = 0.0):
    for model, losses in full.items():
        for name, values in losses.items():
            np.testing.assert_allclose(mixed[model][name], values, rtol=rtol, atol=atol, err_msg=f"{model} {name}")
            if model != "wgan":  # the trainings move: a run whose gradients were lost would repeat its first loss
                assert len(set(np.round(mixed[model][name], 5))) > 1, f"{model} {name} did not train"


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    """The three policies trained one after the other in one process on one device."""
    return _run(tmp_path_factory.mktemp("precision"), "one", "float32", "mixed_float16", "mixed_bfloat16")


def test_generators_train_in_mixed_precision_like_in_float32(one_device):
    out = one_device
    full = out["float32"]
    assert full["optimizers"] == ["Adam"] * 4
    assert out["mixed_float16"]["optimizers"] == ["LossScaleOptimizer"] * 4  # float16 underflows without scaling
    assert out["mixed_bfloat16"]["optimizers"] == ["Adam"] * 4  # bfloat16 has float32's range: no scaling
    for policy in ("mixed_float16", "mixed_bfloat16"):
        assert out[policy]["outputs"] == ["float32"] * 3, policy  # samples and logits leave the model in float32
    assert out["mixed_float16"]["scale_after_reset"] == 2.0 ** 15  # Keras' initial loss scale
    _close(out["mixed_float16"]["losses"], full["losses"], rtol=1e-2)  # stated tolerances: 1 % (float16),
    _close(out["mixed_bfloat16"]["losses"], full["losses"], rtol=3e-2)  # 3 % (bfloat16) over the first steps
    # a run folder of one precision is not resumed in another (the optimiser states differ)
    assert "precision" in out["refused"] and "mixed_bfloat16" in out["refused"]


@pytest.fixture(scope="module")
def two_devices(tmp_path_factory):
    """float32, then mixed float16, in one process on two logical CPU devices."""
    return _run(tmp_path_factory.mktemp("devices"), "two", "float32", "mixed_float16")


def test_generators_train_on_two_devices_like_on_one(one_device, two_devices):
    one, two = one_device["float32"], two_devices["float32"]
    assert "batch_size 3 does not split over 2 devices" in two_devices["refused_batch"]
    assert one["replicas"] == 1 and two["replicas"] == 2
    _close(two["losses"], one["losses"], rtol=1e-4)  # stated tolerance: 1e-4 relative
    # sums of |w| per weight array: Adam turns round-off in near-zero gradients into steps of up to its learning
    # rate (2e-4), so arrays whose gradients vanish may differ by a fraction of it
    np.testing.assert_allclose(two["ema"], one["ema"], rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(two["generator"], one["generator"], rtol=1e-4, atol=2e-5)


def test_mixed_float16_trains_on_two_devices(one_device, two_devices):
    """The GPU case of the paper's two-GPU training: loss scaling inside MirroredStrategy replicas."""
    two, one = two_devices["mixed_float16"], one_device["mixed_float16"]
    # float16 sums in another order on two devices: stated tolerance 0.3 % (+ 3e-4 for losses near 0)
    _close(two["losses"], one["losses"], rtol=3e-3, atol=3e-4)


def test_classifier_trains_in_mixed_float16(tmp_path):
    pytest.importorskip("tensorflow")
    import keras

    from halo_utils.config import use_precision
    from halo_utils.detect import classify
    from halo_utils.models.classifiers import build_lenet

    rng = np.random.default_rng(0)
    label = np.arange(64) % 2
    x = (rng.random((64, 32, 32, 2)) * (0.5 + 0.5 * label[:, None, None, None])).astype(np.float32)
    part = dict(x=x, y=np.eye(2, dtype=np.float32)[label], label=label, source=np.arange(64).astype(str))
    cfg = classify.train_config("smoke", epochs=3, patience=5, fit_gate=0.0, batch_size=16)
    runs = {}
    try:
        for policy in ("float32", "mixed_float16"):
            use_precision(policy)
            classify.deterministic(3)
            net = build_lenet(size=32, bands=2, dropout=0.0)  # no random layer: the policy is the only difference
            fit = classify.train(net, cfg, part, part, tmp_path / policy, seed=3)
            runs[policy] = dict(loss=fit["history"]["loss"], optimizer=type(net.optimizer).__name__,
                                scores=classify.predict(net, x[:8]), policy=net.dtype_policy.name)
        with pytest.raises(ValueError, match="unknown precision"):
            use_precision("float16")
    finally:
        use_precision("float32")
    assert keras.config.dtype_policy().name == "float32"
    mixed, full = runs["mixed_float16"], runs["float32"]
    assert (mixed["policy"], mixed["optimizer"]) == ("mixed_float16", "LossScaleOptimizer")
    assert mixed["scores"].dtype == np.float32
    np.testing.assert_allclose(mixed["loss"], full["loss"], rtol=2e-2)
    assert mixed["loss"][-1] < mixed["loss"][0]
