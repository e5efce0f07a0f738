"""Classifiers: parameter counts, protocols, class weights, metrics, determinism and resuming."""

import json
import os

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from halo_utils import config  # noqa: E402
from halo_utils.data import read_dataset  # noqa: E402
from halo_utils.detect import classify  # noqa: E402
from halo_utils.models.classifiers import build_classifier  # noqa: E402
from halo_utils.prep import dataset  # noqa: E402
from halo_utils.prep.splits import protocol_split  # noqa: E402


def n_trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("name, bands, expected", [("I", 1, 58_898), ("A", 4, 939_490), ("D", 1, 264_580)])
def test_paper_parameter_counts(name, bands, expected):
    assert n_trainable(build_classifier(name, bands=bands)) == expected


@pytest.mark.parametrize("name", ["I", "A", "D"])
@pytest.mark.parametrize("bands", [1, 4])
def test_builders_map_images_to_two_class_probabilities(name, bands):
    model = build_classifier(name, bands=bands)
    out = model(np.random.default_rng(0).random((3, 64, 64, bands), dtype=np.float32), training=False)
    assert out.shape == (3, 2)
    assert np.allclose(np.sum(out, axis=1), 1, atol=1e-5)


def test_unknown_model_and_protocol_are_named():
    with pytest.raises(ValueError, match="'X'"):
        build_classifier("X")
    with pytest.raises(ValueError, match="'lenient'"):
        classify.run_tag("A", "lenient")


@pytest.fixture(scope="module")
def mock_sources(mock_sky):
    return read_dataset(mock_sky)


def test_strict_protocol_never_validates_on_test_sources(mock_sources):
    split, empty = protocol_split(mock_sources, "strict", seed=3)
    assert not empty
    published = {s.name: s.split for s in mock_sources}
    assert {n for n, p in split.items() if p == "test"} == {n for n, p in published.items() if p == "test"}
    val = {n for n, p in split.items() if p == "val"}
    assert val and all(published[n] == "train" for n in val)
    paper, empty = protocol_split(mock_sources, "paper", seed=3)
    assert empty and paper == published


def test_class_weights_balance_the_classes():
    weights = classify.class_weights(np.array([0, 0, 0, 1]))
    assert weights[0] * 3 == pytest.approx(weights[1] * 1)
    assert weights[0] * 3 + weights[1] == pytest.approx(4)
    with pytest.raises(ValueError, match="one class"):
        classify.class_weights(np.zeros(5, int))


def test_evaluate_matches_hand_counts():
    label = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    prob = np.array([0.9, 0.8, 0.3, 0.6, 0.1, 0.2, 0.4, 0.05])
    m = classify.evaluate(prob, label)
    assert m["accuracy"] == pytest.approx(6 / 8)  # TP 2, FN 1, FP 1, TN 4
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert np.allclose(m["confusion"], [[4 / 5, 1 / 5], [1 / 3, 2 / 3]])
    assert m["roc_auc"] == pytest.approx(13 / 15)  # 13 of the 15 (halo, non-halo) pairs ranked right
    assert m["roc_tpr"][0] >= 0 and m["roc_tpr"][-1] == pytest.approx(1)


def test_source_scores_average_over_images():
    table = classify.source_scores(np.array([0.2, 0.4, 0.9]), np.array([0, 0, 1]), np.array(["a", "a", "b"]))
    assert table.loc["a", "score"] == pytest.approx(0.3) and table.loc["a", "n_images"] == 2
    assert table.loc["b", "label"] == 1


@pytest.fixture(scope="module")
def small_data(mock_sources):
    split, _ = protocol_split(mock_sources, "strict", seed=0)
    ds = dataset.build_dataset(mock_sources, config.data_config("smoke"), seed=0, split=split)
    return {part: classify.model_inputs(ds, part) for part in ("train", "val", "test")}


def fit(small_data, workdir, seed=0, epochs=3, callbacks=()):
    classify.deterministic(seed)
    model = build_classifier("I")
    cfg = classify.train_config("smoke", epochs=epochs, patience=10)
    result = classify.train(model, cfg, small_data["train"], small_data["val"], workdir)
    return model, result


def test_same_seed_gives_the_same_metrics(small_data, tmp_path):
    runs = []
    for name in ("a", "b"):
        model, result = fit(small_data, tmp_path / name)
        metrics = classify.evaluate_run(model, small_data["test"])
        runs.append(json.dumps(dict(history=result["history"], image=metrics["image"]), sort_keys=True))
    assert runs[0] == runs[1]
    _, other = fit(small_data, tmp_path / "c", seed=1)
    assert json.dumps(other["history"], sort_keys=True) != json.loads(runs[0])["history"]


