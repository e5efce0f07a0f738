"""Multi-seed sweeps of ``05_classifier`` through papermill, and their aggregation (paper Table 5, Figs. 8-10).

Each run is one papermill execution of the notebook; it writes ``data/results/05_classifier/<run>.json``. The
runs go to Snakemake as a plan (``--plan``, :mod:`halo_utils.studies.workflow`), which skips the finished ones and
reruns a killed one (the notebook resumes from its last epoch); the tables come last, from the finished runs.
Command line (``make sweep`` does both steps)::

    python -m halo_utils.studies.sweep --seeds 0-9 --models I A D --protocols kfold --profile cpu --plan PLAN.json
    snakemake -s workflow/Snakefile --config plan=PLAN.json --cores 2 --rerun-incomplete --rerun-triggers mtime
    python -m halo_utils.studies.sweep --seeds 0-9 --profile cpu --aggregate-only        # the tables again
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from .. import cli, paths, plots
from ..config import PRECISIONS, run_name
from ..detect.classify import run_tag
from ..detect.tags import precision_tag
from ..detect.oof import binomial_interval, pooled_metrics
from . import report
from .reference import commit

__all__ = ["PAPER_TABLE5", "SWEEP_SKIPS", "plan", "run_notebook", "run_job", "notebook_seconds", "tables", "load_runs", "summary_table", "to_markdown", "kfold_table", "kfold_markdown", "ensemble_table", "aggregate", "main"]

PAPER_TABLE5 = {"A": (94.41, 1.95), "I": (86.87, 2.78), "D": (84.68, 1.03)}
"""The paper's Table 5 accuracies (%, mean ± std over 10 runs; its protocol)."""

SWEEP_SKIPS = dict(saliency=False, baseline_permutations=0)
"""Notebook parameters of every sweep run: skip what the tables do not use (the saliency maps, the forest's
permutation null). Neither changes the network's or the forest's scores, so neither is in the run's name."""
METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
STAGE = "05_classifier"


def plan(seeds, models, protocols, profile: str, source: str = "gleam", precision: str = "float32") -> list:
    """Every (model, protocol, seed) run as a dict of notebook parameters plus ``run`` and ``done`` (``precision``: the
    Keras policy, a notebook parameter and part of the run's name when not float32; :data:`SWEEP_SKIPS` too).

    Seed-major; the workflow starts the longest model's runs first (:data:`~.workflow.FIRST`).
    """
    runs = []
    for seed in seeds:
        for protocol in protocols:
            for model in models:
                name = run_name(profile, seed, source, run_tag(model, protocol, precision=precision))
                extra = dict(SWEEP_SKIPS, **({} if precision == "float32" else dict(precision=precision)))
                runs.append(dict(model=model, protocol=protocol, seed=int(seed), profile=profile, source=source,
                                 **extra, parameters=("model", "protocol", "seed", "profile", "source", *extra),
                                 run=name, done=(paths.results_dir(STAGE) / f"{name}.json").exists()))
    return runs


def run_notebook(parameters: dict, out: Path, threads: int | None = None, stage: str = STAGE) -> int:
    """Execute ``notebooks/<stage>.ipynb`` with ``parameters`` through papermill in a subprocess.

    The executed notebook goes to ``out``, its console output to ``out`` with suffix
    ``.log``; ``threads`` caps TensorFlow's intra-op threads. Returns the exit code.
    """
    notebook = paths.project_root() / "notebooks" / f"{stage}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "papermill", "--log-output", "--no-progress-bar", str(notebook), str(out)]
    for key, value in parameters.items():
        args += ["-y", json.dumps({key: value})] if isinstance(value, (dict, list)) else ["-p", key, str(value)]
    return _call(args, out.with_suffix(".log"), threads, notebook.parent)


def run_job(job: Path, threads: int | None = None) -> int:
    """Train a per-fold generator from its job file (:mod:`halo_utils.generate.folds`) in a subprocess; its console
    output goes to the job file with suffix ``.log``. Returns the exit code."""
    return _call([sys.executable, "-m", "halo_utils.generate.folds", str(job)], Path(job).with_suffix(".log"), threads,
                 paths.project_root())


def _call(args: list, log: Path, threads: int | None, cwd: Path) -> int:
    """Run ``args`` with TensorFlow's intra-op threads capped at ``threads``, console output to ``log``."""
    env = dict(os.environ, MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="2")
    if threads:
        env.update(TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS="1")
    with open(log, "w") as stream:
        return subprocess.call(args, env=env, stdout=stream, stderr=subprocess.STDOUT, cwd=cwd)


