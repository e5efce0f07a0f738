"""What a real-sky run (:func:`halo_utils.detect.realsky.run`) measured: completeness and false positives on the
held-out real cut-outs with host-field intervals, the out-of-fold AUCs, the upper-limit table, and for a fine-tuned
run its gain on the same networks.

    result = realsky.run(...)
    summary(result)   # completeness_real_snr5, fpr_real, oof_source_auc, auc_vs_clusters, ...
"""

from __future__ import annotations

import numpy as np

from .mocktrain import peak_rss_mb
from .oof import auc_by_kind, paired_auc_difference, pooled_metrics

__all__ = ["CLUSTERS", "field_interval", "completeness_by", "at_held_out_fpr", "limits_table", "summary"]

CLUSTERS = "cluster without reported diffuse emission"


def _held_out_point(injections, n_boot: int) -> dict:
    """Completeness at peak S/N >= 5 at 5 % false positives on the held-out empty cut-outs (:func:`at_held_out_fpr`)
    and, where the folds recorded it, at the threshold set against the validation images' empty sky alone
    (``threshold_empty``: no decoys, no cluster centres), with its false positives on the held-out empty cut-outs."""
    marked = at_held_out_fpr(injections)
    bright = marked[(marked.label == 1) & (marked.peak_snr >= 5)]
    out = dict(completeness_real_snr5_at_held_out_fpr5=_found(bright),
               completeness_real_snr5_at_held_out_fpr5_ci=field_interval(bright, n_boot))
    if "threshold_empty" in injections:
        marked = injections.assign(candidate=injections.score >= injections.threshold_empty)
        bright = marked[(marked.label == 1) & (marked.peak_snr >= 5)]
        empty = marked[(marked.label == 0) & ~marked.on_cluster_centre]
        out.update(completeness_real_snr5_empty_threshold=_found(bright),
                   completeness_real_snr5_empty_threshold_ci=field_interval(bright, n_boot),
                   fpr_real_empty_threshold=_found(empty), fpr_real_empty_threshold_ci=field_interval(empty, n_boot))
    return out


