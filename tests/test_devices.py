"""The classifiers on two logical CPU devices (MirroredStrategy) train like on one: the same losses and scores (the
generators on two devices: tests/test_precision.py, which trains them once for both checks).

Each replica takes its half of the global batch and its loss is scaled by the global batch, so the all-reduced
gradient is the one-device gradient; a replica that used the whole batch, or a mean over its own half, would
double the step and change the second step's loss.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest


def _run(script: str, tmp_path) -> dict:
    """Run ``script`` (which sets up two logical CPUs before TensorFlow starts) in a fresh process; its last line."""
    pytest.importorskip("tensorflow")
    path = tmp_path / "two.py"
    path.write_text(script)
    done = subprocess.run([sys.executable, str(path), str(tmp_path)], capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


TWO_DEVICES = """
import json, sys
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from halo_utils.detect import classify
from halo_utils.models.classifiers import build_lenet

rng = np.random.default_rng(0)
label = np.arange(64) % 2
x = (rng.random((64, 32, 32, 2)) * (0.5 + 0.5 * label[:, None, None, None])).astype(np.float32)
part = dict(x=x, y=np.eye(2, dtype=np.float32)[label], label=label, source=np.arange(64).astype(str))
out = {}
for name, devices in (("one", None), ("two", ["/cpu:0", "/cpu:1"])):
    classify.deterministic(3)
    with classify.distribution(devices).scope():
        net = build_lenet(size=32, bands=2, dropout=0.0)  # no random layer: the two runs must agree
        cfg = classify.train_config("smoke", epochs=3, patience=5, fit_gate=0.0, batch_size=16)
        fit = classify.train(net, cfg, part, part, sys.argv[1] + "/" + name, seed=3)
    out[name] = dict(loss=fit["history"]["loss"], replicas=classify.distribution(devices).num_replicas_in_sync,
                     scores=classify.predict(net, x[:8]).tolist())
print(json.dumps(out))
"""


def test_two_devices_train_a_classifier_like_one(tmp_path):
    """MirroredStrategy over two logical CPUs: the same losses and scores as one device (global batch 16)."""
    out = _run(TWO_DEVICES, tmp_path)
    assert out["one"]["replicas"] == 1 and out["two"]["replicas"] == 2
    np.testing.assert_allclose(out["two"]["loss"], out["one"]["loss"], rtol=1e-4)  # stated tolerance: 1e-4 relative
    np.testing.assert_allclose(out["two"]["scores"], out["one"]["scores"], atol=1e-4)