def _execute(params: dict, threads: int | None) -> int:
    """Run one planned sweep run (a notebook, or a generator's ``job``); say where its log is if it fails."""
    if "job" in params:
        code, log = run_job(params["job"], threads), Path(params["job"]).with_suffix(".log")
    else:
        out = paths.data_dir() / "runs" / STAGE / f"{params['run']}.ipynb"
        keys = params.get("parameters", ("model", "protocol", "seed", "profile", "source"))
        code, log = run_notebook({k: params[k] for k in keys}, out, threads), out.with_suffix(".log")
    if code:
        print(f"run {params['run']} failed (exit {code}); see {log}")
    return code


def notebook_seconds(run: str) -> float | None:
    """Wall time of a sweep run's last execution, s: papermill's record in its executed notebook (None if absent or
    unfinished). A run resumed after a stop counts its last execution only."""
    path = paths.data_dir() / "runs" / STAGE / f"{run}.ipynb"
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("metadata", {}).get("papermill", {}).get("duration")


def load_runs(profile: str, source: str = "gleam", models=None, protocols=None, precision: str = "float32") -> list:
    """The result JSONs of one profile, source and precision (optionally only some models / protocols)."""
    out = []
    for path in sorted(paths.results_dir(STAGE).glob("*.json")):
        result = json.loads(path.read_text())
        if result.get("profile") != profile or result.get("source", "gleam") != source:
            continue
        if (models and result["model"] not in models) or (protocols and result["protocol"] not in protocols):
            continue
        if path.stem != run_name(profile, result["seed"], source, run_tag(result["model"], result["protocol"],
                                                                          precision=precision)):
            continue  # a run with a custom name (e.g. a benchmark), not part of a sweep
        out.append(result)
    return out


def summary_table(results: list, level: str = "image"):
    """Mean and std (%) of each metric per (protocol, model), as in the paper's Table 5.

    ``level`` is 'image' (the paper's numbers: every test image, the paper protocol's empty side
    cut-outs included), 'image_real' (the cluster images only) or 'source' (a source's score = mean
    over its images).
    """
    import pandas as pd

    rows = []
    for r in results:
        metrics = {"image": r["image"], "image_real": r.get("image_real", r["image"]), "source": r["per_source"]}[level]
        rows.append(dict(protocol=r["protocol"], model=r["model"], seed=r["seed"],
                         train_seconds=r["train_seconds"], **{m: 100 * metrics[m] for m in METRICS}))
    table = pd.DataFrame(rows)
    grouped = table.groupby(["protocol", "model"])
    out = grouped[list(METRICS) + ["train_seconds"]].agg(["mean", "std"])
    out[("runs", "n")] = grouped.size()
    return out


