"""What the mock sky buys: tables of the mock-trained detector and of mock pre-training, from 05's result JSONs.

    python -m halo_utils.studies.pretraining --profile cpu --seeds 0 1 2

writes ``docs/results/mock_detector_<profile>.md`` (every ``train_on='mock'`` run found: test AUC on held-out mock
fields, completeness at the operating threshold by peak S/N, false-positive rate, the real clusters' AUC) and
``docs/results/mock_pretraining_<profile>.md`` (``mock+gleam`` against ``gleam`` on the same folds and seeds:
per-seed out-of-fold AUCs and the paired difference with its interval over the clusters).

    python -m halo_utils.studies.pretraining --profile cpu --seeds 0 --sidelobes 0 0.03 0.1

writes ``docs/results/mock_sidelobes_<profile>.md`` instead: the mock-only runs (mock fields clipped like the
published) whose mock fields had artefact ripples of those levels around bright sources (0: none).

    python -m halo_utils.studies.pretraining --profile cpu --seeds 0 --fields 3000 12000 25000

writes ``docs/results/mock_fields_<profile>.md``: the mock-only runs with those numbers of training fields.

    python -m halo_utils.studies.pretraining --profile cpu --seeds 0 --pretrain-fields 25000

writes ``docs/results/mock_pretraining_<profile>_fields25000.md``: pre-training from the detector of 25,000 mock
fields (``-p training_overrides '{"mock_fields": 25000}'``) against real-only training; ``--fresh-views`` takes the
runs whose mock detector saw new views of its fields every epoch (``"mock_fresh_views": true``) instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import cli, paths
from ..config import run_name
from ..detect.classify import run_tag
from ..detect.oof import binomial_interval, paired_auc_difference
from . import report, workflow
from .report import markdown

__all__ = ["load_result", "mock_overrides", "completeness_text", "mock_rows", "pretraining", "mock_run", "field_overrides", "plan_runs", "markdown", "main"]


def load_result(profile: str, seed: int, source: str, tag: str) -> dict | None:
    path = paths.results_dir("05_classifier") / f"{run_name(profile, seed, source, tag)}.json"
    return json.loads(path.read_text()) if path.exists() else None


def mock_rows(profile: str, seeds, model: str = "I", source: str = "gleam", skies=({},), clipping=(False, True),
              fields=(None,), fresh=(False,)) -> list:
    """One row per mock-only run found (mock images unclipped / clipped like the published, pipeline clip, each of
    ``skies``: the mock-sky settings changed, e.g. ``{"sidelobe_level": 0.03}``, each of ``fields``: training
    fields, None for the profile's ``mock_fields``, a number for the runs with that ``mock_fields`` override, and
    each of ``fresh``: True for the runs with new views of the training fields every epoch)."""
    rows = []
    for seed, sky, clipped, clip, n, f in ((s, k, c, p, n, f) for s in seeds for k in skies for c in clipping
                                           for p in (4.0, None) for n in fields for f in fresh):
        result = load_result(profile, seed, source, run_tag(model, "kfold", "mock", clip, clipped, overrides=mock_overrides(n, f),
                                                      mock_sky=sky))
        if result is None:
            continue
        mock, real = result["mock"], result["transfer"]
        by_snr = {r["peak_snr_bin"]: r for r in mock["completeness"]}
        sky_column = {"mock_sky": ", ".join(f"{k} {v}" for k, v in sky.items()) or "default"} if any(skies) else {}
        size_column = {"train_fields": mock["sizes"]["train"], "test_fields": mock["sizes"]["test"]} if any(fields) else {}
        views_column = {"training_views": "new every epoch" if f else "fixed"} if any(fresh) else {}
        rows.append(dict(seed=seed, **size_column, **views_column, **sky_column, mock_images="clipped like the published" if clipped else "unclipped",
                         pipeline_clip="none" if clip is None else f"{clip:g} sigma",
                         test_auc=f"{mock['test_auc']:.3f} [{mock['test_auc_ci'][0]:.3f}, {mock['test_auc_ci'][1]:.3f}]",
                         threshold=f"{mock['threshold']['threshold']:.3f}", test_fpr=f"{mock['test_fpr']:.3f}",
                         completeness_snr5=completeness_text(round(mock["completeness_snr5"] * mock["n_halos_snr5"]),
                                                             mock["n_halos_snr5"]),
                         **{f"completeness_snr{k}": f"{r['completeness']:.2f} ({r['found']}/{r['n']})"
                            for k, r in by_snr.items()},
                         real_auc=f"{real['auc']:.3f} [{real['auc_ci'][0]:.3f}, {real['auc_ci'][1]:.3f}]",
                         real_halos_found=f"{real['halos_found']}/{real['n_halos']}",
                         real_non_halos_above=f"{real['non_halos_above']}/{real['n_non_halos']}",
                         **_median_scores(result.get("real_scores")),
                         train_s=round(mock["train_seconds"]), **_memory(mock)))
    return rows


def completeness_text(found: int, n: int) -> str:
    """``found`` of ``n`` halos with its Wilson 95 % interval: ``0.910 [0.898, 0.921] (2307/2535)``."""
    low, high = binomial_interval(found, n)
    return f"{found / n:.3f} [{low:.3f}, {high:.3f}] ({found}/{n})" if n else "-"


def _median_scores(scores: list | None) -> dict:
    """The real clusters' median score, halos / others (for runs that recorded each cluster's score)."""
    if not scores:
        return {}
    median = {y: float(np.median([r["score"] for r in scores if r["label"] == y])) for y in (1, 0)}
    return dict(real_median_score=f"{median[1]:.2f} / {median[0]:.2f}")


def mock_overrides(fields: int | None, fresh: bool) -> dict | None:
    """The ``TrainConfig`` overrides of a mock run: ``fields`` (None: the profile's) and new views every epoch."""
    return {**({} if fields is None else {"mock_fields": fields}), **({"mock_fresh_views": True} if fresh else {})} or None


def _memory(mock: dict) -> dict:
    """The run's peak resident memory, or (runs before the fields were streamed) the arrays it held."""
    if "peak_rss_mb" in mock:
        return dict(peak_memory_mb=round(mock["peak_rss_mb"]))
    return dict(arrays_mb=round(mock["memory_mb"]))


def pretraining(profile: str, seeds, model: str = "I", source: str = "gleam", mock_clipped: bool = True,
                fields: int | None = None, fresh: bool = False) -> tuple:
    """Per-seed AUC of real-only and mock-pre-trained runs found for both, and their paired difference; ``fields``:
    the pre-trained runs with that ``mock_fields`` override (None: the profile's); ``fresh``: those whose mock
    detector saw new views every epoch (``mock_fresh_views``)."""
    import pandas as pd

    rows, pairs = [], []
    for seed in seeds:
        real = load_result(profile, seed, source, run_tag(model, "kfold"))
        pre = load_result(profile, seed, source, run_tag(model, "kfold", "mock+gleam", 4.0, mock_clipped,
                                                         overrides=mock_overrides(fields, fresh)))
        if real is None or pre is None:
            continue
        pairs.append((pd.DataFrame(pre["scores"]), pd.DataFrame(real["scores"])))
        rows.append(dict(seed=seed, real_only=round(real["oof_source_auc"], 3), mock_pretrained=round(pre["oof_source_auc"], 3),
                         difference=round(pre["oof_source_auc"] - real["oof_source_auc"], 3)))
    return rows, (paired_auc_difference(pairs) if pairs else None)


def mock_run(profile: str, seed: int, model: str = "I", clipped: bool = True, clip: float | None = 4.0,
             overrides: dict | None = None, sky: dict | None = None, train_on: str = "mock") -> dict:
    """A plan's run (:func:`~halo_utils.studies.workflow.notebook_run`) of a mock detector (mock fields ``clipped``
    like the published or not, pipeline ``clip``), or (``train_on='mock+gleam'``) of pre-training from it, which
    waits for the mock run: both would train the same detector."""
    run = workflow.notebook_run(profile, seed, model, train_on=train_on, mock_clipped=clipped, clip_sigma=clip,
                                training_overrides=overrides, mock_sky=sky)
    if train_on == "mock+gleam":
        run["after"] = [mock_run(profile, seed, model, clipped, clip, overrides, sky)]
    return run


def field_overrides(profile: str, numbers) -> list:
    """The ``mock_fields`` of each number of training fields as :func:`mock_overrides` takes it: None for the
    profile's own (whose runs carry no override), else the number."""
    from ..detect.classify import train_config

    default = train_config(profile).mock_fields
    return [None if n == default else n for n in numbers]


def plan_runs(args) -> list:
    """The 05_classifier runs the tables of ``args`` read (mock detectors of :data:`~.mockbaseline.SETTINGS`, and
    for the pre-training table the real-only and mock-pre-trained runs)."""
    from .mockbaseline import SETTINGS

    p, m = args.profile, args.model
    if args.fields:
        return [mock_run(p, s, m, c, clip, mock_overrides(n, f)) for s in args.seeds for c, clip in SETTINGS
                for n in field_overrides(p, args.fields) for f in ((False, True) if args.fresh_views else (False,))]
    if args.sidelobes:
        return [mock_run(p, s, m, sky={"sidelobe_level": level} if level else None) for s in args.seeds
                for level in args.sidelobes]
    detectors = [] if args.pretrain_fields is not None or args.fresh_views else \
        [mock_run(p, s, m, c, clip) for s in args.seeds for c, clip in SETTINGS]
    overrides = mock_overrides(args.pretrain_fields, args.fresh_views)
    return detectors + [r for s in args.seeds for r in (workflow.notebook_run(p, s, m),
                                                       mock_run(p, s, m, overrides=overrides, train_on="mock+gleam"))]


def _tables(args) -> list:
    """The tables :func:`main` writes for ``args``."""
    if args.fields or args.sidelobes:
        return [report.path(f"mock_{'fields' if args.fields else 'sidelobes'}_{args.profile}.md")]
    name = f"mock_pretraining_{args.profile}" + ("" if args.pretrain_fields is None else f"_fields{args.pretrain_fields}") \
        + ("_freshviews" if args.fresh_views else "")
    first = [] if args.pretrain_fields is not None or args.fresh_views else [report.path(f"mock_detector_{args.profile}.md")]
    return first + [report.path(f"{name}.md")]


def main(argv=None):
    import sys

    parser = cli.parser(__spec__.name, __doc__)
    cli.add_study_options(parser, [0, 1, 2])
    parser.add_argument("--fields", type=int, nargs="+", default=None, metavar="N",
                        help="tabulate the mock-only runs with these numbers of training fields")
    parser.add_argument("--fresh-views", action="store_true",
                        help="with --fields: also the runs with new views every epoch (mock_fresh_views); without: "
                             "pre-training from such a detector (mock_pretraining_<profile>[_fields<N>]_freshviews.md)")
    parser.add_argument("--pretrain-fields", type=int, default=None, metavar="N",
                        help="tabulate only pre-training from the detector of N mock fields (mock_pretraining_<profile>"
                             "_fields<N>.md)")
    parser.add_argument("--sidelobes", type=float, nargs="+", default=None, metavar="LEVEL",
                        help="tabulate the mock-only runs (clipped mock fields) with these sidelobe levels instead")
    args = parser.parse_args(argv)
    argv = argv if argv is not None else sys.argv[1:]
    if args.plan:
        return workflow.study_plan(args.plan, __spec__.name, cli.without_plan(argv), plan_runs(args), _tables(args))
    command = "python -m halo_utils.studies.pretraining " + " ".join(argv)
    out = paths.docs_results()
    if args.fields:
        fields = field_overrides(args.profile, args.fields)
        text = (f"Made by `{command}` from the `train_on='mock'` runs of 05_classifier (model {args.model}, "
                "`-p training_overrides '{\"mock_fields\": N}'`; mock fields unclipped with `-p clip_sigma None`, or "
                "clipped like the published with `-p mock_clipped True`): the same detector trained on more mock "
                "fields (validation 1/5 and test 1/2 as many, the first fields of the same mock seeds), and scored on "
                "the real clusters" + (" (`training_views`: the two random views of each training field drawn once, "
                "or new every epoch with `\"mock_fresh_views\": true`)" if args.fresh_views else "") + ".\n\n"
                + markdown(mock_rows(args.profile, args.seeds, args.model, fields=fields,
                                     fresh=(False, True) if args.fresh_views else (False,))))
        paths.atomic_write(out / f"mock_fields_{args.profile}.md", lambda tmp: Path(tmp).write_text(text))
        print(text)
        return
    if args.sidelobes:
        skies = [{"sidelobe_level": level} if level else {} for level in args.sidelobes]
        text = (f"Made by `{command}` from the `train_on='mock'` runs of 05_classifier (model {args.model}, mock fields "
                "clipped like the published, `-p mock_sky '{\"sidelobe_level\": LEVEL}'`): the same detector "
                "trained and tested on mock fields with artefact ripples around bright sources, and scored on the "
                "real clusters.\n\n" + markdown(mock_rows(args.profile, args.seeds, args.model, skies=skies,
                                                            clipping=(True,))))
        paths.atomic_write(out / f"mock_sidelobes_{args.profile}.md", lambda tmp: Path(tmp).write_text(text))
        print(text)
        return
    if args.pretrain_fields is None and not args.fresh_views:
        mock = markdown(mock_rows(args.profile, args.seeds, args.model))
        paths.atomic_write(out / f"mock_detector_{args.profile}.md", lambda tmp: Path(tmp).write_text(
            f"Made by `{command}` from the `train_on='mock'` runs of 05_classifier (model {args.model}).\n\n" + mock))
        print(mock)
    rows, paired = pretraining(args.profile, args.seeds, args.model, fields=args.pretrain_fields, fresh=args.fresh_views)
    detector = ("" if args.pretrain_fields is None else f", pre-trained on {args.pretrain_fields} mock fields") \
        + (", new views every epoch" if args.fresh_views else "")
    text = f"Made by `{command}`: `train_on='mock+gleam'` (mock fields clipped like the published{detector}) against " \
           f"`train_on='gleam'`, model {args.model}, same folds and seeds; per-source out-of-fold AUC.\n\n" + markdown(rows)
    if paired:
        text += (f"\nPaired difference (mock-pretrained minus real-only) over {len(rows)} seeds: "
                 f"{paired['mean']:+.3f}, 95 % interval [{paired['ci'][0]:+.3f}, {paired['ci'][1]:+.3f}] "
                 f"(clusters resampled, stratified, the same draw for both runs of a seed).\n")
    paths.atomic_write(_tables(args)[-1], lambda tmp: Path(tmp).write_text(text))
    print(text)


if __name__ == "__main__":
    main()
