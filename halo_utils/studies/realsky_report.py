"""The real-sky detector over seeds: the table and figures behind the README's real-sky numbers.

    python -m halo_utils.studies.realsky_report --profile cpu --seeds 0 1 2

reads the ``train_on='injected'`` runs of 05_classifier (model ``--model``, each seed's JSON and its folds' records)
and writes ``docs/results/realsky_<profile>[_subtracted].md`` with

* per seed: completeness at peak S/N >= 5 and false positives on held-out real cut-outs (random positions, and the
  centres of held-out clusters without a halo), intervals resampling host fields; the out-of-fold AUC over all 46
  sources and against each kind, intervals resampling sources; wall time and peak memory;
* the seed ensemble (each source's score averaged over the seeds) and, where the real-only ``kfold`` run of the same
  seed exists, the paired AUC difference on the same folds (its first repeat: the injected runs use one);
* completeness pooled over the seeds by peak S/N, flux density and e-folding radius (host-field intervals);
* the redshift check: within each class, how the score follows z;
* the upper limits of the clusters without a halo (median over seeds; their PSZ2 mass where there is one), and the figures
  ``figures/realsky_completeness_<profile>.png``, ``figures/realsky_limits_<profile>.png`` and
  ``figures/realsky_limits_mass_<profile>.png`` (P150 limits against M500 beside the relation the mock population
  assumes).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from .. import cli, paths
from ..config import run_name
from ..constants import BAND_KEYS
from ..data.catalogue import read_source_table
from ..detect.classify import run_tag
from ..detect.oof import auc_by_kind, paired_auc_difference
from ..detect.realsky_measure import CLUSTERS, _found, at_held_out_fpr, completeness_by, field_interval
from . import report, workflow
from .reference import commit
from .report import markdown

__all__ = ["load", "seed_rows", "ensemble_rows", "paired_rows", "tuning_rows", "band_rows", "relation", "redshift_rows", "limit_rows", "plan_runs", "main"]


def load(profile: str, seed: int, model: str = "I", subtract_compact: bool = False,
         train_on: str = "injected", bands: list | None = None) -> dict | None:
    """A seed's injected run: its JSON (``summary``), and from its folds' records the ``injections``, ``scores``,
    ``before`` (a fine-tuned run's scores before the fine-tuning; else empty) and ``limits`` tables (pandas); None if
    the run is not there."""
    import pandas as pd

    overrides = None if bands is None or list(bands) == list(range(len(BAND_KEYS))) else {"bands": list(bands)}
    name = run_name(profile, seed, "gleam", run_tag(model, "kfold", train_on, subtract_compact=subtract_compact,
                                                    overrides=overrides))
    path = paths.results_dir("05_classifier") / f"{name}.json"
    if not path.exists():
        return None
    folds = [json.loads(p.read_text()) for p in sorted((paths.data_dir() / "models" / "05_classifier" / name).glob(
        "r*f*/fold.json"))]
    injections = pd.DataFrame([r for f in folds for r in f["injections"]])
    injections["candidate"] = injections.score >= injections.threshold
    return dict(summary=json.loads(path.read_text()), injections=injections.assign(seed=seed),
                scores=pd.DataFrame([r for f in folds for r in f["scores"]]).assign(seed=seed),
                before=pd.DataFrame([dict(r, repeat=f["repeat"], fold=f["fold"]) for f in folds
                                     for r in f.get("scores_before_tuning") or []]),
                limits=pd.DataFrame([{k: v for k, v in r.items() if k != "curve"} for f in folds for r in f["limits"]]))


def _interval(value: float, ci, n=None) -> str:
    text = f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if value is not None and ci else "-"
    return text + (f" ({n})" if n is not None else "")


def seed_rows(runs: dict) -> list:
    """One row per seed (see the module docstring)."""
    rows = []
    for seed, run in runs.items():
        s = run["summary"]
        kind = {r["against"]: r for r in s["auc_by_kind"]}
        rows.append({"seed": seed,
                     "completeness, peak S/N >= 5": _interval(s["completeness_real_snr5"], s["completeness_real_snr5_ci"],
                                                              s["n_injections_snr5"]),
                     "false positives, random cut-outs": _interval(s["fpr_real"], s["fpr_real_ci"], s["n_empty"]),
                     "false positives, cluster centres": _interval(s["fpr_cluster_centres"], s["fpr_cluster_centres_ci"],
                                                                   f"{s['n_cluster_centres']} clusters"),
                     "AUC, all 23 others": _interval(s["oof_source_auc"], s["oof_source_auc_ci"]),
                     "AUC, 14 clusters": _interval(kind[CLUSTERS]["auc"], kind[CLUSTERS]["ci"]),
                     "AUC, radio galaxies": f"{kind['radio galaxy']['auc']:.3f}",
                     "AUC, odd radio circles": f"{kind['odd radio circle']['auc']:.3f}",
                     "wall time (min)": f"{s['fold_seconds'] / 60:.1f}", "peak memory (GB)": f"{s['peak_rss_mb'] / 1024:.2f}"})
    return rows


def _ensemble(runs: dict):
    """(source, label, score, repeat 0): each source's score averaged over the seeds."""
    import pandas as pd

    scores = pd.concat([r["scores"] for r in runs.values()])
    return scores.groupby("source").agg(label=("label", "first"), score=("score", "mean")).reset_index().assign(repeat=0)


def ensemble_rows(runs: dict, kinds: dict) -> list:
    """The seed ensemble's AUC against all others and each kind, with source intervals."""
    return [dict(against=r["against"], n_others=r["n_others"], auc=_interval(r["auc"], r["ci"]))
            for r in auc_by_kind(_ensemble(runs), kinds)]


def paired_rows(runs: dict, profile: str, model: str, kinds: dict) -> list:
    """Injected minus real-only ``kfold`` AUC on the same seeds and folds (first repeat), all others and clusters."""
    import pandas as pd

    pairs = []
    for seed, run in runs.items():
        path = paths.results_dir("05_classifier") / f"{run_name(profile, seed, 'gleam', run_tag(model, 'kfold'))}.json"
        if not path.exists():
            continue
        real = pd.DataFrame(json.loads(path.read_text())["scores"])
        real = real[real.repeat == 0][["source", "label", "score", "repeat"]]
        pairs.append((run["scores"][["source", "label", "score", "repeat"]], real))
    return _difference_rows(pairs, kinds)


def _difference_rows(pairs: list, kinds: dict) -> list:
    """Paired AUC differences (a minus b per (a, b) out-of-fold tables), all others and the clusters alone."""
    if not pairs:
        return []
    rows = []
    for against, keep in (("all 23 others", lambda t: t), ("14 clusters", lambda t: t[(t.label == 1) | (
            t.source.map(kinds) == CLUSTERS)])):
        d = paired_auc_difference([(keep(a), keep(b)) for a, b in pairs])
        rows.append({"against": against, "seeds": len(pairs), "per seed": " ".join(f"{v:+.3f}" for v in d["per_seed"]),
                     "mean difference": _interval(d["mean"], d["ci"]), "interval above 0 from": f"{d['needed']:+.3f}",
                     "power": f"{d['power']:.2f}"})
    return rows


def tuning_rows(runs: dict, kinds: dict) -> list:
    """Fine-tuned minus the same networks before the fine-tuning (``train_on='injected+gleam'``), all others and
    clusters, pooled over the seeds (source intervals)."""
    cols = ["source", "label", "score", "repeat"]
    return _difference_rows([(r["scores"][cols], r["before"][cols]) for r in runs.values() if len(r["before"])], kinds)


def redshift_rows(runs: dict, table) -> list:
    """Within each class (halos; clusters without a halo), Spearman's rank correlation of the ensemble score with z."""
    from scipy.stats import spearmanr

    ens = _ensemble(runs).merge(table[["source", "kind", "z"]], on="source").dropna(subset=["z"])
    rows = []
    for name, part in (("halo class", ens[ens.label == 1]), ("clusters without a halo", ens[ens.kind == CLUSTERS])):
        rho, p = spearmanr(part.z, part.score) if len(part) > 2 else (np.nan, np.nan)
        rows.append({"class": name, "n with z": len(part), "z range": f"{part.z.min():.3f}-{part.z.max():.3f}",
                     "median score": f"{part.score.median():.3f}", "Spearman rho (score, z)": f"{rho:+.2f}",
                     "p": f"{p:.2f}"})
    return rows


def shortcut_rows(runs: dict, observed: dict) -> list:
    """Does the score follow the brightest thing at the centre? Within each class, Spearman's rank correlation of the
    ensemble score with the central peak S/N at 139-170 MHz (:func:`halo_utils.studies.brightness.real_observed`)."""
    from scipy.stats import spearmanr

    ens = _ensemble(runs).assign(peak=lambda t: t.source.map(observed))
    rows = []
    for name, part in (("halo class", ens[ens.label == 1]), ("all others", ens[ens.label == 0])):
        rho, p = spearmanr(part.peak, part.score)
        rows.append({"class": name, "n": len(part), "median central peak S/N": f"{part.peak.median():.1f}",
                     "Spearman rho (score, central peak S/N)": f"{rho:+.2f}", "p": f"{p:.2f}"})
    return rows


def limit_rows(runs: dict, table=None):
    """Per cluster without a halo, the median over the seeds that give one of S50, S90 (Jy at 150 MHz) and the P150
    they imply, with how many seeds gave an S50, and its SZ mass where the source ``table`` gives one (pandas)."""
    import pandas as pd

    limits = pd.concat([r["limits"].assign(seed=s) for s, r in runs.items()])
    out = limits.groupby("cluster").agg(z=("z", "first"), z_known=("z_known", "first"), seeds=("seed", "size"),
                                       found_alone=("found_alone", "median"), seeds_with_s50=("s50_jy", "count"),
                                       s50_jy=("s50_jy", "median"), s90_jy=("s90_jy", "median"),
                                       p50_w_hz=("p50_w_hz", "median"), p90_w_hz=("p90_w_hz", "median"))
    out = out.reset_index()
    if table is not None and "m500" in table:
        out.insert(3, "m500", out.cluster.map(dict(zip(table.source, table.m500))))
    return out


def relation(m500=(1.0, 15.0)) -> dict:
    """The P150-M500 relation the mock population draws halo powers from (:mod:`halo_utils.sky.population`: the form
    of the LoTSS-DR2 relation, slope and normalisation assumed), on a grid of M500 (1e14 Msun), for the figure."""
    from ..sky.mock import SkyConfig
    from ..sky.population import M_PIVOT

    log_p0, slope, scatter = SkyConfig().p150_relation
    grid = np.geomspace(*m500, 50)
    return dict(m500=grid, log_p=log_p0 + slope * np.log10(grid / M_PIVOT), scatter=scatter,
                label=f"mock population: slope {slope:g}, 10^{log_p0:g} W/Hz at {M_PIVOT:g}e14 Msun (assumed)")


def _figures(runs: dict, limits, profile: str, suffix: str) -> list:
    import pandas as pd

    from .. import plots

    injections = pd.concat([r["injections"] for r in runs.values()])
    fig = plots.show_completeness(injections[~injections.on_cluster_centre | (injections.label == 1)],
                                  {"peak_snr": "halo peak S/N per beam, 139-170 MHz", "flux_150": "halo flux density, "
                                   "150 MHz (Jy)", "re_arcmin": "halo e-folding radius (arcmin)"}, truth="label")
    names = [plots.save(fig, f"realsky_completeness_{profile}{suffix}")]
    fig = plots.show_limits(limits)
    names.append(plots.save(fig, f"realsky_limits_{profile}{suffix}"))
    if "m500" in limits and limits.m500.notna().any():
        fig = plots.show_limits_mass(limits, relation())
        names.append(plots.save(fig, f"realsky_limits_mass_{profile}{suffix}"))
    return names


def _shortcut_part(runs: dict, gleam_dir, profile: str) -> str:
    """The central-peak table, when the published images can be read."""
    from ..config import data_config
    from ..data.images import read_dataset
    from ..prep.noise import noise_table
    from .brightness import real_observed

    try:
        sources = read_dataset(paths.gleam_dir(gleam_dir))
    except paths.MissingDataError:
        return ""
    observed = real_observed(sources, data_config(profile), noise_table(sources))
    return ("\n## The radio-galaxy shortcut: does the score follow the central peak within a class?\n\nCentral peak: "
            "the brightest pixel within 3' of the centre over the noise at 139-170 MHz, after the pipeline's clip, "
            "before any subtraction.\n\n" + markdown(shortcut_rows(runs, observed)))


def band_rows(profile: str, seeds, model: str, band_sets: list, kinds: dict) -> list:
    """Per seed and set of bands (the four first): completeness at peak S/N >= 5 and false positives on held-out
    real cut-outs, the AUCs, and the AUC change from the four-band run of the same seed and folds."""
    rows = []
    for seed in seeds:
        full = load(profile, seed, model)
        for bands in [list(range(len(BAND_KEYS)))] + [b for b in band_sets if b != list(range(len(BAND_KEYS)))]:
            run = full if len(bands) == len(BAND_KEYS) else load(profile, seed, model, bands=bands)
            if run is None:
                continue
            s = run["summary"]
            kind = {r["against"]: r for r in s["auc_by_kind"]}
            cols = ["source", "label", "score", "repeat"]
            change = "-" if run is full or full is None else " / ".join(
                f"{r['mean difference']}" for r in _difference_rows([(run["scores"][cols], full["scores"][cols])], kinds))
            rows.append({"seed": seed, "bands (MHz)": ", ".join(BAND_KEYS[b] for b in bands),
                         "completeness, peak S/N >= 5": _interval(s["completeness_real_snr5"],
                                                                  s["completeness_real_snr5_ci"]),
                         "false positives": f"{s['fpr_real']:.3f}",
                         "AUC, all 23 others": _interval(s["oof_source_auc"], s["oof_source_auc_ci"]),
                         "AUC, 14 clusters": _interval(kind[CLUSTERS]["auc"], kind[CLUSTERS]["ci"]),
                         "AUC change from four bands (all / clusters)": change})
    return rows


def _suffix(args) -> str:
    """``_tuned`` for fine-tuned runs, ``_subtracted`` for runs with compact sources subtracted."""
    return ("_tuned" if args.train_on == "injected+gleam" else "") + ("_subtracted" if args.subtract_compact else "")


def plan_runs(args) -> list:
    """The 05_classifier runs the table of ``args`` reads (:func:`~halo_utils.studies.workflow.notebook_run`)."""
    every = list(range(len(BAND_KEYS)))
    bands = [every] + [[int(b) for b in s.split(",")] for s in args.band_sets or []]
    return [workflow.notebook_run(args.profile, seed, args.model, train_on=args.train_on,
                                  subtract_compact=args.subtract_compact,
                                  training_overrides=None if b == every else {"bands": b})
            for seed in args.seeds for b in dict((tuple(b), b) for b in bands).values()]


def main(argv=None):
    import pandas as pd

    parser = cli.parser(__spec__.name, __doc__)
    cli.add_study_options(parser, [0, 1, 2])
    parser.add_argument("--subtract-compact", action="store_true", help="the runs with compact sources subtracted")
    parser.add_argument("--train-on", default="injected", choices=("injected", "injected+gleam"),
                        help="the runs' train_on (default injected; injected+gleam: fine-tuned on the labelled sources)")
    parser.add_argument("--band-sets", nargs="+", default=None, metavar="I,J,K",
                        help="instead: the table of what dropping bands costs, e.g. 1,2,3 0,1,2 (band indices, 0 = "
                             "72-103 MHz), written to realsky_bands_<profile>.md")
    parser.add_argument("--gleam-dir", default=None, help="published dataset (default $HALO_GLEAM_DIR), for the central "
                                                          "peaks; without it that table is left out")
    args = parser.parse_args(argv)
    argv = argv if argv is not None else sys.argv[1:]
    if args.plan:
        return workflow.study_plan(args.plan, __spec__.name, cli.without_plan(argv), plan_runs(args), [
            report.path(f"realsky_bands_{args.profile}.md" if args.band_sets else f"realsky_{args.profile}{_suffix(args)}.md")])
    command = "python -m halo_utils.studies.realsky_report " + " ".join(argv)
    if args.band_sets:
        table = read_source_table(None)
        rows = band_rows(args.profile, args.seeds, args.model, [[int(b) for b in s.split(",")] for s in args.band_sets],
                         dict(zip(table.source, table.kind)))
        report.write(f"realsky_bands_{args.profile}.md", f"Made by `{command}` at commit {commit()}: `train_on='injected'`, "
                     f"model {args.model}, the network given only some bands (`-p training_overrides '{{\"bands\": "
                     "[...]}'`), each set of bands on the same folds as the four-band run of its seed. Completeness: "
                     "held-out real cut-outs, host-field intervals; AUC: out of fold, source intervals; the change: "
                     "paired, sources resampled.\n\n" + markdown(rows))
        return
    runs = {s: r for s in args.seeds if (r := load(args.profile, s, args.model, args.subtract_compact, args.train_on)) is not None}
    if not runs:
        raise SystemExit(f"no train_on={args.train_on!r} run of model {args.model} in {paths.results_dir('05_classifier')}")
    table = read_source_table(None)
    kinds = dict(zip(table.source, table.kind))
    injections = pd.concat([r["injections"] for r in runs.values()])
    limits = limit_rows(runs, table)
    suffix = _suffix(args)
    figures = _figures(runs, limits, args.profile, suffix)
    parts = [f"Made by `{command}` at commit {commit()}, from the runs `papermill notebooks/05_classifier.ipynb out.ipynb "
             f"-p model {args.model} -p train_on {args.train_on} -p seed <seed>"
             + (" -p subtract_compact True" if args.subtract_compact else "")
             + f"` (profile {args.profile}), seeds {sorted(runs)}. Each seed has its own 5-fold plan; a fold's network "
             "never saw its test sources' fields. Completeness and false positives: held-out real cut-outs, intervals "
             "resampling host fields (all seeds' injections of a field together). AUC: out of fold, intervals "
             "resampling sources. Figures: " + ", ".join(f"`{Path(f).name}`" for f in figures) + ".\n",
             "\n## Per seed\n\n" + markdown(seed_rows(runs)),
             "\n## Seed ensemble (each source's score averaged over the seeds)\n\n" + markdown(ensemble_rows(runs, kinds)),
             "\n## Against real-only training on the same folds (first repeat of the real-only `kfold` run)\n\n"
             + markdown(paired_rows(runs, args.profile, args.model, kinds)),
             ("\n## Fine-tuning: the same networks after minus before it\n\n" + markdown(tuning_rows(runs, kinds))
              if args.train_on == "injected+gleam" else ""),
             "\n## Completeness pooled over the seeds (cut-outs with a halo; host-field intervals)\n\n"
             + markdown(completeness_by(injections).round(3).to_dict("records"))
             + "\n" + markdown(completeness_by(injections, "flux_150", (0, 0.03, 0.1, 0.3, 1, np.inf)).round(3)
                               .to_dict("records"))
             + "\n" + markdown(completeness_by(injections, "re_arcmin", (0, 0.5, 1, 2, 4, np.inf)).round(3)
                               .to_dict("records")),
             "\n## Redshift: does the score follow z within a class?\n\n" + markdown(redshift_rows(runs, table)),
             _shortcut_part(runs, args.gleam_dir, args.profile),
             "\n## Upper limits of the clusters without a halo (median over seeds)\n\nS50 / S90: 150 MHz flux density "
             "(Jy) at which halos injected at the cluster's centre (e-folding radius 200 kpc, alpha -1.3) are found 50 % "
             "/ 90 % of the time by the fold model that held the cluster out; P: the rest-frame 150 MHz power they "
             "imply; m500: the cluster's PSZ2 mass (1e14 Msun); found_alone: how often the centre with nothing injected is above the threshold. A seed gives no S50 where "
             "the cluster alone is found half of the time or more (the detector takes the cluster itself for a halo) or "
             "the grid (0.01-10 Jy) was not enough; medians are over the seeds that give one (seeds_with_s50).\n\n"
             + markdown(limits.round({"z": 4, "s50_jy": 3, "s90_jy": 3}).assign(
                 p50_w_hz=limits.p50_w_hz.map("{:.2e}".format), p90_w_hz=limits.p90_w_hz.map("{:.2e}".format))
                 .to_dict("records"))]
    pooled = []
    for label, marked in (("at each fold's operating threshold (5 % false positives on its validation images, "
                           "decoys included)", injections),
                          ("at 5 % false positives on the held-out empty cut-outs themselves (a point on the held-out "
                           "ROC curve, not a threshold a user could set)", at_held_out_fpr(injections))):
        bright = marked[(marked.label == 1) & (marked.peak_snr >= 5)]
        empty = marked[(marked.label == 0) & ~marked.on_cluster_centre]
        low, high = field_interval(bright)
        pooled.append(f"- {label}: completeness {_found(bright):.3f} [{low:.3f}, {high:.3f}] ({len(bright)} halos), "
                      f"false positives on empty random cut-outs {_found(empty):.3f} ({len(empty)})\n")
    parts.insert(1, "\nPooled over the seeds, halos of peak S/N >= 5 on held-out real fields:\n\n" + "".join(pooled))
    report.write(f"realsky_{args.profile}{suffix}.md", "".join(parts))


if __name__ == "__main__":
    main()
