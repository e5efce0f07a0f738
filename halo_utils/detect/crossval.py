"""Cross-validated halo detection: every source scored by models that never saw it (protocol ``kfold``).

With 46 clusters one published split of 10 test sources cannot tell an AUC of 0.7 from 0.5,
and its training split hides a brightness shortcut that flips in the test split. Here every
source is a test source once per repeat of a stratified k-fold by source *group*
(:func:`halo_utils.prep.splits.sky_groups`: sources whose fields overlap stay together);
validation sources for checkpointing and early stopping are carved inside each training
fold; the out-of-fold per-source scores are pooled (:mod:`halo_utils.detect.oof`).

    plan = kfold_plan(sources, settings, k=5, repeats=2, seed=0)
    scores, fits = fit_kfold(sources, "I", settings, training, plan, seed=0, workdir=...)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import paths
from ..config import child_seed, seeded
from ..data.grid import field_size
from ..models.classifiers import build_classifier
from ..paths import write_json
from ..prep.dataset import build_dataset
from ..prep.features import unclipped_fields
from ..prep.noise import noise_table
from ..prep.splits import grouped_kfold, sky_groups
from . import baseline
from .artefact import member_record, write_member
from .classify import distribution, model_inputs, predict, source_scores, train
from .oof import permutation_pvalue, pooled_metrics, repeat_metrics

if TYPE_CHECKING:  # annotations only: pandas is imported where it is used
    pass

__all__ = ["group_distance_deg", "kfold_plan", "fit_kfold", "plan_seed", "fold_seed", "permuted", "permuted_plan",
           "baseline_scores",
           "run"]


def group_distance_deg(config) -> float:
    """Default grouping distance: the side of the field a model sees (the rotated cut-out), degrees.

    With native pixels (``pixel_arcmin`` None) the widest band's cut-out (0.933' pixels) is used.
    """
    pixel = config.pixel_arcmin if config.pixel_arcmin is not None else 0.933
    return field_size(config.cutout) * pixel / 60.0


def kfold_plan(sources, config, k: int = 5, repeats: int = 2, seed: int = 0, val_fraction: float = 0.2,
               group_deg: float | None = None) -> list:
    """The folds of one run: :func:`halo_utils.prep.splits.grouped_kfold` over sky groups of ``sources``.

    Returns the list of dicts (``repeat``, ``fold``, ``split``), each with ``groups`` added
    (source -> group id) so a reader can check that no group was split.
    """
    group_deg = group_distance_deg(config) if group_deg is None else group_deg
    groups = sky_groups({s.name: s.radec for s in sources}, group_deg)
    labels = {s.name: s.label for s in sources}
    return [dict(f, groups=groups) for f in grouped_kfold(labels, groups, k, repeats, seed, val_fraction)]


def plan_seed(training, seed: int) -> int:
    """The seed of a run's folds: ``training.plan_seed`` if set (every seed then shares the folds), else ``seed``."""
    return seed if training.plan_seed is None else training.plan_seed


def fold_seed(seed: int, repeat: int, fold: int) -> int:
    """The seed of one fold's network and shuffling, independent of which folds ran before (resumable)."""
    return child_seed(seed, repeat, fold)


