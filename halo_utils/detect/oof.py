"""Pooled out-of-fold metrics of per-source scores, with intervals and a permutation baseline.

The input is a table with one row per (repeat, source): ``repeat``, ``source``, ``label``
(0/1) and ``score`` (the out-of-fold halo score of the source in that repeat). Each repeat
scores every source once; metrics are computed per repeat over all sources and averaged
over repeats (no averaging of scores across repeats, which would be an ensemble).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # annotations only: pandas is imported where it is used
    import pandas

__all__ = ["recall_at_fpr", "repeat_metrics", "pooled_metrics", "bootstrap_auc", "auc_by_kind", "paired_auc_difference",
           "permutation_pvalue", "binomial_interval"]


def recall_at_fpr(label: np.ndarray, score: np.ndarray, fpr: float = 0.1) -> float:
    """The highest true-positive rate at a false-positive rate <= ``fpr`` (ROC, scikit-learn)."""
    from sklearn.metrics import roc_curve

    false_pos, true_pos, _ = roc_curve(label, score)
    return float(true_pos[false_pos <= fpr + 1e-12].max())


def repeat_metrics(table) -> "pandas.DataFrame":
    """AUC, accuracy at 0.5 and recall at 10 % FPR of every repeat (rows indexed by repeat)."""
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    rows = {}
    for repeat, part in table.groupby("repeat"):
        y, s = part.label.to_numpy(), part.score.to_numpy()
        rows[repeat] = dict(auc=roc_auc_score(y, s), accuracy=float(np.mean((s >= 0.5) == y)),
                            recall_at_fpr10=recall_at_fpr(y, s, 0.1), n_sources=len(part))
    return pd.DataFrame.from_dict(rows, orient="index")


def _auc_columns(label: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC of every column of ``scores`` (..., n, m) against ``label`` (n,): (..., m) (Mann-Whitney U, ties
    halved)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores, axis=-2)
    pos = label == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return (ranks[..., pos, :].sum(axis=-2) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _resampled_aucs(label: np.ndarray, scores: np.ndarray, picks: np.ndarray, chunk: int = 2_000_000) -> np.ndarray:
    """AUC of every column of ``scores`` (n, m) on every resample of ``picks`` (n_boot, n row indices, positives
    first): (n_boot, m). Resamples go through :func:`_auc_columns` a block at a time (at most ``chunk`` scores)."""
    n_pos = int(np.sum(label == 1))
    y = np.r_[np.ones(n_pos, int), np.zeros(len(label) - n_pos, int)]
    rows = max(1, chunk // max(1, scores[0].size * picks.shape[1]))
    return np.concatenate([_auc_columns(y, scores[picks[i:i + rows]]) for i in range(0, len(picks), rows)])


def _source_draws(label: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """``n_boot`` resamples of the sources, stratified by class: (n_boot, n) row indices, the positives first."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(label == 1), np.flatnonzero(label == 0)
    return np.array([np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))]) for _ in range(n_boot)],
                    dtype=np.intp).reshape(n_boot, len(pos) + len(neg))


