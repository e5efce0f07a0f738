"""Which real sources does a detector tell the halos from? The AUC against each kind of non-halo source.

The 23 sources without a halo in the published set are of three kinds: 14 clusters without reported diffuse
emission, 4 bright radio galaxies (3C, NGC, PKS) and 5 odd radio circles. A halo detector must separate halos
from clusters without one; separating them from a radio galaxy only needs "is this a cluster field". The
46-source AUC mixes the two, so this table splits it: every halo against all the others, then against each
kind alone, with bootstrap intervals (the clusters of both sides resampled).

    python -m halo_utils.studies.kinds --profile cpu --seeds 0 1 2

writes ``docs/results/auc_by_kind_<profile>.md`` (``--name N``: ``auc_by_kind_<profile>_N.md``) from what is
there: the seed ensembles of the real-only sweep (``docs/results/source_scores_kfold_<profile>.csv``, every model and the hand-feature forest) and, per
seed, the 05_classifier runs of model ``--model``: real-only (``train_on='gleam'``, out-of-fold), mock-only
(``train_on='mock'``, mock fields clipped like the published; scored on all 46, none seen) and mock
pre-training + fine-tuning (``train_on='mock+gleam'``), then, from two mock-only runs on, their seed ensemble (each
source's scores averaged over the seeds). ``--fresh-views``: the mock runs with new views every epoch.
It ends with the redshifts of each kind (Planck PSZ2 matches of the source table), how well redshift alone
would separate the halos from each kind where it is known, and what an AUC of 0.80 against all others asks against
the clusters alone.
"""

from __future__ import annotations

from pathlib import Path

from .. import cli, paths
from ..data.catalogue import read_source_table
from ..detect.classify import run_tag
from ..detect.oof import auc_by_kind, paired_auc_difference
from . import workflow
from .pretraining import load_result, mock_overrides, mock_run
from .report import markdown

__all__ = ["kinds", "long", "of_run", "ensemble_rows", "tag_of", "run_rows", "mock_ensemble_rows", "paired_rows",
           "needed_auc", "target_rows", "redshifts", "table_name", "main"]


def kinds(root=None) -> dict:
    """Source name -> kind: the ``kind`` column of the source table of the dataset in folder ``root`` (a mock sky's
    own), or of the committed table of the published images."""
    table = read_source_table(root)
    return dict(zip(table.source, table.kind))


def long(scores):
    """A run's per-source scores (records or table; ``name`` or ``source``; out-of-fold with ``repeat``, or scored
    once) as the (source, label, score, repeat) table of :mod:`halo_utils.detect.oof`."""
    import pandas as pd

    table = pd.DataFrame(scores).rename(columns={"name": "source"})
    return table[["source", "label", "score", "repeat"]] if "repeat" in table else \
        table[["source", "label", "score"]].assign(repeat=0)


def of_run(scores, root=None) -> list:
    """:func:`~halo_utils.detect.oof.auc_by_kind` of a run's per-source ``scores`` (see :func:`long`), the kinds
    from the source table of the dataset in ``root``."""
    return auc_by_kind(long(scores), kinds(root))


def row(label: dict, scores, kind: dict) -> dict:
    """``label`` (what the detector is) followed by ``auc [low, high]`` against all others and each kind."""
    out = dict(label)
    for r in auc_by_kind(scores, kind):
        out[f"vs {r['against']} ({r['n_others']})"] = f"{r['auc']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]"
    return out


def ensemble_rows(csv, kind: dict) -> list:
    """One row per column group of a sweep's per-source table (model -> label, score; seed-averaged scores)."""
    import pandas as pd

    wide = pd.read_csv(csv, header=[0, 1], index_col=0)
    rows = []
    for model in dict.fromkeys(wide.columns.get_level_values(0)):
        part = wide[model].reset_index(names="source").assign(repeat=0)
        name = "hand-feature forest" if model == "baseline" else f"model {model}"
        rows.append(row(dict(detector=f"real-only {name}, seed ensemble", seed="all"), part, kind))
    return rows


def tag_of(model: str, train_on: str, fresh: bool = False) -> str:
    """The 05_classifier run tag these tables read: ``kfold`` real-only (``train_on='gleam'``), or a ``mock`` /
    ``mock+gleam`` run from mock fields clipped like the published, the pipeline's 4 sigma clip (``fresh``: new views
    every epoch)."""
    if train_on == "gleam":
        return run_tag(model, "kfold")
    return run_tag(model, "kfold", train_on, 4.0, True, overrides=mock_overrides(None, fresh))


def run_rows(profile: str, seeds, model: str, kind: dict, fresh: bool = False) -> list:
    """Per seed, the real-only, mock-only and mock-pre-trained runs of ``model`` found (scores of the 46 sources)."""
    runs = (("real-only", "gleam", "scores"), ("mock-only (none seen)", "mock", "real_scores"),
            ("mock pre-trained + fine-tuned", "mock+gleam", "scores"))
    rows = []
    for seed in seeds:
        for name, train_on, key in runs:
            result = load_result(profile, seed, "gleam", tag_of(model, train_on, fresh))
            if result is None:
                continue
            rows.append(row(dict(detector=f"{name}, model {model}", seed=seed), long(result[key]), kind))
    return rows


