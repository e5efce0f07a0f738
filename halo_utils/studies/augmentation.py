"""Do generated halos help a detector? The resumable sweep of 05_classifier with and without generated halos, and
its paired table (the hook itself: :mod:`halo_utils.generate.extend`; train on synthetic: :mod:`halo_utils.judge.tstr`).

Command line (the per-fold generators and the runs with and without generated halos as a Snakemake plan, run by
workflow/Snakefile, whose last job writes the table; ``--aggregate-only`` writes it again)::

    python -m halo_utils.studies.augmentation --seeds 0-9 --models I D --augment-with ddpm --profile cpu --plan plan.json
    snakemake -s workflow/Snakefile --config plan=plan.json --cores 2 --rerun-incomplete --rerun-triggers mtime
"""

from __future__ import annotations

import json

import numpy as np

from .. import cli, paths
from ..config import run_name
from ..detect import crossval
from ..detect.classify import run_tag
from ..detect.oof import paired_auc_difference, pooled_metrics
from ..generate.extend import AUGMENT_WITH, CONTROL, generator_root
from ..generate.folds import GENERATORS
from ..generate.generated import load_samples
from . import report
from .sweep import SWEEP_SKIPS

__all__ = ["PAPER_PRIMED", "sweep_runs", "generator_runs", "paired_table", "tstr_rows", "main"]

PAPER_PRIMED = {"I": (92.05, 2.94), "A": (95.93, 1.57), "D": (90.45, 0.84)}
"""The paper's Table 5 accuracies (%) of I', A', D' (trained with DDPM halos; its protocol)."""


def sweep_runs(seeds, models, kind: str, per_real: float, profile: str, overrides: dict, source: str = "gleam",
               versus: str = "none", protocol: str = "kfold") -> list:
    """The 05_classifier runs of an augmentation sweep: per (seed, model) the augmented run and its twin, the
    real-only run (``versus`` 'none') or another arm, e.g. the control (``versus`` 'real'), under ``protocol``
    (``kfold``, the headline, or ``strict``: the published split, its one generator learning the split's training
    halos).

    Seed-major; each run a dict of notebook parameters plus ``run``, ``done`` and ``parameters`` (for
    :func:`halo_utils.studies.workflow.job`).
    """
    if versus == kind or versus not in AUGMENT_WITH:
        raise ValueError(f"--versus must be another arm of {AUGMENT_WITH} than {kind!r}, not {versus!r}")
    runs = []
    for seed in seeds:
        for model in models:
            for augment in (versus, kind):
                name = run_name(profile, seed, source, run_tag(model, protocol, augment_with=augment,
                                                                generated_per_real=per_real, overrides=overrides))
                params = dict(model=model, protocol=protocol, seed=int(seed), profile=profile, source=source,
                              augment_with=augment, generated_per_real=per_real, training_overrides=overrides,
                              **SWEEP_SKIPS)
                runs.append(dict(params, run=name, parameters=tuple(params),
                                 done=(paths.results_dir("05_classifier") / f"{name}.json").exists()))
    return runs