def bootstrap_auc(table, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> tuple:
    """Percentile interval of the repeat-averaged AUC, resampling sources (stratified by class).

    A resampled source brings its scores from every repeat, so the interval reflects the
    46 clusters, not the number of repeats or seeds.
    """
    wide = table.pivot_table(index="source", columns="repeat", values="score")
    label = table.groupby("source").label.first().loc[wide.index].to_numpy()
    aucs = _resampled_aucs(label, wide.to_numpy(), _source_draws(label, n_boot, seed))
    values = np.array([row.mean() for row in aucs])  # row by row: the same sums as one resample at a time
    tail = 100 * (1 - level) / 2
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def auc_by_kind(table, kinds: dict, n_boot: int = 2000, seed: int = 0) -> list:
    """The halos ranked against each kind of other source in turn: which negatives a detector separates.

    ``table``: out-of-fold (or single-run, ``repeat`` 0) scores (source, label, score, repeat); ``kinds``: source ->
    kind of source (e.g. :func:`halo_utils.data.catalogue.source_kind`). One row for all the others, then one per
    kind of the label-0 sources: ``against``, ``n_halos``, ``n_others``, ``auc`` (repeat-averaged) and ``ci``
    (:func:`bootstrap_auc`: every halo against the sources of that kind, both resampled).
    """
    missing = sorted(set(table.source) - set(kinds))
    if missing:
        raise ValueError(f"no kind for source(s) {', '.join(missing[:5])}")
    kind = table.source.map(kinds)
    others = table[table.label == 0]
    groups = [("all others", others)] + [(k, part) for k, part in others.groupby(kind[table.label == 0])]
    halos = table[table.label == 1]
    rows = []
    for name, part in groups:
        both = table.loc[halos.index.union(part.index)]
        rows.append(dict(against=name, n_halos=int(halos.source.nunique()), n_others=int(part.source.nunique()),
                         auc=float(repeat_metrics(both).auc.mean()), ci=list(bootstrap_auc(both, n_boot, seed))))
    return rows


def paired_auc_difference(pairs: list, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """AUC of ``a`` minus AUC of ``b`` for runs scored on the same sources, folds and seeds, with a paired interval.

    ``pairs``: one (a, b) per seed, each an out-of-fold table (source, label, score, repeat). Per pair the
    repeat-averaged AUC difference; pooled, their mean, with a percentile interval from resampling the
    *sources* (stratified by class), the same draw for both runs of every pair: the interval reflects the
    clusters, and the pairing cancels what the two runs share.

    Two numbers say what such a sample can show: ``needed``, the smallest mean difference whose interval (of this
    width below its mean) would lie above 0, and ``power``, the share of the resampled differences above
    ``needed``: were the true difference the one measured, about how often a new sample of as many sources
    would give an interval above 0.

    Returns dict(per_seed (list of differences), mean, ci, needed, power, n_sources)
    """
    wide = []
    for a, b in pairs:
        wa = a.pivot_table(index="source", columns="repeat", values="score")
        wb = b.pivot_table(index="source", columns="repeat", values="score").loc[wa.index]
        wide.append((wa.to_numpy(), wb.to_numpy()))
    label = pairs[0][0].groupby("source").label.first().loc[
        pairs[0][0].pivot_table(index="source", columns="repeat", values="score").index].to_numpy()

    per_seed = [float(_auc_columns(label, sa).mean() - _auc_columns(label, sb).mean()) for sa, sb in wide]
    picks = _source_draws(label, n_boot, seed)
    aucs = [(_resampled_aucs(label, sa, picks), _resampled_aucs(label, sb, picks)) for sa, sb in wide]
    draws = [np.mean([a[i].mean() - b[i].mean() for a, b in aucs]) for i in range(n_boot)]
    tail = 100 * (1 - level) / 2
    mean, ci = float(np.mean(per_seed)), [float(np.percentile(draws, tail)), float(np.percentile(draws, 100 - tail))]
    needed = mean - ci[0]
    return dict(per_seed=per_seed, mean=mean, ci=ci, needed=needed, power=float(np.mean(np.asarray(draws) > needed)),
                n_sources=int(len(label)))


def pooled_metrics(table, n_boot: int = 2000, seed: int = 0) -> dict:
    """The headline numbers of one run (or of many runs' tables concatenated, with distinct repeat ids).

    Returns
    -------
    dict with ``oof_source_auc`` (mean over repeats), ``oof_source_auc_ci`` (bootstrap 95 %
    over sources), ``oof_source_accuracy``, ``recall_at_fpr10``, ``n_sources``, ``n_repeats``
    and ``per_repeat`` (list of per-repeat dicts)
    """
    per = repeat_metrics(table)
    return dict(oof_source_auc=float(per.auc.mean()), oof_source_auc_ci=list(bootstrap_auc(table, n_boot, seed)),
                oof_source_accuracy=float(per.accuracy.mean()), recall_at_fpr10=float(per.recall_at_fpr10.mean()),
                n_sources=int(per.n_sources.iloc[0]), n_repeats=len(per),
                per_repeat=per.reset_index(names="repeat").to_dict("records"))


def permutation_pvalue(observed: float, null: np.ndarray) -> float:
    """One-sided p-value of ``observed`` against a permutation null: (1 + #null >= observed) / (1 + n)."""
    null = np.asarray(null, dtype=float)
    return float((1 + np.sum(null >= observed)) / (1 + len(null)))


def binomial_interval(successes: int, n: int, level: float = 0.95) -> tuple:
    """Wilson score interval of a proportion (e.g. an accuracy on n test sources)."""
    from scipy.stats import norm

    if n == 0:
        return (float("nan"), float("nan"))
    z = norm.ppf(0.5 + level / 2)
    p = successes / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return float(centre - half), float(centre + half)
