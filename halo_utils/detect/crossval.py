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

from .. import cli, paths
from ..config import data_config, deterministic
from ..data.grid import field_size
from ..data.images import read_dataset
from ..models.classifiers import build_classifier
from ..paths import write_json
from ..prep.dataset import build_dataset
from ..prep.features import unclipped_fields
from ..prep.noise import noise_table
from ..prep.splits import grouped_kfold, sky_groups
from . import baseline
from .artefact import member_record, write_member
from .classify import TrainConfig, distribution, model_inputs, predict, source_scores, train, train_config
from .oof import permutation_pvalue, pooled_metrics, repeat_metrics

if TYPE_CHECKING:  # annotations only: pandas is imported where it is used
    import pandas

__all__ = ["group_distance_deg", "kfold_plan", "fit_kfold", "plan_seed", "fold_seed", "permuted", "permuted_plan",
           "baseline_scores",
           "run", "compare", "main"]


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
    return int(np.random.default_rng([seed, repeat, fold]).integers(2**31))


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
        (:mod:`halo_utils.judge.augmentation`); ``info`` is kept in the fold's ``fits`` entry as ``extended``

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

    labels = np.random.default_rng([seed, 7919]).permutation([s.label for s in sources])
    return [dataclasses.replace(s, label=int(y)) for s, y in zip(sources, labels)]


def permuted_plan(sources, config, k: int, repeats: int, seed: int, i: int, val_fraction: float = 0.2) -> tuple:
    """Permutation ``i`` of a run: the sources with shuffled labels and the folds planned from those labels."""
    fake = permuted(sources, seed * 100_000 + i)
    return fake, kfold_plan(fake, config, k, repeats, seed * 100_000 + i, val_fraction)


def baseline_scores(sources, config, plan: list, seed: int, noise, permutations: int = 0,
                    progress: bool = True) -> tuple:
    """The hand-feature forest (:mod:`halo_utils.detect.baseline`) under ``plan``, and its permutation null.

    Each permutation shuffles the labels, plans new folds with them and fits again: the
    whole pipeline, so the null AUC includes whatever the folds or features could leak.

    Returns (scores table, list of null AUCs)
    """
    from tqdm.auto import tqdm

    fields = unclipped_fields(sources, config)
    scores = baseline.fit_kfold(fields, {s.name: s.label for s in sources}, noise, config, plan, seed)
    null = []
    k, repeats = _shape(plan)
    for i in tqdm(range(permutations), desc="baseline permutations", disable=not progress or not permutations):
        fake, fake_plan = permuted_plan(sources, config, k, repeats, seed, i)
        table = baseline.fit_kfold(fields, {s.name: s.label for s in fake}, noise, config, fake_plan, seed)
        null.append(float(repeat_metrics(table).auc.mean()))
    return scores, null


def _cached_baseline(sources, config, plan, seed, noise, permutations, folder, progress, wait_s: float = 3600):
    """:func:`baseline_scores`, computed once per (sources, settings, folds, seed, permutations) and reused.

    Every model of a seed shares the folds, so the baseline and its permutations (minutes) run once.
    Runs of a sweep that start together (``--jobs 2``) do not both compute it: the first makes it,
    the others wait for its result (:func:`halo_utils.paths.only_once`).
    """
    import hashlib
    import json

    import pandas as pd

    key = json.dumps(dict(sources={s.name: s.label for s in sources}, config=config.to_dict(),
                          plan=[f["split"] for f in plan], seed=seed, permutations=permutations), sort_keys=True)
    path = Path(folder) / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.json"
    with paths.only_once(path, wait_s) as mine:
        if mine:
            scores, null = baseline_scores(sources, config, plan, seed, noise, permutations, progress)
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
                                              Path(workdir).parent / "baseline", progress)
    base = pooled_metrics(base_scores, seed=seed)
    base.update(null_auc=base_null, p_value=permutation_pvalue(base["oof_source_auc"], base_null) if base_null else None)
    return dict(plan=plan, scores=scores, baseline_scores=base_scores, fits=fits, network=network, baseline=base)


