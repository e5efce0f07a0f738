"""Are the labelled halos found as often as mock halos that look as bright? The transfer gap, bin by bin.

The mock-only detector finds most mock halos of peak S/N >= 5 yet ranks the real clusters near chance. Either the
labelled halos are fainter in these images than the mock halos it finds, or they do not look like them. The halo's
own peak S/N cannot be measured on a real image, but what the image shows at the cluster centre can, on real and
mock fields alike: :func:`~halo_utils.prep.features.central_peak_snr`, the brightest pixel within 3' of the centre
over the noise at 139-170 MHz (halo, compact sources and noise together, after the pipeline's clip). Per bin of it,
this module sets the labelled halos found at the detector's operating threshold beside the mock test halos found,
and counts how many labelled halos would be found were each found at the mock rate of its bin.

    python -m halo_utils.studies.brightness --profile cpu --seeds 0 1

reads the mock-only 05_classifier runs of those seeds (model I, mock images clipped like the published, new views
every epoch) and writes ``docs/results/transfer_by_brightness_<profile>.md``.
"""

from __future__ import annotations

import numpy as np

from .. import cli, paths
from ..config import data_config
from ..detect.mocktrain import by_observed
from . import report, workflow
from .pretraining import completeness_text, load_result, mock_overrides, mock_run
from .report import markdown

__all__ = ["real_observed", "real_table", "side_by_side", "expected_found", "main"]


def real_observed(sources, config, noise) -> dict:
    """Source name -> :func:`~halo_utils.prep.features.central_peak_snr` of its field as the pipeline makes it (common
    grid, clipped at ``config.clip_sigma`` times the noise RMS of the published split's estimate, with its fallback)."""
    from ..prep.dataset import source_rms
    from ..prep.features import central_peak_snr, unclipped_fields
    from ..prep.preprocess import clip_cube
    from ..prep.splits import published_split

    if config.pixel_arcmin is None:
        raise ValueError("the central peak is measured on the common grid: config.pixel_arcmin must be set")
    rms, _ = source_rms(noise, published_split(sources), config.clip_sigma)
    out = {}
    for name, (field, _) in unclipped_fields(sources, config).items():
        clipped = clip_cube(field, rms[name], config.clip_sigma, config.cap_sigma)
        out[name] = central_peak_snr(clipped, np.asarray(rms[name]), config.pixel_arcmin)
    return out


def real_table(scores, observed: dict, kind: dict):
    """The real sources' scores (records or table with ``name``, ``label``, ``score``) with ``observed_snr`` and their
    ``kind``: a pandas table."""
    import pandas as pd

    table = pd.DataFrame(scores)[["name", "label", "score"]]
    missing = sorted(set(table.name) - set(observed))
    if missing:
        raise ValueError(f"no central peak S/N for source(s) {', '.join(missing)}")
    return table.assign(observed_snr=table.name.map(observed), kind=table.name.map(kind).fillna("?"))


def side_by_side(mock_bins: list, real, threshold: float) -> list:
    """One row per bin of the central peak S/N: mock test halos found (``mock_bins``: the ``by_observed`` records of a
    run), the median true peak S/N of those halos, labelled halos found, and fields without a
    halo above the threshold, mock and real (the clusters without reported emission alone, then all 23)."""
    real_bins = by_observed(real, threshold)
    clusters = by_observed(real[(real.label == 1) | real.kind.str.startswith("cluster")], threshold)
    rows = []
    for m, r, c in zip(mock_bins, real_bins.to_dict("records"), clusters.to_dict("records")):
        rows.append({"central peak S/N, 139-170 MHz": m["observed_snr_bin"],
                     "mock halos found [Wilson 95 %]": completeness_text(m["found"], m["n"]),
                     "their true peak S/N (median)":
                         f"{m['median_true_snr']:.1f}" if _known(m["median_true_snr"]) else "-",
                     "labelled halos found": completeness_text(r["found"], r["n"]),
                     "mock fields without a halo above": completeness_text(m["others_above"], m["n_others"]),
                     "real clusters without emission above": completeness_text(c["others_above"], c["n_others"]),
                     "all 23 real non-halos above": completeness_text(r["others_above"], r["n_others"])})
    return rows