def field_interval(table, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> list:
    """Percentile interval of the share of rows with ``candidate`` True, resampling host fields (column ``host``) with
    replacement: every injection of a field comes along with it. ([nan, nan] for an empty table.)"""
    if not len(table):
        return [np.nan, np.nan]
    by_host = table.groupby("host").candidate.agg(["sum", "size"])
    found, n = by_host["sum"].to_numpy(float), by_host["size"].to_numpy(float)
    pick = np.random.default_rng(seed).integers(len(n), size=(n_boot, len(n)))  # one draw of hosts per row
    draws = found[pick].sum(axis=1) / n[pick].sum(axis=1)
    tail = (1 - level) / 2
    return [float(np.quantile(draws, tail)), float(np.quantile(draws, 1 - tail))]


def _found(rows) -> float:
    return float(rows.candidate.mean()) if len(rows) else np.nan


def completeness_by(injections, column: str = "peak_snr", bins=(0, 2, 5, 10, 20, np.inf), n_boot: int = 1000):
    """Completeness of the injected halos per bin of ``column``, with host-field intervals: a pandas table."""
    import pandas as pd

    halos = injections[injections.label == 1]
    rows = []
    for interval, part in halos.groupby(pd.cut(halos[column], list(bins), right=False), observed=False):
        lo, hi = field_interval(part, n_boot) if len(part) else (np.nan, np.nan)
        rows.append({f"{column}_bin": str(interval), "n": len(part), "hosts": part.host.nunique(),
                     "found": int(part.candidate.sum()), "completeness": _found(part), "low": lo, "high": hi})
    return pd.DataFrame(rows)


def limits_table(result: dict):
    """One row per held-out cluster without a halo: redshift, assumed e-folding radius, S50 / S90 (Jy at 150 MHz)
    and the P150 they imply (W/Hz), from the fold model that held the cluster out (first repeat)."""
    table = result["limits"]
    return table.drop(columns="curve").sort_values("cluster").reset_index(drop=True) if len(table) else table


def at_held_out_fpr(injections, fpr: float = 0.05):
    """The injections with ``candidate`` re-marked at the held-out operating point: per fold, the lowest score with at
    most ``fpr`` of that fold's held-out empty cut-outs at random positions at or above it. A point on the held-out
    ROC curve (how well halos and empty sky are told apart), not a threshold a user could set: it is read off the test
    cut-outs themselves."""
    import pandas as pd

    parts = []
    for _, fold in injections.groupby(["seed", "repeat", "fold"] if "seed" in injections else ["repeat", "fold"]):
        empty = np.sort(fold.score[(fold.label == 0) & ~fold.on_cluster_centre].to_numpy())[::-1]
        allowed = int(np.floor(fpr * len(empty)))
        cut = float(np.nextafter(empty[allowed], np.inf)) if allowed < len(empty) else 0.0
        parts.append(fold.assign(candidate=fold.score >= cut))
    return pd.concat(parts)


def summary(result: dict, n_boot: int = 2000) -> dict:
    """The JSON-able figures of a :func:`run`: completeness at peak S/N >= 5 on held-out real cut-outs, the
    false-positive rate on the same cut-outs with nothing injected at random positions (``fpr_real``) and at the
    centres of held-out clusters without a halo (``fpr_cluster_centres``), all with host-field intervals; the
    out-of-fold AUC over all sources and against the clusters alone (source intervals), the per-kind AUCs, the bank
    sizes and the training times."""
    inj, scores = result["injections"], result["scores"]
    bright = inj[(inj.label == 1) & (inj.peak_snr >= 5)]
    empty = inj[(inj.label == 0) & ~inj.on_cluster_centre]
    centres = inj[(inj.label == 0) & inj.on_cluster_centre]
    pooled = pooled_metrics(scores[["repeat", "source", "label", "score"]], n_boot=n_boot)
    by_kind = auc_by_kind(scores[["repeat", "source", "label", "score"]], result["kinds"], n_boot=n_boot)
    clusters = next((r for r in by_kind if r.get("against") == CLUSTERS), {})
    return dict(completeness_real_snr5=_found(bright), completeness_real_snr5_ci=field_interval(bright, n_boot),
                n_injections=int((inj.label == 1).sum()), n_injections_snr5=int(len(bright)),
                n_host_fields=int(inj.host.nunique()),
                fpr_real=_found(empty), fpr_real_ci=field_interval(empty, n_boot), n_empty=int(len(empty)),
                fpr_cluster_centres=_found(centres), fpr_cluster_centres_ci=field_interval(centres, n_boot),
                n_cluster_centres=int(centres.host.nunique()),
                oof_source_auc=pooled["oof_source_auc"], oof_source_auc_ci=pooled["oof_source_auc_ci"],
                auc_vs_clusters=clusters.get("auc"), auc_vs_clusters_ci=clusters.get("ci"), auc_by_kind=by_kind,
                completeness=completeness_by(inj, n_boot=n_boot // 2).to_dict("records"),
                **_held_out_point(inj, n_boot),
                thresholds=[f["threshold"]["threshold"] for f in result["folds"]],
                bank_sizes=[f["bank_sizes"] for f in result["folds"]],
                train_seconds=float(sum(f["train_seconds"] for f in result["folds"])),
                fold_seconds=float(sum(f["fold_seconds"] for f in result["folds"])), peak_rss_mb=peak_rss_mb(),
                best_epochs=[f["best_epoch"] for f in result["folds"]], detector=str(result["detector"]),
                **_before_tuning(result, n_boot))


def _before_tuning(result: dict, n_boot: int) -> dict:
    """For a fine-tuned run (``train_on='injected+gleam'``): the same sources' AUCs before the fine-tuning, and the
    paired difference (after minus before; same folds, same networks; the interval resamples sources)."""
    before = result.get("scores_before_tuning")
    if before is None or not len(before):
        return {}
    cols = ["repeat", "source", "label", "score"]
    pooled = pooled_metrics(before[cols], n_boot=n_boot)
    clusters = next((r for r in auc_by_kind(before[cols], result["kinds"], n_boot=n_boot) if r.get("against") == CLUSTERS), {})
    keep = lambda t: t[(t.label == 1) | (t.source.map(result["kinds"]) == CLUSTERS)]  # noqa: E731
    after = result["scores"][cols]
    d_all = paired_auc_difference([(after, before[cols])], n_boot=n_boot)
    d_clusters = paired_auc_difference([(keep(after), keep(before[cols]))], n_boot=n_boot)
    return dict(oof_source_auc_before_tuning=pooled["oof_source_auc"],
                oof_source_auc_before_tuning_ci=pooled["oof_source_auc_ci"],
                auc_vs_clusters_before_tuning=clusters.get("auc"), auc_vs_clusters_before_tuning_ci=clusters.get("ci"),
                tuning_gain=d_all["mean"], tuning_gain_ci=d_all["ci"],
                tuning_gain_vs_clusters=d_clusters["mean"], tuning_gain_vs_clusters_ci=d_clusters["ci"],
                tuning_epochs=[(f.get("tuning") or {}).get("best_epoch") for f in result["folds"]])