def generator_runs(kind: str, seeds, profile: str, overrides: dict, protocol: str = "kfold", gleam_dir=None,
                   write: bool = True) -> list:
    """The per-fold generators that a sweep's augmented runs of ``kind`` draw from, each once, as sweep runs.

    The workflow trains them first, each as its own job (:func:`halo_utils.studies.sweep.run_job`), so that no
    notebook waits for one while the cores idle. Each run is a dict with ``run`` (the generator's name),
    ``job`` (its job file under ``data/runs/generators/``, written here for the generators not yet trained unless
    ``write`` is False), ``pool`` and ``done``. The folds, bands,
    data settings and seeds are the notebook's (its default clip), so the notebooks find these pools; no generators
    for the control or the real-only arm.
    """
    from ..config import data_config
    from ..data.images import read_dataset
    from ..detect.classify import train_config
    from ..generate.folds import fold_key, fold_settings
    from ..prep.dataset import dataset_root
    from ..prep.splits import protocol_split

    if kind not in GENERATORS:
        return []
    root, folder = dataset_root("gleam", gleam_dir), paths.data_dir() / "runs" / "generators"
    sources, config, training = read_dataset(root), data_config(profile), train_config(profile, **overrides)
    runs = {}
    for seed in seeds:
        generator_seed = crossval.plan_seed(training, seed)
        if protocol == "kfold":
            folds = [f["split"] for f in crossval.kfold_plan(sources, config, training.folds, training.repeats,
                                                             generator_seed, training.val_fraction)]
        else:
            folds = [protocol_split(sources, protocol, seed, training.val_fraction)[0]]
        for split in folds:
            halos = [s.name for s in sources if s.label == 1 and split[s.name] == "train"]
            key, sampling = fold_key(kind, fold_settings(kind, profile), halos, config, training.bands, generator_seed)
            pool = generator_root(profile) / f"{kind}_{key}" / f"pool_{sampling}.npz"
            job = folder / f"{kind}_{key}.json"
            if pool in runs:
                continue
            if write and not pool.exists():
                paths.write_json(job, dict(kind=kind, profile=profile, data_config=config.to_dict(),
                                           bands=list(training.bands), seed=generator_seed, split=split,
                                           gleam_dir=str(root), root=str(generator_root(profile))))
            runs[pool] = dict(run=f"{kind}_{key}", job=job, pool=pool, done=pool.exists())
    return list(runs.values())


def paired_table(runs: list) -> tuple:
    """Per (model, seed) the two AUCs, and per model the paired difference, from the sweep's result JSONs found.

    Returns (per-seed rows, per-model rows); a pair counts only when both runs finished. The twin is the real-only
    run, or the arm ``versus`` of :func:`sweep_runs` (its column is then named after it, e.g. ``versus_real``).
    """
    import pandas as pd

    found = {}
    for r in runs:
        path = paths.results_dir("05_classifier") / f"{r['run']}.json"
        if path.exists():
            found[(r["model"], r["seed"], r["augment_with"])] = json.loads(path.read_text())
    rows, models = [], []
    base = runs[0]["augment_with"] if runs else "none"
    column = "real_only" if base == "none" else f"versus_{base}"
    kinds = sorted({r["augment_with"] for r in runs} - {base})
    for model in dict.fromkeys(r["model"] for r in runs):
        for kind in kinds:
            pairs, seconds = [], []
            for seed in sorted({r["seed"] for r in runs}):
                real, aug = found.get((model, seed, base)), found.get((model, seed, kind))
                if real is None or aug is None:
                    continue
                pairs.append((_scores(aug), _scores(real)))
                rows.append(dict(model=model, generator=kind, seed=seed, **{column: round(_auc(real), 3)},
                                 augmented=round(_auc(aug), 3), difference=round(_auc(aug) - _auc(real), 3),
                                 generated_per_fold=_generated(aug), **{f"train_s_{column}": round(real["train_seconds"])},
                                 train_s_augmented=round(aug["train_seconds"])))
                seconds.append(aug["train_seconds"] + real["train_seconds"])
            if not pairs:
                continue
            paired = paired_auc_difference(pairs)
            joined = {k: pd.concat([p[i].assign(repeat=1000 * j + p[i].repeat) for j, p in enumerate(pairs)])
                      for i, k in ((1, "real"), (0, "augmented"))}
            auc = {k: pooled_metrics(table) for k, table in joined.items()}
            paper = PAPER_PRIMED.get(model)
            models.append(dict(model=f"{model}′", generator=kind, seeds=len(pairs),
                               **{column: _interval(auc["real"]["oof_source_auc"], auc["real"]["oof_source_auc_ci"])},
                               augmented=_interval(auc["augmented"]["oof_source_auc"],
                                                   auc["augmented"]["oof_source_auc_ci"]),
                               difference=f"{paired['mean']:+.3f} [{paired['ci'][0]:+.3f}, {paired['ci'][1]:+.3f}]",
                               seeds_better=f"{sum(d > 0 for d in paired['per_seed'])}/{len(pairs)}",
                               paper_accuracy="—" if paper is None else "%.2f ± %.2f" % paper))
    return rows, models


