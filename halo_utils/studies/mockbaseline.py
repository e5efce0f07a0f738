"""The floor on the mock sky: does the network see more than brightness and colour?

A random forest learns the 15 hand-made features of :mod:`halo_utils.prep.features` (central S/N, summed S/N and
filled fraction within 15' per band, spectral slopes) of the same training fields as the network of
:func:`halo_utils.detect.mocktrain.train_on_mock`; its threshold is set on the same validation fields at the same
false-positive rate, and its completeness is measured on the same test fields. Where the network's completeness is
no higher than the forest's, it has learned no morphology; where both are low, the halos and their decoys look
alike at this resolution.

    python -m halo_utils.studies.mockbaseline --profile cpu --seeds 0 --fields 3000 25000

writes ``docs/results/mock_baseline_<profile>.md``: the forest beside the network of each ``train_on='mock'`` run
found (mock fields unclipped and pipeline clip none; mock fields clipped like the published and pipeline clip 4
sigma).
"""

from __future__ import annotations

import numpy as np

from .. import cli
from ..constants import BAND_KEYS
from ..detect.artefact import operating_threshold
from ..detect.baseline import TREES, forest
from ..detect.mocktrain import splits
from ..detect.oof import bootstrap_auc
from ..prep.features import features
from ..prep.mockset import mock_sky_config
from . import report, workflow
from .pretraining import completeness_text, field_overrides, mock_overrides, mock_run
from .report import markdown

__all__ = ["field_features", "forest_scores", "baseline", "rows", "main"]

SETTINGS = ((False, None), (True, 4.0))  # (mock fields clipped like the published, pipeline clip): as in the tables


def field_features(mocks, config, chunk: int = 500):
    """The 15 hand-made features of every field of a :class:`~halo_utils.prep.mockset.MockSet` (pandas, one row per
    field, in table order), read ``chunk`` fields at a time."""
    import pandas as pd

    pixel = np.full(len(BAND_KEYS), config.pixel_arcmin)
    names, rms = mocks.table.name.to_numpy(), mocks.rms
    parts = []
    for start in range(0, len(names), chunk):
        rows = range(start, min(start + chunk, len(names)))
        cubes = mocks.fields[start:rows.stop]
        parts.append(features({names[i]: (cubes[i - start], pixel) for i in rows}, {names[i]: rms[i] for i in rows},
                              config))
    return pd.concat(parts).loc[names]


def forest_scores(parts: dict, config, seed: int = 0, trees: int = TREES) -> dict:
    """A random forest fitted on the ``train`` fields of ``parts`` (:func:`~halo_utils.detect.mocktrain.splits`);
    each part's table with its ``score`` (halo probability)."""
    table = {name: field_features(mocks, config) for name, mocks in parts.items()}
    model = forest(seed, trees)
    model.fit(table["train"].to_numpy(), parts["train"].table.label.to_numpy())
    return {name: mocks.table.assign(score=model.predict_proba(table[name].to_numpy())[:, 1])
            for name, mocks in parts.items()}


def baseline(n_fields: int, seed: int, config, clipped: bool, fpr: float = 0.05) -> dict:
    """The forest's test AUC (with its interval over fields), threshold (``fpr`` on the validation fields), test
    false-positive rate and completeness for halos of peak S/N per beam >= 5, on the fields of a mock training."""
    from sklearn.metrics import roc_auc_score

    scored = forest_scores(splits(n_fields, seed, config, mock_sky_config(config, clipped=clipped)), config, seed)
    val, test = scored["val"], scored["test"]
    threshold = operating_threshold(val.rename(columns={"name": "source"}), fpr)["threshold"]
    bright = test[(test.label == 1) & (test.peak_snr >= 5)]
    found = int((bright.score >= threshold).sum())
    long = test.rename(columns={"name": "source"}).assign(repeat=0)
    return dict(test_auc=float(roc_auc_score(test.label, test.score)), test_auc_ci=list(bootstrap_auc(long)),
                threshold=threshold, test_fpr=float((test[test.label == 0].score >= threshold).mean()),
                found_snr5=found, n_snr5=int(len(bright)))


def _network(profile: str, seed: int, model: str, clipped: bool, clip, n_fields: int, default: int) -> dict | None:
    """The mock summary of the matching ``train_on='mock'`` run of 05_classifier, if it was run."""
    from ..detect.classify import run_tag
    from .pretraining import load_result

    overrides = mock_overrides(None if n_fields == default else n_fields, fresh=False)
    result = load_result(profile, seed, "gleam", run_tag(model, "kfold", "mock", clip, clipped, overrides=overrides))
    return None if result is None else result["mock"]


def _auc(result: dict) -> str:
    return f"{result['test_auc']:.3f} [{result['test_auc_ci'][0]:.3f}, {result['test_auc_ci'][1]:.3f}]"


def rows(profile: str, seeds, fields, model: str = "I", fpr: float = 0.05) -> list:
    """One row per (seed, training fields, clipping) whose network run exists: forest against network."""
    from ..config import data_config
    from ..detect.classify import train_config

    default, out = train_config(profile).mock_fields, []
    for seed, n, (clipped, clip) in ((s, n, c) for s in seeds for n in fields for c in SETTINGS):
        net = _network(profile, seed, model, clipped, clip, n, default)
        if net is None:
            continue
        forest = baseline(n, seed, data_config(profile, clip_sigma=clip), clipped, fpr)
        net_found = round(net["completeness_snr5"] * net["n_halos_snr5"])
        out.append(dict(seed=seed, train_fields=n, mock_images="clipped like the published" if clipped else "unclipped",
                        pipeline_clip="none" if clip is None else f"{clip:g} sigma",
                        forest_test_auc=_auc(forest), network_test_auc=_auc(net),
                        forest_completeness_snr5=completeness_text(forest["found_snr5"], forest["n_snr5"]),
                        network_completeness_snr5=completeness_text(net_found, net["n_halos_snr5"]),
                        forest_test_fpr=f"{forest['test_fpr']:.3f}", network_test_fpr=f"{net['test_fpr']:.3f}"))
    return out


def main(argv=None):
    import sys



    parser = cli.parser(__spec__.name, __doc__)
    cli.add_study_options(parser, [0])
    parser.add_argument("--fields", type=int, nargs="+", default=[3000], metavar="N",
                        help="numbers of mock training fields (default 3000)")
    args = parser.parse_args(argv)
    argv = argv if argv is not None else sys.argv[1:]
    if args.plan:
        runs = [mock_run(args.profile, s, args.model, c, clip, mock_overrides(n, False))
                for s in args.seeds for n in field_overrides(args.profile, args.fields) for c, clip in SETTINGS]
        return workflow.study_plan(args.plan, __spec__.name, cli.without_plan(argv), runs,
                                   [report.path(f"mock_baseline_{args.profile}.md")])
    command = "python -m halo_utils.studies.mockbaseline " + " ".join(argv)
    text = (f"Made by `{command}`: a random forest (200 trees) on the 15 hand-made features of `prep.features`, "
            f"beside network {args.model} of each `train_on='mock'` run found; the same training, validation and test "
            "mock fields, the threshold at 5 % false positives on the validation fields. Completeness: halos of peak "
            "S/N per beam >= 5 at or above the threshold, with a Wilson 95 % interval.\n\n"
            + markdown(rows(args.profile, args.seeds, args.fields, args.model)))
    report.write(f"mock_baseline_{args.profile}.md", text)


if __name__ == "__main__":
    main()
