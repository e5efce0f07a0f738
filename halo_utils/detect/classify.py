"""Training and evaluating the halo classifiers under a stated protocol (notebook 05_classifier).

Protocols (written into every result):

* ``strict`` (default): validation sources are carved out of the training sources;
  test sources are seen only by the final evaluation; class 0 = real non-halo sources.
* ``paper``: as the radio-halo paper did: class 0 also holds the "empty" side cut-outs
  of halo images, and the validation set (early stopping, checkpoint choice) *is* the
  test set. Its numbers are optimistic by construction.

Training: class-balanced categorical cross-entropy (weights from the training class
counts), Adam, the checkpoint with the best validation accuracy, early stopping on the
validation loss, and ``keras.callbacks.BackupAndRestore`` so a stopped run resumes from
its last finished epoch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from ..config import deterministic, distribution, from_profile, precision_record, seeded
from ..paths import atomic_write
from .oof import binomial_interval
from .stream import probabilities, stream_batches
from .tags import TRAIN_ON, check_train_on, run_tag, settings_tag  # noqa: F401 (the names runs import from here)

__all__ = ["TrainConfig", "train_config", "TRAIN_ON", "check_train_on", "run_tag", "settings_tag", "distribution", "model_inputs",
           "class_weights", "deterministic", "source_loss", "train", "predict", "evaluate", "source_scores", "evaluate_run"]



@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Classifier training settings of one profile."""

    profile: str  # profile this config belongs to
    epochs: int = 25  # maximum epochs
    batch_size: int = 32  # 128 left A and D at ln 2 (8 steps per epoch in `cpu`): see the README
    learning_rate: float = 1e-3
    optimizer: str = "adam"  # a Keras optimizer name: 'adam' (beta 0.9 / 0.999), 'adagrad' (Tang et al. 2019)
    patience: int = 6  # epochs without improvement of stop_on before the run ends
    label_smoothing: float = 0.0  # categorical cross-entropy towards (eps/2, 1 - eps/2): curbs over-confidence
    checkpoint_on: str = "val_accuracy"  # the epoch kept: 'val_source_loss', 'val_loss' or 'val_accuracy'
    fit_gate: float = 0.0  # epochs whose training accuracy is below this rank after every epoch above it (0: off)
    stop_on: str = "val_loss"  # early stopping on the same choices
    val_fraction: float = 0.2  # strict protocol: share of training sources (per class) moved to validation
    bands: tuple = (0, 1, 2, 3)  # band indices fed to the model (0 = 72-103 MHz)
    scaling: str = "log"  # 'log': log10(1 + x/x0) min-max scaled to [0, 1]; 'minmax': linear min-max (the paper's)
    jit_compile: bool = False  # XLA; measured slower than plain TF on this 2-core CPU (see the benchmark)
    folds: int = 5  # kfold protocol: folds per repeat
    repeats: int = 2  # kfold protocol: repeats of the k-fold split
    plan_seed: int | None = None  # kfold protocol: the seed of the folds (None: the run's; set: all seeds share them)
    baseline_permutations: int = 100  # kfold protocol: label permutations of the hand-feature baseline
    baseline_trees: int = 200  # trees of the hand-feature baseline's random forest (baseline.TREES)
    mock_fields: int = 3000  # train_on 'mock' / 'mock+gleam': mock training fields (validation 1/5, test 1/2 of it)
    mock_fresh_views: bool = False  # train_on 'mock' / 'mock+gleam': new random views of the fields every epoch
    injected_repeats: int = 1  # train_on 'injected': repeats of the k-fold plan (its first repeat is the real-only run's)
    injected_images: int = 4000  # train_on 'injected': training images per epoch (pairs with and without a halo), new each epoch
    injected_val: int = 1000  # train_on 'injected': validation images per fold (from the validation sources' fields)
    injected_test: int = 800  # train_on 'injected': held-out images per fold (half with a halo, half with nothing)
    injected_decoys: float = 0.5  # train_on 'injected': share of the halo-free training images given a decoy
    injected_hard: float = 0.25  # train_on 'injected': share of the pairs centred on a non-halo cluster's centre
    injected_fpr: float = 0.05  # train_on 'injected': false-positive rate of the threshold on the validation images
    injected_tune_lr: float = 1e-4  # train_on 'injected+gleam': learning rate of the fine-tuning on the fold's labelled sources
    limit_draws: int = 20  # train_on 'injected': halos injected per flux density into each held-out cluster (upper limits)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_SOURCE_LEVEL = dict(checkpoint_on="val_source_loss", stop_on="val_source_loss", fit_gate=0.95)