def fit_kfold(sources, model: str, config, training, plan: list, seed: int, workdir, noise=None,
              progress: bool = True, devices=None, init_weights=None, extend=None) -> tuple:
    """Train one classifier per fold of ``plan`` and score its test sources.

    Parameters
    ----------
    sources : list of :class:`~halo_utils.data.Source`
    model : 'I', 'A' or 'D'
    config, training : :class:`~halo_utils.config.DataConfig`, :class:`~halo_utils.detect.classify.TrainConfig`
    plan : :func:`kfold_plan`
    workdir : folder; fold ``r<repeat>f<fold>`` trains (and resumes) in its own sub-folder and leaves
        there its kept weights and ``member.json`` (:mod:`halo_utils.detect.artefact`: what a saved detector needs)
    devices : where to train (:func:`halo_utils.detect.classify.distribution`; None: one device)
    init_weights : weights to start every fold from (a pre-trained network of the same architecture, e.g. the
        mock-sky detector's); None: Keras' initialisation
    extend : ``extend(ds, fold, train) -> (train, info)``, called per fold on its training part (the dict of
        :func:`~halo_utils.detect.classify.model_inputs`) before training, e.g. to add generated halos
        (:mod:`halo_utils.studies.augmentation`); ``info`` is kept in the fold's ``fits`` entry as ``extended``

    Returns
    -------
    scores : DataFrame, one row per (repeat, source) with fold, label, score (out-of-fold)
    fits : list of per-fold dicts: training-image accuracy of the kept weights (inference mode),
        best epoch, epochs run, seconds, the kept epoch's validation source loss (100 added when that epoch
        is below the fit gate, as ``classify.train`` ranks it), history
    """
    import keras
    import pandas as pd
    from tqdm.auto import tqdm

    noise = noise_table(sources) if noise is None else noise
    radec = {s.name: s.radec for s in sources}
    rows, fits = [], []
    for f in tqdm(plan, desc=f"{model} folds", disable=not progress):
        ds = build_dataset(sources, config, seed=seed, split=f["split"], noise=noise)
        parts = {p: model_inputs(ds, p, training.bands, training.scaling) for p in ("train", "val", "test")}
        extended = None
        if extend is not None:
            parts["train"], extended = extend(ds, f, parts["train"])
        fold = fold_seed(seed, f["repeat"], f["fold"])
        keras.utils.set_random_seed(fold)
        with distribution(devices).scope():
            net = build_classifier(model, size=config.cutout, bands=len(training.bands))
            if init_weights is not None:
                net.load_weights(init_weights)
            fit = train(net, training, parts["train"], parts["val"], f"{workdir}/r{f['repeat']}f{f['fold']}", seed=fold)
        write_member(f"{workdir}/r{f['repeat']}f{f['fold']}", member_record(ds, f["split"], noise, radec))
        test = parts["test"]
        table = source_scores(predict(net, test["x"]), test["label"], test["source"])
        seen = predict(net, parts["train"]["x"])  # inference mode: no dropout, no noise layer
        rows += [dict(repeat=f["repeat"], fold=f["fold"], source=name, label=int(r.label), score=float(r.score))
                 for name, r in table.iterrows()]
        best = fit["best_epoch"] - 1
        fits.append(dict(repeat=f["repeat"], fold=f["fold"], best_epoch=fit["best_epoch"],
                         epochs_run=fit["epochs_run"], train_seconds=fit["train_seconds"],
                         train_accuracy=float(np.mean((seen >= 0.5) == parts["train"]["label"])),
                         val_source_loss=float(fit["history"]["val_source_loss"][best]),
                         history=fit["history"], extended=extended))
    return pd.DataFrame(rows), fits


def permuted(sources, seed: int) -> list:
    """The sources with their labels shuffled among them (seeded): the label-permutation baseline."""
    import dataclasses

    labels = seeded(seed, "labels").permutation([s.label for s in sources])
    return [dataclasses.replace(s, label=int(y)) for s, y in zip(sources, labels)]


def permuted_plan(sources, config, k: int, repeats: int, seed: int, i: int, val_fraction: float = 0.2) -> tuple:
    """Permutation ``i`` of a run: the sources with shuffled labels and the folds planned from those labels."""
    child = child_seed(seed, "permutation", i)
    return permuted(sources, child), kfold_plan(permuted(sources, child), config, k, repeats, child, val_fraction)


def baseline_scores(sources, config, plan: list, seed: int, noise, permutations: int = 0,
                    progress: bool = True, trees: int = baseline.TREES) -> tuple:
    """The hand-feature forest (:mod:`halo_utils.detect.baseline`) under ``plan``, and its permutation null.

    Each permutation shuffles the labels, plans new folds with them and fits again: the
    whole pipeline, so the null AUC includes whatever the folds or features could leak.

    ``trees``: the forest's (``TrainConfig.baseline_trees``). Returns (scores table, list of null AUCs)
    """
    from tqdm.auto import tqdm

    fields, memo = unclipped_fields(sources, config), {}
    scores = baseline.fit_kfold(fields, {s.name: s.label for s in sources}, noise, config, plan, seed, trees, memo)
    null = []
    k, repeats = _shape(plan)
    for i in tqdm(range(permutations), desc="baseline permutations", disable=not progress or not permutations):
        fake, fake_plan = permuted_plan(sources, config, k, repeats, seed, i)
        table = baseline.fit_kfold(fields, {s.name: s.label for s in fake}, noise, config, fake_plan, seed, trees, memo)
        null.append(float(repeat_metrics(table).auc.mean()))
    return scores, null


