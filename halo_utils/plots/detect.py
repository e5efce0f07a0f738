"""Figures of the classifiers and detectors (notebooks 05, 06).

Each function draws on a new or given figure and returns it.
"""

from __future__ import annotations

import numpy as np

from .core import _mean_std_band, _plt

__all__ = ["show_training", "show_roc", "show_source_scores", "show_maps", "show_confusion", "show_completeness",
           "show_candidates", "show_limits", "show_limits_mass", "split_figures"]


def show_training(histories: dict):
    """Validation loss and accuracy per epoch, mean ± std over runs (paper Fig. 8).

    ``histories`` maps a label (e.g. model name) to a list of Keras-style history dicts
    (``val_loss``, ``val_accuracy``, ``loss``, ``accuracy`` lists).
    """
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for i, (label, runs) in enumerate(histories.items()):
        for ax, key in zip(axes, ("val_loss", "val_accuracy")):
            _mean_std_band(ax, [h[key] for h in runs], label=label, colour=f"C{i}")
            _mean_std_band(ax, [h[key.removeprefix("val_")] for h in runs], colour=f"C{i}")
            ax.lines[-1].set_linestyle(":")
    for ax, name in zip(axes, ("loss", "accuracy")):
        ax.set_xlabel("epoch"), ax.set_ylabel(name), ax.legend(fontsize=8)
        ax.set_title(f"validation {name} (solid), training (dotted)")
    fig.tight_layout()
    return fig


def show_roc(rocs: dict):
    """ROC curves, mean ± std over runs (paper Fig. 9). ``rocs``: label -> list of (fpr, tpr, auc)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 4.6))
    for i, (label, runs) in enumerate(rocs.items()):
        runs = [r for r in runs if len(r[0])]
        if not runs:
            continue
        aucs = [r[2] for r in runs]
        _mean_std_band(ax, [r[1] for r in runs], x=runs[0][0],
                       label=f"{label}: AUC {np.mean(aucs):.3f} ± {np.std(aucs):.3f}", colour=f"C{i}")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set_xlabel("false-positive rate"), ax.set_ylabel("true-positive rate"), ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def show_source_scores(tables: dict):
    """Out-of-fold score of every source, mean ± range over repeats, sorted by class then score.

    ``tables``: label (e.g. 'A', 'baseline') -> table with source, label, score (one row per
    repeat and source, :mod:`halo_utils.detect.oof`).
    """
    plt = _plt()
    first = next(iter(tables.values()))
    order = first.groupby("source").agg(label=("label", "first"), score=("score", "mean"))
    order = order.sort_values(["label", "score"]).index
    fig, ax = plt.subplots(figsize=(max(8, 0.22 * len(order)), 4))
    x = np.arange(len(order))
    for i, (name, table) in enumerate(tables.items()):
        stats = table.groupby("source").score.agg(["mean", "min", "max"]).loc[order]
        ax.errorbar(x + 0.15 * i, stats["mean"], [stats["mean"] - stats["min"], stats["max"] - stats["mean"]],
                    fmt="o", ms=4, lw=1, color=f"C{i}", label=name)
    n_non = int((first.groupby("source").label.first() == 0).sum())
    ax.axvline(n_non - 0.5, color="k", lw=1), ax.axhline(0.5, color="grey", ls=":", lw=1)
    ax.set_xticks(x, order, rotation=90, fontsize=7)
    ax.set_ylabel("out-of-fold halo score"), ax.set_title("non-halo sources (left) | halo-class sources (right)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def show_maps(maps: list, band: int = 2, per_row: int = 8):
    """Each source's cut-out (one band, log-scaled input) with its Grad-CAM (contours) and, for A, the attention
    it receives (second row per source); titles give the score. ``maps``: :func:`halo_utils.detect.explain.fold_maps`."""
    plt = _plt()
    kinds = [k for k in ("grad_cam", "attention") if maps and maps[0][k] is not None]
    rows = int(np.ceil(len(maps) / per_row)) * max(1, len(kinds))
    fig, axes = plt.subplots(rows, per_row, figsize=(1.9 * per_row, 2.0 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, m in enumerate(maps):
        for j, kind in enumerate(kinds or [None]):
            ax = axes[(i // per_row) * max(1, len(kinds)) + j, i % per_row]
            ax.imshow(m["image"][..., band], origin="lower", cmap="gray_r")
            if kind:
                ax.imshow(m[kind], origin="lower", cmap="inferno", alpha=0.45, vmin=0, vmax=1)
            colour = "C1" if m["label"] else "C0"
            ax.set_title(f"{m['source'][:15]}\n{'halo' if m['label'] else 'non'} {m['score']:.2f}"
                         + (f" ({'cam' if kind == 'grad_cam' else 'attn'})" if kind else ""), fontsize=7, color=colour)
    fig.tight_layout()
    return fig


def show_confusion(matrices: dict):
    """Row-normalised confusion matrices, mean ± std over runs (paper Fig. 10). ``matrices``: label -> list of 2x2."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(matrices), figsize=(3.6 * len(matrices), 3.4), squeeze=False)
    for ax, (label, runs) in zip(axes[0], matrices.items()):
        stack = np.array(runs, dtype=float)
        mean, std = np.nanmean(stack, axis=0), np.nanstd(stack, axis=0)
        ax.imshow(mean, cmap="Blues", vmin=0, vmax=1)
        for (r, c), value in np.ndenumerate(mean):
            ax.text(c, r, f"{value:.2f}\n± {std[r, c]:.2f}", ha="center", va="center",
                    color="white" if value > 0.5 else "black", fontsize=9)
        ax.set_xticks([0, 1], ["non-halo", "halo"]), ax.set_yticks([0, 1], ["non-halo", "halo"])
        ax.set_xlabel("predicted"), ax.set_ylabel("true"), ax.set_title(f"{label} (n={len(runs)})", fontsize=9)
    fig.tight_layout()
    return fig