_TRAIN_PROFILES = {
    "smoke": TrainConfig("smoke", epochs=2, patience=1, folds=2, repeats=1, baseline_permutations=3, baseline_trees=25,
                         mock_fields=200, injected_images=64, injected_val=32, injected_test=32, limit_draws=2,
                         **_SOURCE_LEVEL),
    "cpu": TrainConfig("cpu", epochs=20, patience=6, **_SOURCE_LEVEL),
    "paper": TrainConfig("paper", epochs=25, patience=6, repeats=5, baseline_permutations=1000, mock_fields=50000,
                         injected_repeats=2, injected_images=20000, injected_val=4000, injected_test=4000, limit_draws=50,
                         **_SOURCE_LEVEL),
}


def train_config(profile: str, **overrides) -> TrainConfig:
    """The :class:`TrainConfig` of a profile, with optional field overrides (unknown keys are an error)."""
    return from_profile(_TRAIN_PROFILES, profile, overrides)


def model_inputs(ds, part: str, bands=(0, 1, 2, 3), scaling: str = "log") -> dict:
    """Images of one split as model inputs.

    ``scaling`` 'minmax' is the linear min-max scaling of the training images
    (``HaloDataset.minmax_inputs``); 'log' is the log scaling of the generative models
    (``HaloDataset.log_inputs``) mapped from [-1, 1] to [0, 1], which lifts faint
    diffuse emission out of the zeros (the linear scale puts the median image maximum at 0.02-0.05).

    Returns
    -------
    dict with ``x`` (n, 64, 64, len(bands)) float32 in [0, 1] (for training sources),
    ``y`` (n, 2) one-hot, ``label`` (n,), ``source`` (n,) names, ``empty`` (n,) True for the
    paper protocol's empty side cut-outs
    """
    mask = ds.split == part
    if not mask.any():
        raise ValueError(f"the dataset has no '{part}' images")
    x = ds.classifier_inputs(scaling, mask)
    x = x[..., list(bands)].astype(np.float32)
    label = ds.label[mask].astype(int)
    return dict(x=x, y=np.eye(2, dtype=np.float32)[label], label=label, source=ds.source[mask],
                empty=ds.empty[mask])


def class_weights(label: np.ndarray) -> dict:
    """Balanced class weights n / (2 n_c) from the training labels (0/1)."""
    counts = np.bincount(label, minlength=2)
    if (counts == 0).any():
        raise ValueError(f"training labels hold only one class (counts {counts.tolist()})")
    return {c: float(len(label) / (2 * counts[c])) for c in (0, 1)}


def _mode(metric: str) -> str:
    """'min' for losses, 'max' for accuracies and AUCs."""
    return "min" if metric.endswith("loss") else "max"


def source_loss(prob: np.ndarray, label: np.ndarray, source: np.ndarray) -> float:
    """Class-balanced cross-entropy of the per-source scores (mean halo probability over a source's images).

    Each class weighs half, whatever its number of sources; nats per source.
    """
    scores = source_scores(prob, label, source)
    p = np.clip(scores.score.to_numpy(), 1e-7, 1 - 1e-7)
    y = scores.label.to_numpy()
    losses = [-np.mean(np.log(p[y == 1])) if (y == 1).any() else np.nan,
              -np.mean(np.log(1 - p[y == 0])) if (y == 0).any() else np.nan]
    return float(np.nanmean(losses))