def mock_ensemble_rows(profile: str, seeds, model: str, kind: dict, fresh: bool = False) -> list:
    """The mock-only runs of ``seeds`` found, their scores of each source averaged (as the real-only sweep's seed
    ensemble averages): one row, or none when fewer than two seeds were run."""
    import pandas as pd

    found = {s: r for s in seeds if (r := load_result(profile, s, "gleam", tag_of(model, "mock", fresh))) is not None}
    if len(found) < 2:
        return []
    scores = pd.concat([long(r["real_scores"]) for r in found.values()])
    mean = scores.groupby("source", as_index=False).agg(label=("label", "first"), score=("score", "mean"))
    name = f"mock-only (none seen), model {model}, seed ensemble"
    return [row(dict(detector=name, seed=" ".join(map(str, found))), mean.assign(repeat=0), kind)]


def paired_rows(profile: str, seeds, model: str, kind: dict, fresh: bool = False) -> list:
    """Mock pre-training + fine-tuning minus real-only training, paired by seed (the seeds with both runs), against
    all others and against each kind alone: per-seed differences, their mean and the paired interval
    (:func:`~halo_utils.detect.oof.paired_auc_difference` on the halos and the sources of that kind), the mean
    difference from which an interval this wide lies above 0, and the power: the share of the resampled differences
    above it."""
    pairs, used = [], []
    for seed in seeds:
        real = load_result(profile, seed, "gleam", tag_of(model, "gleam"))
        pre = load_result(profile, seed, "gleam", tag_of(model, "mock+gleam", fresh))
        if real is not None and pre is not None:
            pairs.append((long(pre["scores"]), long(real["scores"])))
            used.append(seed)
    if not pairs:
        return []
    label = pairs[0][0].groupby("source").label.first()
    halos, others = set(label[label == 1].index), {s: kind[s] for s in label[label == 0].index}
    subsets = [("all others", set(label.index))] + [
        (name, halos | {s for s, k in others.items() if k == name}) for name in sorted(set(others.values()))]
    rows = []
    for name, keep in subsets:
        diff = paired_auc_difference([(a[a.source.isin(keep)], b[b.source.isin(keep)]) for a, b in pairs])
        rows.append({"against": name, "seeds": " ".join(map(str, used)),
                     "per seed": " ".join(f"{d:+.3f}" for d in diff["per_seed"]),
                     "mean [95 % interval]": f"{diff['mean']:+.3f} [{diff['ci'][0]:+.3f}, {diff['ci'][1]:+.3f}]",
                     "interval above 0 from": f"{diff['needed']:+.3f}", "power": f"{diff['power']:.2f}"})
    return rows


def needed_auc(counts: dict, target: float, given: dict) -> float:
    """The AUC against the one kind of ``counts`` missing from ``given`` that gives ``target`` against all others.

    The AUC against all others is the mean over (halo, other) pairs, so it is the mean of the AUCs against each kind
    weighted by that kind's count (``counts``: kind -> number of sources; ``given``: kind -> AUC, every kind but one).
    """
    missing = [k for k in counts if k not in given]
    if len(missing) != 1:
        raise ValueError(f"give the AUC of every kind but one (missing: {missing})")
    rest = sum(counts[k] * auc for k, auc in given.items())
    return (target * sum(counts.values()) - rest) / counts[missing[0]]


def target_rows(target: float = 0.80, sweep=None, model: str = "I", root=None) -> list:
    """What an AUC of ``target`` against all the non-halo sources asks against the clusters without reported emission:
    with the other kinds ranked at chance, and (``sweep``: a real-only sweep's per-source table) ranked as the
    real-only seed ensemble of ``model`` ranks them."""
    import pandas as pd

    table = read_source_table(root)
    counts = table[table.label == 0].kind.value_counts().to_dict()
    clusters = next(k for k in counts if k.startswith("cluster"))
    cases = [("the other kinds ranked at chance (0.5 each)", {k: 0.5 for k in counts if k != clusters})]
    if sweep is not None:
        part = pd.read_csv(sweep, header=[0, 1], index_col=0)[model].reset_index(names="source").assign(repeat=0)
        by_kind = {r["against"]: r["auc"] for r in auc_by_kind(part, dict(zip(table.source, table.kind)))}
        given = {k: by_kind[k] for k in counts if k != clusters}
        cases.append((f"ranked as the real-only model {model} seed ensemble ranks them ("
                      + ", ".join(f"{k} {a:.3f}" for k, a in given.items()) + ")", given))
    return [{"the other non-halo sources": how, f"AUC needed against the {counts[clusters]} clusters for {target:g} "
             f"against all {sum(counts.values())}": f"{needed_auc(counts, target, given):.3f}"} for how, given in cases]