def show_completeness(table, columns: dict, truth: str = "truth", bins: int = 5):
    """Share of true halos that are candidates in bins (equal counts) of each column of ``columns`` (column ->
    axis label; one panel each), with binomial errors; the dashed line is the share of non-halos above the
    threshold (the false-positive rate). ``table``: ``truth`` (0/1), ``candidate`` (bool) and the columns."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(columns), figsize=(4.2 * len(columns), 3.2), squeeze=False)
    others = table[table[truth].astype(int) == 0]
    for ax, (column, label) in zip(axes[0], columns.items()):
        halos = table[table[truth].astype(int) == 1].dropna(subset=[column])
        if len(halos):
            edges = np.unique(np.quantile(halos[column], np.linspace(0, 1, bins + 1)))
            which = np.clip(np.digitize(halos[column], edges[1:-1]), 0, len(edges) - 2)
            centres, share, error = [], [], []
            for i in range(len(edges) - 1):
                found = halos.candidate.to_numpy()[which == i]
                if len(found):
                    p = found.mean()
                    centres.append(np.median(halos[column].to_numpy()[which == i]))
                    share.append(p)
                    error.append(np.sqrt(max(p * (1 - p), 1 / len(found)) / len(found)))
            ax.errorbar(centres, share, yerr=error, marker="o", capsize=3, label="halos")
            if np.all(np.asarray(centres) > 0):
                ax.set_xscale("log")
        if len(others):
            ax.axhline(others.candidate.mean(), color="C3", ls="--", label="non-halos above the threshold")
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel(label)
        ax.set_ylabel("completeness (candidates / halos)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def show_candidates(table, previews: dict, bands, pixel_arcmin: float, n: int = 8, bar_arcmin: float = 10.0):
    """The bands of the ``n`` best-scored clusters of a search (rows), clipped cut-outs in Jy/beam with a scale bar.

    ``table``: the search table (name, score, score_std, flags, candidate); ``previews``: name -> (S, S, B).
    """
    plt = _plt()
    rows = [r for r in table.itertuples() if r.name in previews][:n]
    fig, axes = plt.subplots(max(len(rows), 1), len(bands), figsize=(2.0 * len(bands), 2.1 * max(len(rows), 1)),
                             squeeze=False)
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
    for i, (ax_row, row) in enumerate(zip(axes, rows)):
        cube = previews[row.name]
        for b, ax in enumerate(ax_row):
            image = cube[..., b]
            ax.imshow(image, origin="lower", cmap="inferno", vmin=0, vmax=max(float(np.percentile(image, 99.5)), 1e-9))
            if i == 0:
                ax.set_title(f"{bands[b]} MHz", fontsize=8)
        length = bar_arcmin / pixel_arcmin
        ax_row[0].plot([3, 3 + length], [3, 3], color="w", lw=2)
        ax_row[0].text(3 + length / 2, 5, f"{bar_arcmin:g}′", color="w", fontsize=7, ha="center", va="bottom")
        flags = str(row.flags)[:60] + ("…" if len(str(row.flags)) > 60 else "")
        ax_row[0].set_ylabel(f"{str(row.name)[:18]}\n{row.score:.3f} ± {row.score_std:.3f}"
                             + (" ★" if row.candidate else ""), fontsize=7)
        ax_row[-1].text(1.02, 0.5, flags, transform=ax_row[-1].transAxes, fontsize=6, rotation=90, va="center")
    fig.tight_layout()
    return fig


def show_limits(limits):
    """Upper limits on a halo's 150 MHz power against redshift, one point per cluster: P(S90) with a bar down to
    P(S50); circles where PSZ2 gives z, triangles where z = 0.1 was assumed. ``limits``: z, z_known, p50_w_hz,
    p90_w_hz."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for known, marker in ((True, "o"), (False, "^")):
        part = limits[limits.z_known == known]
        ax.errorbar(part.z, part.p90_w_hz, yerr=[_down_to_p50(part), np.zeros(len(part))], fmt=marker,
                    capsize=2, label=f"z {'from PSZ2' if known else 'assumed 0.1'}")
    return _log_axes(fig, ax, "redshift", "P150 upper limit (W/Hz): 90 % found, bar to 50 %")