def to_markdown(table, level: str = "image", n_sources: int = 10) -> str:
    """The summary table as Markdown: 'mean ± std' per metric, and the paper's accuracy beside it.

    Per source, the accuracy also gets the 95 % Wilson interval of its mean for ``n_sources`` test
    sources: the same few clusters in every seed, so seeds do not narrow it.
    """
    head = ["protocol", "model", "runs", *[m.replace("_", " ") + " (%)" for m in METRICS], "train s", "paper accuracy (%)"]
    if level == "source":
        head.insert(4, f"accuracy 95 % CI ({n_sources} sources)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (protocol, model), row in table.iterrows():
        cells = [f"{row[(m, 'mean')]:.2f} ± {np.nan_to_num(row[(m, 'std')]):.2f}" for m in METRICS]
        if level == "source":
            lo, hi = binomial_interval(round(row[("accuracy", "mean")] / 100 * n_sources), n_sources)
            cells.insert(1, f"{100 * lo:.0f}–{100 * hi:.0f}")
        paper = "%.2f ± %.2f" % PAPER_TABLE5[model] if level == "image" else "—"
        lines.append(f"| {protocol} | {model} | {int(row[('runs', 'n')])} | " + " | ".join(cells)
                     + f" | {row[('train_seconds', 'mean')]:.0f} | {paper} |")
    return "\n".join(lines) + "\n"


def _pooled(tables: dict, seed: int = 0) -> dict:
    """:func:`halo_utils.detect.oof.pooled_metrics` over several runs' score tables (seed -> table), repeats kept apart."""
    import pandas as pd

    joined = pd.concat([t.assign(repeat=1000 * s + t.repeat) for s, t in tables.items()], ignore_index=True)
    return pooled_metrics(joined, seed=seed)


def kfold_table(results: list):
    """Table 5 under ``kfold``: one row per model plus the hand-feature baseline.

    The AUC pools every (seed, repeat) of a model: its mean, a bootstrap 95 % interval over the
    sources, and the spread (std) of the per-seed AUCs; accuracy at 0.5 and recall at 10 % FPR
    are means over (seed, repeat); the training accuracy is the mean over folds of the kept
    weights' accuracy on their training images; ``kept_first_epoch`` the share of folds whose
    kept epoch is the first (validation chose a barely trained model).
    """
    import pandas as pd

    runs = [r for r in results if r["protocol"] == "kfold"]
    rows = []
    models = [m for m in ("A", "I", "D") if any(r["model"] == m for r in runs)]
    for name in models + ["baseline"]:
        chosen = [r for r in runs if r["model"] == name] if name != "baseline" else \
            list({r["seed"]: r for r in runs}.values())
        key = "baseline_scores" if name == "baseline" else "scores"
        tables = {r["seed"]: pd.DataFrame(r[key]) for r in chosen}
        pooled = _pooled(tables)
        per_seed = [(r["baseline"] if name == "baseline" else r["network"])["oof_source_auc"] for r in chosen]
        rows.append(dict(model=name, seeds=len(chosen), auc=pooled["oof_source_auc"],
                         auc_lo=pooled["oof_source_auc_ci"][0], auc_hi=pooled["oof_source_auc_ci"][1],
                         auc_seed_std=float(np.std(per_seed)), accuracy=pooled["oof_source_accuracy"],
                         recall_at_fpr10=pooled["recall_at_fpr10"],
                         train_accuracy=np.nan if name == "baseline" else float(np.mean([r["train_accuracy"] for r in chosen])),
                         train_seconds=np.nan if name == "baseline" else float(np.mean([r["train_seconds"] for r in chosen])),
                         kept_first_epoch=np.nan if name == "baseline" else
                         float(np.mean([f["best_epoch"] == 1 for r in chosen for f in r["fits"]]))))
    return pd.DataFrame(rows).set_index("model")


def kfold_markdown(table, command: str, where: str = "") -> str:
    """:func:`kfold_table` as Markdown, with the paper's Table 5 accuracy (its protocol) beside it; made by
    ``command`` (a command line) ``where`` (e.g. " at commit 1500f61")."""
    head = ["model", "seeds", "per-source OOF AUC [95 % CI]", "AUC std over seeds", "accuracy at 0.5",
            "recall at 10 % FPR", "training accuracy", "folds kept at epoch 1", "train s per run",
            "paper accuracy (its protocol, %)"]
    lines = [f"Made by `{command}`{where}.", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model, r in table.iterrows():
        paper = "%.2f ± %.2f" % PAPER_TABLE5[model] if model in PAPER_TABLE5 else "—"
        train = "—" if np.isnan(r.train_accuracy) else f"{r.train_accuracy:.3f}"
        first = "—" if np.isnan(r.kept_first_epoch) else f"{r.kept_first_epoch:.2f}"
        seconds = "—" if np.isnan(r.train_seconds) else f"{r.train_seconds:.0f}"
        lines.append(f"| {model} | {int(r.seeds)} | {r.auc:.3f} [{r.auc_lo:.3f}, {r.auc_hi:.3f}] | {r.auc_seed_std:.3f} | "
                     f"{r.accuracy:.3f} | {r.recall_at_fpr10:.3f} | {train} | {first} | {seconds} | {paper} |")
    return "\n".join(lines) + "\n"


def ensemble_table(per_source):
    """Ensembles of out-of-fold scores: each model's mean score per source over all its (seed, repeat) runs, and
    the means of the networks (I+A+D) and of everything (with the baseline). Every member scored a source
    with a model that never trained on it, so the ensemble is out-of-fold too.

    ``per_source``: columns (model, 'label') and (model, 'score'), rows indexed by source (as written to
    ``source_scores_kfold_<profile>.csv``). Returns one row per ensemble: members, AUC with a bootstrap
    95 % interval over sources, accuracy at 0.5, recall at 10 % FPR.
    """
    import pandas as pd

    models = list(dict.fromkeys(per_source.columns.get_level_values(0)))
    label = per_source[models[0]]["label"].astype(int)
    networks = [m for m in ("I", "A", "D") if m in models]
    members = {m: [m] for m in models}
    if len(networks) > 1:
        members["+".join(networks)] = networks
    if len(networks) > 1 and "baseline" in models:
        members["+".join(networks) + "+baseline"] = networks + ["baseline"]
    rows = []
    for name, parts in members.items():
        score = pd.concat([per_source[m]["score"] for m in parts], axis=1).mean(axis=1)
        table = pd.DataFrame(dict(source=score.index, label=label.loc[score.index].to_numpy(), score=score.to_numpy(), repeat=0))
        pooled = pooled_metrics(table)
        rows.append(dict(ensemble=name, members=len(parts), auc=pooled["oof_source_auc"], auc_lo=pooled["oof_source_auc_ci"][0],
                         auc_hi=pooled["oof_source_auc_ci"][1], accuracy=pooled["oof_source_accuracy"],
                         recall_at_fpr10=pooled["recall_at_fpr10"]))
    return pd.DataFrame(rows).set_index("ensemble")


def _aggregate_kfold(results: list, prefix: str, command: str, where: str) -> dict:
    """Write the kfold Table 5 (Markdown + CSV under docs/results/) and the per-source score figure."""
    import pandas as pd

    table = kfold_table(results)
    folder = paths.docs_results()
    base = folder / f"table5_kfold_{prefix}"
    written = dict(kfold_csv=paths.atomic_write(base.with_suffix(".csv"), lambda tmp: table.to_csv(tmp)))
    text = kfold_markdown(table, command, where)
    written["kfold_md"] = paths.atomic_write(base.with_suffix(".md"), lambda tmp: Path(tmp).write_text(text))
    runs = [r for r in results if r["protocol"] == "kfold"]
    scores = {m: pd.concat([pd.DataFrame(r["scores"]).assign(repeat=lambda t, s=r["seed"]: 1000 * s + t.repeat)
                            for r in runs if r["model"] == m]) for m in ("A", "I", "D") if any(r["model"] == m for r in runs)}
    scores["baseline"] = pd.concat([pd.DataFrame(r["baseline_scores"]).assign(repeat=lambda t, s=r["seed"]: 1000 * s + t.repeat)
                                    for r in {r["seed"]: r for r in runs}.values()])
    per_source = pd.concat({m: t.groupby("source").agg(label=("label", "first"), score=("score", "mean"))
                            for m, t in scores.items()}, axis=1)
    written["sources_csv"] = paths.atomic_write(folder / f"source_scores_kfold_{prefix}.csv",
                                                lambda tmp: per_source.to_csv(tmp))
    ensembles = ensemble_table(per_source)
    lines = [f"Made by `{command}`{where}: each model's out-of-fold scores averaged per source over all its seeds and "
             "repeats, then over models.", "", "| ensemble | per-source OOF AUC [95 % CI] | accuracy at 0.5 | "
             "recall at 10 % FPR |", "|---|---|---|---|"]
    lines += [f"| {name} | {r.auc:.3f} [{r.auc_lo:.3f}, {r.auc_hi:.3f}] | {r.accuracy:.3f} | {r.recall_at_fpr10:.3f} |"
              for name, r in ensembles.iterrows()]
    written["ensemble_md"] = paths.atomic_write(folder / f"table5_kfold_ensemble_{prefix}.md",
                                                lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n"))
    written["ensemble_csv"] = paths.atomic_write(folder / f"table5_kfold_ensemble_{prefix}.csv",
                                                 lambda tmp: ensembles.to_csv(tmp))
    written["fig_sources"] = plots.save(plots.show_source_scores(scores), f"05_source_scores_kfold_{prefix}")
    return written


def aggregate(profile: str, source: str = "gleam", models=None, protocols=None, command: str = "",
              precision: str = "float32", where: str = "") -> dict:
    """Write the Table 5 analogues (Markdown + CSV; kfold under docs/results/) and the Fig. 8-10 analogues, each
    made by ``command`` (a command line) ``where`` (e.g. " at commit 1500f61")."""
    results = load_runs(profile, source, models, protocols, precision)
    prefix = _prefix(profile, source, precision)
    written = _aggregate_kfold(results, prefix, command, where) if any(r["protocol"] == "kfold" for r in results) else {}
    results = [r for r in results if r["protocol"] != "kfold"]
    if not results and written:
        return written
    if not results:
        raise FileNotFoundError(f"no {STAGE} results for profile {profile!r}, source {source!r} "
                                f"in {paths.results_dir(STAGE)}")
    for level in ("image", "image_real", "source"):
        table = summary_table(results, level)
        base = report.path(f"table5_split_{prefix}_{level}")
        written[f"{level}_csv"] = paths.atomic_write(base.with_suffix(".csv"), lambda tmp: table.to_csv(tmp))
        text = f"Made by `{command}`{where}.\n\n" + to_markdown(table, level)
        written[f"{level}_md"] = paths.atomic_write(base.with_suffix(".md"), lambda tmp: Path(tmp).write_text(text))
    for protocol in sorted({r["protocol"] for r in results}):
        runs = [r for r in results if r["protocol"] == protocol]
        by_model = {m: [r for r in runs if r["model"] == m] for m in ("A", "I", "D") if any(r["model"] == m for r in runs)}
        tag = f"{prefix}_{protocol}"
        written[f"fig8_{protocol}"] = plots.save(plots.show_training({m: [r["history"] for r in rs] for m, rs in by_model.items()}),
                                                 f"05_fig8_training_{tag}")
        written[f"fig9_{protocol}"] = plots.save(plots.show_roc({m: [(r["image"]["roc_fpr"], r["image"]["roc_tpr"], r["image"]["roc_auc"])
                                                                     for r in rs] for m, rs in by_model.items()}), f"05_fig9_roc_{tag}")
        written[f"fig10_{protocol}"] = plots.save(plots.show_confusion({m: [r["image"]["confusion"] for r in rs]
                                                                        for m, rs in by_model.items()}), f"05_fig10_confusion_{tag}")
    return written


def _prefix(profile: str, source: str, precision: str) -> str:
    """What the tables' names say of the runs: ``[mock_]<profile>[_bfloat16]``."""
    return f"{'mock_' if source == 'mock' else ''}{profile}" + precision_tag(precision)


def tables(profile: str, source: str, protocols, precision: str = "float32") -> list:
    """The Markdown tables :func:`aggregate` writes for these protocols (the workflow's last outputs)."""
    prefix = _prefix(profile, source, precision)
    out = [report.path(f"table5_kfold_{prefix}.md")] if "kfold" in protocols else []
    return out + ([report.path(f"table5_split_{prefix}_image.md")] if set(protocols) - {"kfold"} else [])


def main(argv=None):
    from . import workflow

    parser = cli.parser(__spec__.name, __doc__)
    cli.add_seeds(parser, list(range(10)), "the seeds to run")
    parser.add_argument("--models", nargs="+", default=["I", "A", "D"], choices=["I", "A", "D"], help="the networks (default I A D)")
    parser.add_argument("--protocols", nargs="+", default=["kfold"], choices=["kfold", "strict", "paper"], help="default kfold")
    parser.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "paper"], help="default cpu")
    parser.add_argument("--source", default="gleam", choices=["gleam", "mock"], help="the published images (default) or the mock sky")
    parser.add_argument("--precision", default="float32", choices=PRECISIONS,
                        help="Keras policy of the runs (default float32; mixed_bfloat16: about twice as fast on CPUs with "
                             "bfloat16 instructions, docs/results/bench_cpu.md); its own runs and tables")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--plan", metavar="FILE", help="write the runs as a Snakemake plan to FILE (workflow/Snakefile runs it)")
    what.add_argument("--aggregate-only", action="store_true", help="write the tables from the finished runs")
    args = parser.parse_args(argv)
    options = ["--seeds", *map(str, args.seeds), "--models", *args.models, "--protocols", *args.protocols,
               "--profile", args.profile, "--source", args.source] + \
        ([] if args.precision == "float32" else ["--precision", args.precision])
    if args.plan:
        runs = plan(args.seeds, args.models, args.protocols, args.profile, args.source, args.precision)
        command = [sys.executable, "-m", "halo_utils.studies.sweep", "--aggregate-only", *options]
        path = workflow.write_plan(args.plan, [workflow.job(r) for r in runs],
                                   tables(args.profile, args.source, args.protocols, args.precision), command)
        print(f"{len(runs)} runs ({sum(r['done'] for r in runs)} done) -> {path}")
        return
    command = "python -m halo_utils.studies.sweep --plan PLAN " + " ".join(options)
    where = f" at commit {commit()}, run by workflow/Snakefile (`make sweep`)"
    for name, path in aggregate(args.profile, args.source, args.models, args.protocols, command,
                                args.precision, where).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