def _scores(result: dict):
    """The per-source scores of a run (source, label, score, repeat): out-of-fold (``kfold``) or on the test sources
    of the split (``strict``, one repeat)."""
    import pandas as pd

    table = pd.DataFrame(result["scores"])
    return table if "repeat" in table else table.assign(repeat=0)


def _auc(result: dict) -> float:
    """The per-source AUC of a run: out-of-fold (``kfold``) or on the split's test sources (``strict``)."""
    return result["oof_source_auc"] if result["protocol"] == "kfold" else result["per_source"]["roc_auc"]


def _generated(result: dict) -> int:
    """Generated (or extra) class-1 training images of a run, per fold."""
    if result["protocol"] == "kfold":
        return int(np.mean([f["extended"]["n_generated"] for f in result["fits"]]))
    return int((result.get("generated") or {}).get("n_generated", 0))


def tstr_rows(profile: str, seeds, source: str = "gleam") -> list:
    """The TSTR scores that ``04_metrics`` runs of ``profile`` wrote for ``seeds`` (one row per generator and seed)."""
    rows = []
    for seed in seeds:
        path = paths.results_dir("04_metrics") / f"{run_name(profile, seed, source)}.json"
        for kind, r in (json.loads(path.read_text()).get("tstr") or {} if path.exists() else {}).items():
            rows.append(dict(generator=kind, seed=seed, model=r["model"], folds=str(r["overrides"]),
                             tstr=_interval(r["tstr_auc"], r["tstr_auc_ci"]),
                             trtr=_interval(r["trtr_auc"], r["trtr_auc_ci"]),
                             difference=f"{r['difference']:+.3f} [{r['difference_ci'][0]:+.3f}, "
                                        f"{r['difference_ci'][1]:+.3f}]"))
    return rows


def _interval(value: float, ci) -> str:
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def _markdown(rows: list) -> str:
    if not rows:
        return "(no finished pair)\n"
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    return "\n".join(lines + ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]) + "\n"