def show_limits_mass(limits, relation: dict):
    """Upper limits on a halo's 150 MHz power against the cluster's SZ mass (clusters where PSZ2 gives M500):
    P(S90) with a bar down to P(S50), beside a P150-M500 relation. ``limits``: m500 (1e14 Msun), p50_w_hz, p90_w_hz;
    ``relation``: ``m500`` (grid, 1e14 Msun), ``log_p`` (log10 W/Hz on it), ``scatter`` (dex) and ``label``."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    part = limits.dropna(subset=["m500", "p90_w_hz"])
    ax.errorbar(part.m500 * 1e14, part.p90_w_hz, yerr=[_down_to_p50(part), np.zeros(len(part))], fmt="v", capsize=2,
                label=f"upper limits, this detector ({len(part)} clusters)")
    m, log_p = np.asarray(relation["m500"]) * 1e14, np.asarray(relation["log_p"])
    ax.plot(m, 10 ** log_p, "k-", lw=1, label=relation["label"])
    ax.fill_between(m, 10 ** (log_p - relation["scatter"]), 10 ** (log_p + relation["scatter"]), color="0.85")
    ax.set_xscale("log")
    return _log_axes(fig, ax, "M500 (Msun, PSZ2)", "P150 (W/Hz)")


def _down_to_p50(limits) -> np.ndarray:
    """The bar from P(S90) down to P(S50); none where S50 is missing or, as medians over different seeds can give,
    not below S90."""
    return np.nan_to_num(np.clip((limits.p90_w_hz - limits.p50_w_hz).to_numpy(float), 0, None))


def _log_axes(fig, ax, xlabel: str, ylabel: str):
    """A power axis (log) with its labels and legend: the figure, laid out."""
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def split_figures(result: dict, model: str) -> dict:
    """The ROC curves and confusion matrices of a single-split run (``result``: ``evaluate_run``), per image and per
    source: {"roc": figure, "confusion": figure}."""
    curves = {f"{model} per image": result["image"], f"{model} per source": result["source"]}
    return dict(roc=show_roc({k: [(r["roc_fpr"], r["roc_tpr"], r["roc_auc"])] for k, r in curves.items()}),
                confusion=show_confusion({k: [r["confusion"]] for k, r in curves.items()}))