def _validation_callback(val_data: dict, batch_size: int, fit_gate: float = 0.0):
    """A callback that adds ``val_loss``, ``val_accuracy`` (per image) and ``val_source_loss`` to the epoch logs.

    :func:`train` calls it after every epoch, before it checkpoints and decides to stop. Without a
    ``source`` entry in ``val_data`` every image counts as its own source. With ``fit_gate`` > 0,
    an epoch whose training accuracy is below the gate has 100 added to its ``val_source_loss``, so
    the checkpoint prefers any epoch that has learnt its training set over a barely trained one
    (whose near-constant outputs score a low source-level loss on a few validation sources).
    """
    import keras

    source = val_data.get("source", np.arange(len(val_data["label"])).astype(str))

    class Validate(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            prob = probabilities(self.model, val_data["x"], batch_size)
            p = np.clip(prob[np.arange(len(prob)), val_data["label"]], 1e-7, 1.0)
            logs.update(val_loss=float(-np.mean(np.log(p))),
                        val_accuracy=float(np.mean(prob.argmax(1) == val_data["label"])),
                        val_source_loss=source_loss(prob[:, 1], val_data["label"], source)
                        + (100.0 if logs.get("accuracy", 1.0) < fit_gate else 0.0))

    return Validate()


def _rng_states(model) -> list:
    """The states of the model's random layers (dropout, Gaussian noise): what a resumed run must continue from."""
    return [layer.seed_generator.state.numpy().tolist() for layer in model.layers if hasattr(layer, "seed_generator")]


def _set_rng_states(model, states: list):
    layers = [layer for layer in model.layers if hasattr(layer, "seed_generator")]
    for layer, state in zip(layers, states, strict=True):
        layer.seed_generator.state.assign(np.asarray(state, layer.seed_generator.state.dtype))


class _Tracker:
    """The best value of one metric and the epochs since it improved (Keras' rule: strictly better counts)."""

    def __init__(self, metric: str, best=None, wait: int = 0):
        self.metric, self.best, self.wait = metric, best, wait

    def update(self, logs: dict) -> bool:
        """Take one epoch's logs; True if the metric improved."""
        value = float(logs[self.metric])
        better = self.best is None or (value < self.best if _mode(self.metric) == "min" else value > self.best)
        self.best, self.wait = (value, 0) if better else (self.best, self.wait + 1)
        return better


def _epoch_files(workdir: Path, keep: str = "") -> list:
    """Names of the per-epoch weight files in ``workdir`` other than ``keep``."""
    return [p.name for p in workdir.glob("epoch*.weights.h5") if p.name != keep]


def _save_weights(model, path: Path):
    """``model.save_weights`` (layers and optimizer) through a temporary file, so a kill leaves the old file."""
    tmp = path.with_name(f".{path.name[:-len('.weights.h5')]}.tmp.weights.h5")
    model.save_weights(tmp)
    os.replace(tmp, path)


def train(model, config: TrainConfig, train_data: dict, val_data: dict, workdir, seed: int = 0) -> dict:
    """Fit ``model`` in place, epoch by epoch; loads the weights of the best epoch by ``config.checkpoint_on`` at the end.

    After every epoch the validation sources give ``val_loss``, ``val_accuracy`` and
    ``val_source_loss`` (class-balanced cross-entropy of the per-source scores: what a detector
    is judged by); ``config.checkpoint_on`` picks the kept epoch and ``config.stop_on`` ends the
    run after ``config.patience`` epochs without improvement. The training images are shuffled
    by a permutation drawn from (``seed``, epoch). ``train_data["x"]`` and ``val_data["x"]`` are arrays, or lazy
    images that ``x[rows]`` makes when read and ``x.fingerprint()`` names (mock fields streamed from disk:
    :mod:`halo_utils.detect.mocktrain`); lazy images are fed batch by batch in the same order, with the same weights,
    and those with ``x.at_epoch(epoch)`` give each epoch its own images (fresh views of the same fields).

    Exactly resumable: after every epoch ``workdir`` receives the weights with the optimizer
    state (``epoch<n>.weights.h5``, a new file each epoch), the random layers' states, the early-stopping and checkpoint
    state and the history (``state.json``, written last: the commit point). A run killed at any
    moment and called again continues as if never stopped and ends with the same numbers.
    ``best.weights.h5`` + ``best.json`` hold the kept epoch; once finished, ``done.json`` lets
    a call with the same settings and data load the result instead of training
    (``reused`` True, ``train_seconds`` 0).

    Returns
    -------
    dict with ``history`` (per-epoch lists: ``epoch`` from 1, ``loss``, ``accuracy``, ``val_loss``,
    ``val_accuracy``, ``val_source_loss``), ``best_epoch``, ``epochs_run``, ``train_seconds``
    (of this call) and ``reused``
    """
    import keras

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    run = json.loads(json.dumps(dict(config=config.to_dict(), data=_fingerprint(train_data, val_data), seed=seed,
                                     **precision_record(model))))
    done, saved = workdir / "done.json", workdir / "state.json"
    if done.exists() and json.loads(done.read_text())["run"] == run and (workdir / "best.weights.h5").exists():
        model.load_weights(workdir / "best.weights.h5")
        return dict(json.loads(done.read_text())["result"], train_seconds=0.0, reused=True)
    optimizer = keras.optimizers.get({"class_name": config.optimizer, "config": {"learning_rate": config.learning_rate}})
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"], jit_compile=config.jit_compile)
    state = dict(epoch=0, history=[], stop=[None, 0], keep=[None, 0], best_epoch=None)
    if saved.exists() and json.loads(saved.read_text())["run"] == run:
        state = json.loads(saved.read_text())["state"]
        model.optimizer.build(model.trainable_variables)
        model.load_weights(workdir / state["weights"])
        _set_rng_states(model, state["rng"])
        print(f"resuming after epoch {state['epoch']} of {config.epochs}")
    else:
        for name in ("state.json", "best.json", "best.weights.h5", "done.json", "history.csv", *_epoch_files(workdir)):
            (workdir / name).unlink(missing_ok=True)  # a fresh start: forget any earlier run
    stop, keep = _Tracker(config.stop_on, *state["stop"]), _Tracker(config.checkpoint_on, *state["keep"])
    weights = class_weights(train_data["label"])
    validate = _validation_callback(val_data, config.batch_size, config.fit_gate)
    validate.set_model(model)
    start = time.perf_counter()
    while state["epoch"] < config.epochs and not (stop.wait >= config.patience and state["epoch"] > 1):
        epoch = state["epoch"]
        order = seeded(seed, epoch).permutation(len(train_data["x"]))
        tick = time.perf_counter()
        seen = dict(train_data, x=train_data["x"].at_epoch(epoch)) if hasattr(train_data["x"], "at_epoch") else train_data
        fit = model.fit(stream_batches(seen, order, weights, config.batch_size), epochs=1, shuffle=False, verbose=0)
        logs = {k: float(v[-1]) for k, v in fit.history.items()}
        validate.on_epoch_end(epoch, logs)
        stop.update(logs)
        if keep.update(logs):
            _save_weights(model, workdir / "best.weights.h5")
            state["best_epoch"] = epoch + 1
            atomic_write(workdir / "best.json", lambda tmp: Path(tmp).write_text(
                json.dumps(dict(metric=keep.metric, value=keep.best, epoch=epoch + 1))))
        state.update(epoch=epoch + 1, history=state["history"] + [dict(epoch=epoch + 1, **logs)],
                     stop=[stop.best, stop.wait], keep=[keep.best, keep.wait], rng=_rng_states(model),
                     weights=f"epoch{epoch + 1}.weights.h5")
        _save_weights(model, workdir / state["weights"])  # a new file: the committed epoch's stays until the commit
        atomic_write(saved, lambda tmp: Path(tmp).write_text(json.dumps(dict(run=run, state=state))))
        for name in _epoch_files(workdir, keep=state["weights"]):
            (workdir / name).unlink(missing_ok=True)
        print(f"epoch {epoch + 1}/{config.epochs} - " + " - ".join(f"{k} {v:.4f}" for k, v in logs.items())
              + f" - {time.perf_counter() - tick:.0f}s", flush=True)
    seconds = time.perf_counter() - start
    model.load_weights(workdir / "best.weights.h5")
    history = {k: [row[k] for row in state["history"]] for k in state["history"][0]}
    result = dict(history=history, best_epoch=state["best_epoch"], epochs_run=state["epoch"])
    atomic_write(done, lambda tmp: Path(tmp).write_text(json.dumps(dict(run=run, result=result))))
    return dict(result, train_seconds=seconds, reused=False)


def _fingerprint(*parts: dict) -> str:
    """SHA-1 over the images and labels of the training and validation sets (is it the same run?); lazy images
    give their own ``fingerprint()``."""
    digest = hashlib.sha1()
    for part in parts:
        x = part["x"]
        digest.update(np.ascontiguousarray(x) if isinstance(x, np.ndarray) else x.fingerprint().encode())
        digest.update(np.ascontiguousarray(part["y"]))
    return digest.hexdigest()


def predict(model, x, batch_size: int = 256) -> np.ndarray:
    """Halo probability (n,) for images (n, 64, 64, B), an array or lazy (see :func:`~.stream.probabilities`)."""
    return probabilities(model, x, batch_size)[:, 1]


def source_scores(prob: np.ndarray, label: np.ndarray, source: np.ndarray):
    """Per-source score: the mean halo probability over a source's images.

    Returns
    -------
    pandas.DataFrame indexed by source with columns label, score, n_images
    """
    import pandas as pd

    table = pd.DataFrame(dict(source=source, label=label, score=prob))
    return table.groupby("source").agg(label=("label", "first"), score=("score", "mean"),
                                       n_images=("score", "size"))


def evaluate(prob: np.ndarray, label: np.ndarray, threshold: float = 0.5) -> dict:
    """Accuracy, precision, recall, F1, ROC AUC, ROC curve and row-normalised confusion matrix (scikit-learn).

    ROC AUC is NaN when only one class is present. The ROC curve is interpolated onto
    101 false-positive rates in [0, 1] so runs can be averaged.
    """
    from sklearn import metrics

    pred = (prob >= threshold).astype(int)
    out = dict(accuracy=metrics.accuracy_score(label, pred),
               precision=metrics.precision_score(label, pred, zero_division=0),
               recall=metrics.recall_score(label, pred, zero_division=0),
               f1=metrics.f1_score(label, pred, zero_division=0),
               confusion=metrics.confusion_matrix(label, pred, labels=[0, 1], normalize="true").tolist(),
               n=int(len(label)))
    if len(np.unique(label)) == 2:
        fpr, tpr, _ = metrics.roc_curve(label, prob)
        grid = np.linspace(0, 1, 101)
        out.update(roc_auc=metrics.roc_auc_score(label, prob), roc_fpr=grid.tolist(),
                   roc_tpr=np.interp(grid, fpr, tpr).tolist())
    else:
        out.update(roc_auc=float("nan"), roc_fpr=[], roc_tpr=[])
    return {k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in out.items()}


def evaluate_run(model, test: dict) -> dict:
    """Evaluate on the test images, per image and per source.

    Per source, the score is the mean halo probability over the source's augmented images
    (empty side cut-outs left out: they are not the source).

    Returns
    -------
    dict with ``image`` (every test image), ``image_real`` (without the paper protocol's empty
    cut-outs) and ``source`` (:func:`evaluate` outputs), ``source_accuracy_ci`` (95 % Wilson
    interval of the per-source accuracy) and ``scores`` (the :func:`source_scores` table)
    """
    prob = predict(model, test["x"])
    real = ~test["empty"]
    scores = source_scores(prob[real], test["label"][real], test["source"][real])
    per_source = evaluate(scores.score.to_numpy(), scores.label.to_numpy())
    right = int(round(per_source["accuracy"] * per_source["n"]))
    return dict(image=evaluate(prob, test["label"]), image_real=evaluate(prob[real], test["label"][real]),
                source=per_source, source_accuracy_ci=list(binomial_interval(right, per_source["n"])), scores=scores)