def redshifts(root=None) -> list:
    """Per kind of source: how many, how many with a redshift, its range and median, and for each kind of non-halo
    source the AUC of the redshift alone (halo class against that kind, only the sources with a redshift, with a
    bootstrap interval): how far redshift would separate them if a detector could see it (source table of ``root``).
    """
    table = read_source_table(root)
    known = table.dropna(subset=["z"]).assign(score=lambda t: t.z, repeat=0)
    by_z = {}
    if known.label.nunique() == 2:
        ranked = auc_by_kind(known[["source", "label", "score", "repeat"]], dict(zip(table.source, table.kind)))
        by_z = {r["against"]: r for r in ranked}
    rows = []
    for name, part in table.groupby("kind", sort=False):
        z = part.z.dropna()
        auc = by_z.get(name) if part.label.eq(0).all() else None
        rows.append(dict(kind=name, sources=len(part), with_z=len(z),
                         z_range=f"{z.min():.3f} - {z.max():.3f}" if len(z) else "-",
                         z_median=f"{z.median():.3f}" if len(z) else "-",
                         **{"AUC of z alone, halo class against it":
                            f"{auc['auc']:.3f} [{auc['ci'][0]:.3f}, {auc['ci'][1]:.3f}]" if auc else "-"}))
    return rows


def table_name(profile: str, name: str = "") -> str:
    """File name of the table under ``docs/results``: ``auc_by_kind_<profile>[_<name>].md``."""
    return f"auc_by_kind_{profile}" + (f"_{name}" if name else "") + ".md"


def main(argv=None):
    import sys

    parser = cli.parser(__spec__.name, __doc__)
    cli.add_study_options(parser, [0, 1, 2])
    parser.add_argument("--fresh-views", action="store_true", help="the mock runs with new views every epoch")
    parser.add_argument("--name", default="", help="appended to the table's file name, e.g. 'seeds3-4' for a "
                        "confirmation on seeds not looked at before")
    args = parser.parse_args(argv)
    argv = argv if argv is not None else sys.argv[1:]
    if args.plan:  # the sweep's seed ensembles (make sweep) are read where they are, not planned here
        fresh = mock_overrides(None, args.fresh_views)
        runs = [r for s in args.seeds for r in (workflow.notebook_run(args.profile, s, args.model),
                                                mock_run(args.profile, s, args.model, overrides=fresh),
                                                mock_run(args.profile, s, args.model, overrides=fresh, train_on="mock+gleam"))]
        return workflow.study_plan(args.plan, __spec__.name, cli.without_plan(argv), runs,
                                   [paths.docs_results() / table_name(args.profile, args.name)])
    command = "python -m halo_utils.studies.kinds " + " ".join(argv)
    kind = kinds()
    out = paths.docs_results()
    sweep = out / f"source_scores_kfold_{args.profile}.csv"
    rows = (ensemble_rows(sweep, kind) if sweep.exists() else []) + \
        run_rows(args.profile, args.seeds, args.model, kind, args.fresh_views) + \
        mock_ensemble_rows(args.profile, args.seeds, args.model, kind, args.fresh_views)
    paired = paired_rows(args.profile, args.seeds, args.model, kind, args.fresh_views)
    text = (f"Made by `{command}`: per-source AUC of the 23 halo-class sources against all 23 others and against "
            "each kind of them alone (count in brackets), with 95 % bootstrap intervals (sources of both sides "
            "resampled). Real-only and fine-tuned: out-of-fold scores, averaged over repeats; mock-only: the 46 "
            "scored once, none seen in training; seed ensemble: the sweep's (or the mock-only runs') per-source "
            "scores averaged over seeds.\n\n" + markdown(rows) + "\nMock pre-training + fine-tuning minus real-only "
            "training (model "
            f"{args.model}, same folds and seeds), against all others and each kind alone; interval: clusters "
            "resampled, the same draw for both runs of a seed. `interval above 0 from`: the smallest mean difference "
            "whose interval, as wide below its mean as this one, would lie above 0; `power`: the share of the "
            "resampled differences above that, i.e. were the true difference the one measured, about how often a "
            "new sample of as many sources would show it with an interval above 0:\n\n" + markdown(paired)
            + "\nRedshifts of each kind (Planck PSZ2 matches within 6 arcmin, "
            "`data/catalogues/gleam_halo_sources.csv`):\n\n" + markdown(redshifts())
            + "\nWhat the target asks: the AUC against all others is the mean of the AUCs against each kind, weighted "
            "by its count, so a detector that ranks the rings and radio galaxies at chance needs nearly perfect "
            "ranking against the clusters:\n\n" + markdown(target_rows(0.80, sweep if sweep.exists() else None,
                                                                     args.model)))
    paths.atomic_write(out / table_name(args.profile, args.name), lambda tmp: Path(tmp).write_text(text))
    print(text)


if __name__ == "__main__":
    main()