def main(argv=None):
    """Run (resumably) and tabulate the augmentation sweep; write ``docs/results/table5_augmented_<profile>.md``."""
    import sys

    from . import sweep, workflow

    parser = cli.parser(__spec__.name, __doc__)
    cli.add_seeds(parser, list(range(10)), "the seeds to run")
    parser.add_argument("--models", nargs="+", default=["I", "A", "D"], choices=["I", "A", "D"], help="the networks (default I A D)")
    parser.add_argument("--augment-with", default="ddpm", choices=GENERATORS + (CONTROL,),
                        help=f"a generator, or {CONTROL!r}: the control of extra views of the real training halos")
    parser.add_argument("--versus", default="none", choices=AUGMENT_WITH,
                        help="the twin of each augmented run: 'none' (real-only, default) or another arm, e.g. "
                             f"{CONTROL!r} to pit generated halos against the control")
    parser.add_argument("--per-real", type=float, default=1.0, help="generated images per real training-halo image")
    parser.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "paper"], help="default cpu")
    parser.add_argument("--plan-seed", type=int, default=0,
                        help="the folds of every seed (so each fold's generator trains once); -1: each seed's own")
    parser.add_argument("--repeats", type=int, default=None, help="k-fold repeats (default: the profile's)")
    parser.add_argument("--protocol", default="kfold", choices=["kfold", "strict"],
                        help="'kfold' (the headline) or 'strict': the published split (secondary; 10 test sources; "
                             "--plan-seed and --repeats do not apply)")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--plan", metavar="FILE", help="write the generators and runs as a Snakemake plan to FILE "
                                                     "(workflow/Snakefile runs it; make sweep-augmented)")
    what.add_argument("--aggregate-only", action="store_true", help="write the table from the finished runs")
    args = parser.parse_args(argv)
    seeds = args.seeds
    overrides = {} if args.plan_seed < 0 or args.protocol == "strict" else dict(plan_seed=args.plan_seed)
    if args.repeats is not None and args.protocol == "kfold":
        overrides["repeats"] = args.repeats
    runs = sweep_runs(seeds, args.models, args.augment_with, args.per_real, args.profile, overrides, versus=args.versus,
                      protocol=args.protocol)
    name = {("none", CONTROL): "control"}.get((args.versus, args.augment_with), "augmented")
    name += "" if args.versus == "none" else f"_{args.augment_with}_vs_{args.versus}"
    name += "" if args.protocol == "kfold" else f"_{args.protocol}"
    generators = generator_runs(args.augment_with, seeds, args.profile, overrides, args.protocol, write=bool(args.plan))
    if args.plan:
        options = [a for a in (argv if argv is not None else sys.argv[1:]) if a not in ("--plan", args.plan)]
        pools = [g["pool"] for g in generators]
        jobs = [workflow.job(g) for g in generators] + [workflow.job(r, needs=pools) for r in runs]
        command = [sys.executable, "-m", "halo_utils.studies.augmentation", "--aggregate-only", *options]
        path = workflow.write_plan(args.plan, jobs, [report.path(f"table5_{name}_{args.profile}.md")], command)
        print(f"{len(generators)} generators and {len(runs)} runs -> {path}")
        return
    command = ("python -m halo_utils.studies.augmentation --plan PLAN "
               + " ".join(a for a in (argv if argv is not None else sys.argv[1:]) if a != "--aggregate-only")
               + ", run by workflow/Snakefile")
    rows, models = paired_table(runs)
    arm = {CONTROL: "extra views of each fold's own real training halos (the control)"}.get(
        args.augment_with, "halos from per-fold generators (each learnt only its fold's training halos)")
    twin = "without them" if args.versus == "none" else f"against the arm `augment_with={args.versus!r}`"
    measure = ("same folds and seeds; per-source out-of-fold AUC" if args.protocol == "kfold" else
               "same seeds; per-source AUC on the split's 10 test sources (a secondary number: its training split "
               "hides a brightness shortcut that flips in the test split)")
    text = (f"Made by `{command}`: 05_classifier under `{args.protocol}` with {arm}, {twin}, {measure} [95 % bootstrap "
            f"interval over the clusters]; TrainConfig overrides {overrides}.\n\n"
            + _markdown(models) + "\nPer seed:\n\n" + _markdown(rows)
            + f"\nThe difference is augmented minus {'real-only' if args.versus == 'none' else args.versus}: the "
              "mean over seeds of the paired AUC differences, with "
              "an interval from resampling the clusters (stratified, the same draw for both runs of a seed). The "
              "paper's column is its accuracy of the primed model (its protocol), not an AUC.\n")
    seconds = [t for t in map(sweep.notebook_seconds, (r["run"] for r in runs)) if t is not None]
    text += (f"\nWall time of the {len(seconds)} executed notebooks found: {sum(seconds) / 3600:.1f} h (papermill's "
             "record of each; a run resumed after a stop counts its last execution only, and the cores may have been "
             "shared).\n")
    trained = [load_samples(r["pool"])["meta"]["seconds"] for r in generators if r["pool"].exists()]
    if trained:
        text += (f"Training and sampling the {len(trained)} per-fold generators: {sum(trained) / 3600:.1f} h "
                 "(summed over the generators, each timed in its own process).\n")
    tstr = tstr_rows(args.profile, seeds) if args.protocol == "kfold" else []
    if tstr:
        text += ("\nTrain on synthetic, test on real (`04_metrics`, per-source out-of-fold AUC of the classifier "
                 "trained on each fold's generated halos and real non-halos, against its twin trained on the real "
                 "halos of the same folds; difference TSTR minus TRTR):\n\n" + _markdown(tstr))
    report.write(f"table5_{name}_{args.profile}.md", text)


if __name__ == "__main__":
    main()