def _cached_baseline(sources, config, plan, seed, noise, permutations, folder, progress, wait_s: float = 3600,
                     trees: int = baseline.TREES):
    """:func:`baseline_scores`, computed once per (sources, settings, folds, seed, permutations, trees) and reused.

    Every model of a seed shares the folds, so the baseline and its permutations (minutes) run once.
    Runs of a sweep that start together (``--jobs 2``) do not both compute it: the first makes it,
    the others wait for its result (:func:`halo_utils.paths.only_once`).
    """
    import hashlib
    import json

    import pandas as pd

    key = json.dumps(dict(sources={s.name: s.label for s in sources}, config=config.to_dict(),
                          plan=[f["split"] for f in plan], seed=seed, permutations=permutations, trees=trees),
                     sort_keys=True)
    path = Path(folder) / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.json"
    with paths.only_once(path, wait_s) as mine:
        if mine:
            scores, null = baseline_scores(sources, config, plan, seed, noise, permutations, progress, trees)
            write_json(path, dict(scores=scores.to_dict("records"), null=null))
    saved = json.loads(path.read_text())
    return pd.DataFrame(saved["scores"]), saved["null"]


def _shape(plan: list) -> tuple:
    """(k, repeats) of a plan."""
    return 1 + max(f["fold"] for f in plan), 1 + max(f["repeat"] for f in plan)


def run(sources, model: str, config, training, seed: int, workdir, permutations: int = 0,
        progress: bool = True, devices=None, init_weights=None, extend=None) -> dict:
    """One ``kfold`` run of ``05_classifier``: the network and the baseline on the same folds, pooled.

    Parameters
    ----------
    permutations : label-permuted reruns of the *network* through the same pipeline (each
        trains ``folds * repeats`` models); the baseline always gets
        ``training.baseline_permutations`` of its own
    init_weights : the weights every fold (and permutation) starts from (:func:`fit_kfold`)
    extend : the per-fold hook of :func:`fit_kfold` (the network's folds and permutations; not the baseline)

    Returns
    -------
    dict with ``plan``, ``scores`` and ``baseline_scores`` (tables), ``fits`` (per fold),
    ``network`` and ``baseline`` (:func:`halo_utils.detect.oof.pooled_metrics`, plus the
    permutation null AUCs and p-value)
    """
    plan = kfold_plan(sources, config, training.folds, training.repeats, plan_seed(training, seed),
                      training.val_fraction)
    noise = noise_table(sources)
    scores, fits = fit_kfold(sources, model, config, training, plan, seed, workdir, noise, progress, devices,
                             init_weights, extend)
    network = pooled_metrics(scores, seed=seed)
    null = []
    for i in range(permutations):
        fake, fake_plan = permuted_plan(sources, config, training.folds, training.repeats, seed, i,
                                        training.val_fraction)
        table, _ = fit_kfold(fake, model, config, training, fake_plan, seed, f"{workdir}/permuted{i}", noise, progress,
                             devices, init_weights, extend)
        null.append(float(repeat_metrics(table).auc.mean()))
    network.update(null_auc=null, p_value=permutation_pvalue(network["oof_source_auc"], null) if null else None)
    base_scores, base_null = _cached_baseline(sources, config, plan, seed, noise, training.baseline_permutations,
                                              Path(workdir).parent / "baseline", progress,
                                              trees=training.baseline_trees)
    base = pooled_metrics(base_scores, seed=seed)
    base.update(null_auc=base_null, p_value=permutation_pvalue(base["oof_source_auc"], base_null) if base_null else None)
    return dict(plan=plan, scores=scores, baseline_scores=base_scores, fits=fits, network=network, baseline=base)