def compare(sources, variants: dict, model: str, profile: str, seed: int, workdir) -> "pandas.DataFrame":
    """The network and the baseline under ``kfold`` for each named variant of the settings (one seed, no permutations).

    ``variants`` maps a name to a dict of :class:`~halo_utils.config.DataConfig` and
    :class:`~halo_utils.detect.classify.TrainConfig` overrides (e.g. ``{"pixel_arcmin": 0.5}``); the
    folds of a variant follow from its own settings. Fold models train in ``workdir/exp_<model>_<name>``.
    """
    import dataclasses

    import pandas as pd

    train_keys = {f.name for f in dataclasses.fields(TrainConfig)}
    rows = []
    for name, overrides in variants.items():
        settings = data_config(profile, **{k: v for k, v in overrides.items() if k not in train_keys})
        training = train_config(profile, baseline_permutations=0, **{k: v for k, v in overrides.items() if k in train_keys})
        deterministic(seed)
        out = run(sources, model, settings, training, seed, f"{workdir}/exp_{model}_{name}", progress=False)
        net, base = out["network"], out["baseline"]
        rows.append(dict(variant=name, overrides=str(overrides), model=model, seed=seed, auc=net["oof_source_auc"],
                         auc_lo=net["oof_source_auc_ci"][0], auc_hi=net["oof_source_auc_ci"][1],
                         train_accuracy=float(np.mean([f["train_accuracy"] for f in out["fits"]])),
                         kept_epochs=" ".join(str(f["best_epoch"]) for f in out["fits"]),
                         baseline_auc=base["oof_source_auc"], baseline_lo=base["oof_source_auc_ci"][0],
                         baseline_hi=base["oof_source_auc_ci"][1]))
    return pd.DataFrame(rows)


def _markdown(table) -> str:
    """A DataFrame as a Markdown table (no index)."""
    rows = [list(table.columns)] + table.astype(str).values.tolist()
    lines = ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join([lines[0], "|" + "---|" * len(table.columns), *lines[1:]]) + "\n"


def _parse_variant(text: str) -> tuple:
    """'name:key=value,key=value' -> (name, {key: value}) with values read as Python literals."""
    import ast

    name, _, rest = text.partition(":")
    pairs = [p.split("=", 1) for p in rest.split(",") if p]
    return name, {k: ast.literal_eval(v) for k, v in pairs}


def main(argv=None):
    """``python -m halo_utils.detect.crossval --model I --seed 0 --variant default: --variant px05:pixel_arcmin=0.5``:
    compare settings under ``kfold``, append to ``docs/results/settings_<profile>.{csv,md}``."""
    import sys

    import pandas as pd

    parser = cli.parser(__spec__.name, main.__doc__)
    parser.add_argument("--model", default="I", choices=["I", "A", "D"], help="the network (default I)")
    parser.add_argument("--seed", type=int, default=0, help="the seed of every variant (default 0)")
    parser.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "paper"], help="default cpu")
    parser.add_argument("--gleam-dir", default=None, help="the published images (default $HALO_GLEAM_DIR)")
    parser.add_argument("--variant", action="append", required=True, help="a variant of the settings, name:key=value,... (DataConfig or TrainConfig fields); repeat for several")
    args = parser.parse_args(argv)
    sources = read_dataset(paths.gleam_dir(args.gleam_dir))
    table = compare(sources, dict(_parse_variant(v) for v in args.variant), args.model, args.profile, args.seed,
                    paths.data_dir() / "models" / "05_classifier")
    table["command"] = "python -m halo_utils.detect.crossval " + " ".join(argv if argv is not None else sys.argv[1:])
    base = paths.project_root() / "docs" / "results" / f"settings_{args.profile}"
    old = pd.read_csv(base.with_suffix(".csv")) if base.with_suffix(".csv").exists() else None
    key = ["variant", "model", "seed"]
    if old is not None:
        table = pd.concat([old.set_index(key).drop(table.set_index(key).index, errors="ignore").reset_index(), table])
    table = table.sort_values(key).reset_index(drop=True)
    paths.atomic_write(base.with_suffix(".csv"), lambda tmp: table.to_csv(tmp, index=False))
    paths.atomic_write(base.with_suffix(".md"), lambda tmp: Path(tmp).write_text(_markdown(table.round(3))))
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