@pytest.mark.parametrize("model", ["I", "A", "D"])
def test_training_on_batches_gives_the_numbers_of_keras_on_arrays(model, small_data):
    """``train`` feeds arrays batch by batch through ``tf.data`` (no whole-array conversion per epoch): one epoch on
    those batches and Keras' own ``fit`` on the reordered arrays with class weights give the same weights, bit for
    bit, and ``predict`` gives ``model.predict``'s probabilities."""
    from halo_utils.detect.stream import probabilities, stream_batches

    data = small_data["train"]
    keep = np.flatnonzero((data["label"] == 0) | (np.arange(len(data["x"])) % 3 == 0))  # unequal classes
    data = {k: v[keep] for k, v in data.items()}
    order, weights = np.random.default_rng(3).permutation(len(keep)), classify.class_weights(data["label"])
    nets = []
    for fed_by in ("keras", "batches"):
        classify.deterministic(5)
        net = build_classifier(model)
        net.compile(optimizer="adam", loss="categorical_crossentropy")
        if fed_by == "keras":
            net.fit(data["x"][order], data["y"][order], batch_size=8, epochs=1, shuffle=False, class_weight=weights,
                    verbose=0)
        else:
            net.fit(stream_batches(data, order, weights, 8), epochs=1, shuffle=False, verbose=0)
        nets.append(net)
    for a, b in zip(*(net.get_weights() for net in nets), strict=True):
        np.testing.assert_array_equal(a, b)
    x = small_data["test"]["x"]
    np.testing.assert_array_equal(probabilities(nets[1], x, 8), nets[1].predict(x, batch_size=8, verbose=0))


KILLED_RUN = """
import json, os, sys
import numpy as np
from halo_utils.detect import classify
from halo_utils.models.classifiers import build_classifier

model, workdir, kill_after = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = np.load(os.path.join(os.path.dirname(workdir), "data.npz"))
part = lambda p: dict(x=data[p + "_x"], y=np.eye(2, dtype=np.float32)[data[p + "_label"]], label=data[p + "_label"],
                      source=data[p + "_source"])
if kill_after:  # the process kills itself with SIGKILL once the given epoch's state is on disk
    original = classify.atomic_write
    def write_then_die(path, write):
        out = original(path, write)
        if os.path.basename(str(path)) == "state.json" and json.load(open(path))["state"]["epoch"] == kill_after:
            os.kill(os.getpid(), 9)
        return out
    classify.atomic_write = write_then_die
classify.deterministic(7)
net = build_classifier(model, size=data["train_x"].shape[1], bands=data["train_x"].shape[-1])
cfg = classify.train_config("smoke", epochs=5, patience=2, fit_gate=0.0)
fit = classify.train(net, cfg, part("train"), part("val"), workdir, seed=7)
test = part("test")
print(json.dumps(dict(history=fit["history"], best_epoch=fit["best_epoch"],
                      scores=classify.predict(net, test["x"]).round(6).tolist())))
"""


@pytest.mark.parametrize("model", ["I", "A"])
def test_a_killed_run_resumes_to_the_same_result(model, small_data, tmp_path):
    """A real SIGKILL after a random epoch, then a restart: the same history, kept epoch and test scores."""
    import subprocess
    import sys

    np.savez(tmp_path / "data.npz", **{f"{p}_{k}": small_data[p][k][:, 16:48, 16:48] if k == "x" else small_data[p][k]
                                      for p in ("train", "val", "test") for k in ("x", "label", "source")})
    script = tmp_path / "run.py"
    script.write_text(KILLED_RUN)

    def run(workdir, kill_after=0):
        return subprocess.run([sys.executable, str(script), model, str(workdir), str(kill_after)],
                              capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))

    whole = run(tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr[-2000:]
    kill_after = int(np.random.default_rng().integers(1, 4))  # a different epoch each time the test runs
    killed = run(tmp_path / "killed", kill_after)
    assert killed.returncode == -9, (kill_after, killed.stderr[-2000:])
    resumed = run(tmp_path / "killed")
    assert resumed.returncode == 0 and f"resuming after epoch {kill_after}" in resumed.stdout, resumed.stderr[-2000:]
    expected, got = json.loads(whole.stdout.splitlines()[-1]), json.loads(resumed.stdout.splitlines()[-1])
    assert got == expected, f"killed after epoch {kill_after}"



def test_a_finished_run_is_reused_and_other_settings_train_afresh(small_data, tmp_path):
    first, done = fit(small_data, tmp_path, epochs=2)
    again, reused = fit(small_data, tmp_path, epochs=2)
    assert reused["reused"] and not done["reused"] and reused["history"] == done["history"]
    for a, b in zip(first.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
    (tmp_path / "best.json").write_text(json.dumps(dict(metric="val_source_loss", value=-1.0, epoch=99)))  # unbeatable, stale
    _, result = fit(small_data, tmp_path, epochs=3)
    assert not result["reused"] and result["best_epoch"] in (1, 2, 3) and result["history"]["epoch"] == [1, 2, 3]


def test_the_fit_gate_ranks_unfitted_epochs_after_fitted_ones():
    constant = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.Flatten(),  # halo probability 0.5 everywhere
                                 keras.layers.Dense(2, kernel_initializer="zeros", activation="softmax")])
    val = dict(x=np.zeros((4, 2, 2, 1), np.float32), label=np.array([0, 0, 1, 1]), source=np.array(["a", "a", "b", "b"]))
    callback = classify._validation_callback(val, 2, fit_gate=0.95)
    callback.set_model(constant)
    losses = {}
    for accuracy in (0.5, 0.99):
        logs = dict(accuracy=accuracy)
        callback.on_epoch_end(0, logs)
        losses[accuracy] = logs["val_source_loss"]
    assert losses[0.99] == pytest.approx(np.log(2)) and losses[0.5] == pytest.approx(100 + np.log(2))