def expected_found(mock_bins: list, real, threshold: float) -> dict:
    """How many labelled halos would be found were each found at the mock halos' rate of its bin (binomial per halo,
    the rate taken as known): ``expected``, its 95 % range (normal approximation), and ``found``."""
    real_bins = by_observed(real, threshold)
    rate = np.array([m["found"] / m["n"] if m["n"] else np.nan for m in mock_bins])
    n = real_bins.n.to_numpy()
    if np.any((n > 0) & np.isnan(rate)):
        raise ValueError("a bin holds labelled halos but no mock halo: its mock rate is unknown")
    rate = np.nan_to_num(rate)
    expected, sd = float(np.sum(n * rate)), float(np.sqrt(np.sum(n * rate * (1 - rate))))
    return dict(found=int(real_bins.found.sum()), n=int(n.sum()), expected=expected,
                range=(expected - 1.96 * sd, expected + 1.96 * sd))


def _known(value) -> bool:
    return value is not None and bool(np.isfinite(value))


def main(argv=None):
    import sys

    import pandas as pd

    from ..data.images import read_dataset
    from ..prep.noise import noise_table
    from .kinds import kinds, tag_of

    parser = cli.parser(__spec__.name, __doc__)
    cli.add_study_options(parser, [0, 1])
    parser.add_argument("--gleam-dir", default=None, help="the published images (default: $HALO_GLEAM_DIR)")
    args = parser.parse_args(argv)
    argv = argv if argv is not None else sys.argv[1:]
    if args.plan:
        runs = [mock_run(args.profile, s, args.model, overrides=mock_overrides(None, True)) for s in args.seeds]
        return workflow.study_plan(args.plan, __spec__.name, cli.without_plan(argv), runs,
                                   [report.path(f"transfer_by_brightness_{args.profile}.md")])
    command = "python -m halo_utils.studies.brightness " + " ".join(argv)
    tag = tag_of(args.model, "mock", fresh=True)
    runs = {s: load_result(args.profile, s, "gleam", tag) for s in args.seeds}
    runs = {s: r for s, r in runs.items() if r is not None and "by_observed" in r["mock"]}
    if not runs:
        raise SystemExit(f"no mock-only run with central peaks ({tag}) for seeds {args.seeds}: run 05_classifier "
                         "with train_on='mock', mock_clipped=True and training_overrides {'mock_fresh_views': true}")
    sources = read_dataset(paths.gleam_dir(args.gleam_dir))
    observed = real_observed(sources, data_config(args.profile), noise_table(sources))
    kind = kinds()
    parts, counts, tables = [], [], []
    for seed, result in runs.items():
        threshold = result["mock"]["threshold"]["threshold"]
        real = real_table(result["real_scores"], observed, kind)
        tables.append(real.assign(seed=seed))
        parts.append(f"\n### Seed {seed} (threshold {threshold:.3f})\n\n"
                     + markdown(side_by_side(result["mock"]["by_observed"], real, threshold)))
        counts.append(expected_found(result["mock"]["by_observed"], real, threshold))
    per_seed = [dict(seed=s, found=f"{c['found']}/{c['n']}", expected=f"{c['expected']:.1f} [{c['range'][0]:.1f}, "
                     f"{c['range'][1]:.1f}]", verdict="below the range" if c["found"] < c["range"][0] else
                     "above the range" if c["found"] > c["range"][1] else "inside the range")
                for s, c in zip(runs, counts)]
    sources_table = pd.concat(tables).assign(observed_snr=lambda t: t.observed_snr.round(1)).pivot_table(
        index=["name", "kind", "observed_snr"], columns="seed", values="score").round(3)
    sources_table = sources_table.rename(columns=lambda s: f"score, seed {s}").reset_index().rename(
        columns={"observed_snr": "central peak S/N"})
    text = (f"Made by `{command}`. The mock-only detector (model {args.model}, mock images clipped like the published, "
            "new views every epoch; 05_classifier `train_on='mock'`): the mock test halos and the 23 labelled halos it "
            "finds at its operating threshold (5 % false positives on validation mock fields), per bin of the central "
            "peak S/N the image shows at 139-170 MHz (brightest pixel within 3' of the centre over the noise, after "
            "the pipeline's 4 sigma clip; `halo_utils.prep.features.central_peak_snr`). Fractions with Wilson 95 % "
            "intervals.\n" + "".join(parts)
            + "\n### Labelled halos found against the number expected at the mock rate of their bin\n\n"
            "Expected: the sum over the labelled halos of the mock halos' found fraction in the halo's bin, with a "
            "95 % range (binomial, the mock rates taken as known). The seeds score the same 23 halos, so they are not "
            "pooled.\n\n" + markdown(per_seed)
            + "\n### Every real source: central peak S/N and score per seed\n\n"
            + markdown(sources_table.sort_values(["kind", "central peak S/N"]).to_dict("records")))
    report.write(f"transfer_by_brightness_{args.profile}.md", text)


if __name__ == "__main__":
    main()
