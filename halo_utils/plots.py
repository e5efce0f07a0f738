"""Figures shared by the notebooks. Each function draws on a new or given figure and returns it."""

from __future__ import annotations

import numpy as np

from .constants import BAND_KEYS, PIXEL_DEG, cutout_extent_kpc
from .paths import figures_dir

__all__ = ["show_bands", "show_noise_fit", "show_cutout_extent", "show_recovery", "show_mock_vs_real",
           "show_training", "show_roc", "show_source_scores", "show_audit", "show_maps", "show_confusion", "show_samples", "show_losses", "show_degradation",
           "show_gallery", "show_latent_grid", "show_cross_sections", "show_histograms", "show_candidates",
           "show_completeness", "save"]


def _plt():
    import matplotlib.pyplot as plt

    return plt


def save(fig, name: str):
    """Save ``fig`` as ``figures/<name>.png`` (150 dpi) and return the path."""
    path = figures_dir() / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    return path


def show_bands(sources, stretch: float = 0.99):
    """One row per source, one column per band, in Jy/beam (paper Fig. 4)."""
    plt = _plt()
    fig, axes = plt.subplots(len(sources), 4, figsize=(12, 3.1 * len(sources)), squeeze=False)
    for row, src in zip(axes, sources):
        for ax, band, plane in zip(row, BAND_KEYS, np.moveaxis(src.cube, -1, 0)):
            vmax = np.quantile(plane, stretch) or plane.max()
            im = ax.imshow(plane, origin="lower", cmap="inferno", vmin=0, vmax=vmax)
            ax.set_title(f"{src.name} ({'halo' if src.label else 'non-halo'})\n{band} MHz", fontsize=9)
            ax.set_xticks([]), ax.set_yticks([])
            fig.colorbar(im, ax=ax, fraction=0.046, label="Jy/beam")
    fig.tight_layout()
    return fig


def show_noise_fit(src, estimates):
    """Pixel histograms of the four bands of one source with the noise model (paper Fig. 5).

    ``estimates``: four :class:`~halo_utils.prep.noise.NoiseEstimate`, in band order.
    """
    plt = _plt()
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.4))
    for ax, band, plane, est in zip(axes, BAND_KEYS, np.moveaxis(src.cube, -1, 0), estimates):
        values = plane[plane != 0] if est.clipped else plane.ravel()
        scale = est.rms if np.isfinite(est.rms) else np.std(values)
        lo, hi = np.percentile(values, 0.5), est.mean + 6 * scale
        counts, edges, _ = ax.hist(values, bins=120, range=(lo, hi), color="0.6", label="pixels")
        if np.isfinite(est.rms):
            x = np.linspace(lo, hi, 400)
            width = edges[1] - edges[0]
            n_noise = (values.size + (plane == 0).sum()) if est.clipped else values.size
            ax.plot(x, n_noise * width * np.exp(-0.5 * ((x - est.mean) / est.rms) ** 2) / (np.sqrt(2 * np.pi) * est.rms),
                    "C0", label=f"noise σ = {1e3 * est.rms:.1f} mJy/beam")
        if est.clipped:
            ax.axvspan(-est.threshold, est.threshold, color="C3", alpha=0.2, label=f"zeroed |x| < {1e3 * est.threshold:.0f} mJy")
        ax.set_title(f"{src.name} {band} MHz\n{est.method}", fontsize=9)
        ax.set_xlabel("Jy/beam"), ax.set_yscale("log"), ax.set_ylim(bottom=0.5), ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def show_cutout_extent(table, size_px: int = 64, pixel_deg: float = PIXEL_DEG):
    """Linear size (kpc) of the ``size_px`` cut-out at each source's redshift (paper Fig. 6)."""

    plt = _plt()
    known = table[np.isfinite(table.z)].sort_values("z")
    kpc = cutout_extent_kpc(known.z.to_numpy(), size_px, pixel_deg)
    fig, ax = plt.subplots(figsize=(9, 3.8))
    colours = np.where(known.label == 1, "C3", "C0")
    ax.bar(range(len(known)), kpc / 1e3, color=colours)
    ax.set_xticks(range(len(known)), known.source, rotation=75, fontsize=7)
    ax.set_ylabel(f"{size_px}-px cut-out side (Mpc)")
    ax.set_title("Cut-out extent at the PSZ2 redshift (red: halo class, blue: non-halo)")
    fig.tight_layout()
    return fig


def show_recovery(trials):
    """Estimated vs injected noise RMS per image and band, and the relative errors (from :func:`~halo_utils.prep.noise.recovery`).

    ``trials`` may carry a ``case`` column (e.g. clipped / unclipped), drawn with its own marker.
    """
    plt = _plt()
    fig, (ax, err) = plt.subplots(1, 2, figsize=(10, 4))
    cases = trials.case if "case" in trials else np.full(len(trials), "")
    for (case, band), rows in trials.groupby([cases, "band"], sort=False):
        colour = f"C{BAND_KEYS.index(band)}"
        marker = "o" if case == cases.iloc[0] else "x"
        ax.scatter(1e3 * rows.true_rms, 1e3 * rows.rms, s=14, color=colour, marker=marker,
                   label=f"{band} MHz {case}".strip())
        err.hist(100 * rows.rel_error.dropna(), bins=np.linspace(-20, 20, 41), histtype="step", color=colour,
                 ls="-" if marker == "o" else "--")
    lims = 1e3 * trials.true_rms.min() * 0.8, 1e3 * trials.true_rms.max() * 1.2
    ax.plot(lims, lims, "k:", lw=1)
    ax.set_xscale("log"), ax.set_yscale("log"), ax.legend(fontsize=7)
    ax.set_xlabel("injected RMS (mJy/beam)"), ax.set_ylabel("estimated RMS (mJy/beam)")
    err.set_xlabel("estimated / injected − 1 (%)"), err.set_ylabel("images")
    fig.tight_layout()
    return fig


def show_mock_vs_real(real, mock, real_all=(), mock_all=()):
    """Real vs mock source, band by band, on one colour scale per band; pixel histograms beneath.

    ``real`` and ``mock`` are :class:`~halo_utils.data.Source` objects shown as images;
    the histograms (Jy/beam, log counts, zeros left out) pool ``real_all`` and ``mock_all``
    (default: the two shown sources).
    """
    plt = _plt()
    fig, axes = plt.subplots(3, 4, figsize=(13, 9.6), gridspec_kw=dict(height_ratios=[1, 1, 0.8]))
    for b, band in enumerate(BAND_KEYS):
        vmax = float(np.quantile(real.cube[..., b], 0.995)) or 1.0
        for ax, src, what in ((axes[0, b], real, "real"), (axes[1, b], mock, "mock")):
            ax.imshow(src.cube[..., b], origin="lower", cmap="inferno", vmin=0, vmax=vmax)
            ax.set_title(f"{what}: {src.name}\n{band} MHz, 0–{1e3 * vmax:.0f} mJy/beam", fontsize=8)
            ax.set_xticks([]), ax.set_yticks([])
        ax = axes[2, b]
        for sources, what, colour in ((real_all or [real], "real", "k"), (mock_all or [mock], "mock", "C1")):
            values = np.concatenate([s.cube[..., b].ravel() for s in sources])
            values = values[values != 0]
            ax.hist(values, bins=np.linspace(-3 * vmax / 10, 3 * vmax, 120), histtype="step", color=colour,
                    density=True, label=f"{what} ({len(sources)} sources)")
        ax.set_yscale("log"), ax.set_xlabel("Jy/beam (zeros left out)"), ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _mean_std_band(ax, curves, x=None, label="", colour=None):
    """Plot the mean of equal- or unequal-length curves with a ±1 std band (NaN-padded)."""
    n = max(len(c) for c in curves)
    stack = np.full((len(curves), n), np.nan)
    for i, c in enumerate(curves):
        stack[i, :len(c)] = c
    mean, std = np.nanmean(stack, axis=0), np.nanstd(stack, axis=0)
    x = np.arange(1, n + 1) if x is None else np.asarray(x)
    line, = ax.plot(x, mean, label=f"{label} (n={len(curves)})" if label else None, color=colour)
    ax.fill_between(x, mean - std, mean + std, alpha=0.25, color=line.get_color())


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


def show_audit(table, columns=("central_snr_139-170", "sum_snr_15_139-170", "filled_15_139-170",
                                "clip_over_rms_72-103", "floor_over_rms_72-103")):
    """Audit columns (:func:`halo_utils.prep.audit.source_audit`) per split and class: one dot per source."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 3.4))
    groups = [(part, label) for part in ("train", "test") for label in (0, 1)]
    for ax, column in zip(axes, columns):
        for i, (part, label) in enumerate(groups):
            values = table[(table.split == part) & (table.label == label)][column]
            jitter = np.random.default_rng(i).uniform(-0.15, 0.15, len(values))
            ax.plot(i + jitter, values, "o", ms=4, alpha=0.7, color=f"C{label}")
        if column.startswith(("central", "sum")):
            ax.set_yscale("log")
        ax.set_xticks(range(len(groups)), [f"{p}\n{'halo' if c else 'non'}" for p, c in groups], fontsize=8)
        ax.set_title(column, fontsize=8)
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


def show_samples(real, generated, bands, n: int = 6):
    """Real (top) and generated (bottom) cut-outs per band, on one colour scale per band.

    ``real`` and ``generated`` are (m, H, W, B) arrays in the same units (e.g. log-scaled
    [-1, 1]); ``bands`` names the B channels.
    """
    plt = _plt()
    n = min(n, len(real), len(generated))
    fig, axes = plt.subplots(2 * len(bands), n, figsize=(1.6 * n, 3.3 * len(bands)), squeeze=False)
    for b, band in enumerate(bands):
        lo, hi = float(np.min(real[..., b])), float(np.max(real[..., b]))
        for row, (images, what) in enumerate(((real, "real"), (generated, "generated"))):
            for i, ax in enumerate(axes[2 * b + row]):
                ax.imshow(images[i, ..., b], origin="lower", cmap="inferno", vmin=lo, vmax=hi)
                ax.set_xticks([]), ax.set_yticks([])
            axes[2 * b + row, 0].set_ylabel(f"{what}\n{band} MHz", fontsize=8)
    fig.tight_layout()
    return fig


def show_losses(losses: dict, window: int = 50):
    """Training losses per step with a running mean over ``window`` steps."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for i, (name, values) in enumerate(losses.items()):
        values = np.asarray(values, float)
        ax.plot(np.arange(1, len(values) + 1), values, color=f"C{i}", alpha=0.3, lw=0.8)
        if len(values) >= window:
            ax.plot(np.arange(window, len(values) + 1), np.convolve(values, np.ones(window) / window, "valid"),
                    color=f"C{i}", label=f"{name} (running mean of {window})")
        else:
            ax.lines[-1].set_label(name)
    ax.set_xlabel("step"), ax.set_ylabel("loss"), ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def show_degradation(curves: dict, reference: float | None = None):
    """RAMIS against blur kernel, noise σ and cropped strip (Bastien et al. Figs. 4-6); ``curves`` from
    :func:`halo_utils.judge.morphology.degradation_curves`; ``reference`` a horizontal line (e.g. the paper's 1.40)."""
    plt = _plt()
    labels = {"blur": "box-blur kernel (px)", "noise": "noise σ ([0, 1] scale)", "crop": "blanked edge strip (px)"}
    fig, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 3.2), sharey=True, squeeze=False)
    for ax, (kind, curve) in zip(axes[0], curves.items()):
        ax.errorbar(curve["levels"], curve["ramis"], yerr=curve.get("std"), fmt="o-", capsize=2)
        if reference is not None:
            ax.axhline(reference, ls=":", c="grey", label=f"paper, real images ({reference})")
        ax.set_xlabel(labels.get(kind, kind))
    axes[0, 0].set_ylabel("RAMIS")
    axes[0, 0].legend(fontsize=8) if reference is not None else None
    fig.tight_layout()
    return fig


def show_gallery(rows: dict, n: int = 6, log: bool = False):
    """Images (m, S, S) in [0, 1], one row per entry of ``rows`` (title -> images); ``log`` shows log10."""
    plt = _plt()
    fig, axes = plt.subplots(len(rows), n, figsize=(1.5 * n, 1.6 * len(rows)), squeeze=False)
    for ax_row, (title, images) in zip(axes, rows.items()):
        for ax, image in zip(ax_row, images[:n]):
            shown = np.log10(np.maximum(image, 1e-6)) if log else image
            ax.imshow(shown, origin="lower", cmap="inferno", vmin=-6 if log else 0, vmax=0 if log else 1)
        for ax in ax_row:
            ax.set_xticks([]), ax.set_yticks([])
        ax_row[0].set_ylabel(title, fontsize=8)
    fig.tight_layout()
    return fig


def show_latent_grid(model, limit: float = 4.0, step: float = 0.4, label=None):
    """Decoded images over a d = 2 latent grid from -limit to +limit (Bastien et al. Fig. 9), as one mosaic."""
    plt = _plt()
    values = np.round(np.arange(-limit, limit + step / 2, step), 6)
    z = np.array([(x, y) for y in values[::-1] for x in values], np.float32)
    images = model.decode(z, None if label is None else np.full(len(z), label))
    k, size = len(values), images.shape[1]
    mosaic = images.reshape(k, k, size, size).transpose(0, 2, 1, 3).reshape(k * size, k * size)
    fig, ax = plt.subplots(figsize=(8, 8))
    ax.imshow(mosaic, cmap="inferno", vmin=0, vmax=1, extent=(-limit - step / 2, limit + step / 2) * 2)
    ax.set_xlabel("z₁"), ax.set_ylabel("z₂")
    return fig


def show_cross_sections(fri: np.ndarray, frii: np.ndarray):
    """FRI and FRII images decoded from one latent point, with their horizontal cross-sections through the centre."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.3))
    for ax, image, name in zip(axes, (fri, frii), ("FRI", "FRII")):
        ax.imshow(image, origin="lower", cmap="inferno", vmin=0, vmax=1)
        ax.set_title(f"generated {name}"), ax.set_xticks([]), ax.set_yticks([])
        axes[2].plot(image[image.shape[0] // 2], label=name)
    axes[2].set_xlabel("pixel"), axes[2].set_ylabel("intensity"), axes[2].legend()
    fig.tight_layout()
    return fig


def show_histograms(results: dict, bands):
    """Pixel histograms of real and generated images per band with the relative error per bin (paper Figs. 7, 11).

    ``results``: model name -> :func:`halo_utils.judge.metrics.histogram_error` dict; ``bands`` names its B rows.
    """
    plt = _plt()
    fig, axes = plt.subplots(2, len(bands), figsize=(4.2 * len(bands), 5.5), sharex=True, squeeze=False)
    for name, hist in results.items():
        centres = 0.5 * (np.asarray(hist["edges"][1:]) + np.asarray(hist["edges"][:-1]))
        for b, band in enumerate(bands):
            top, bottom = axes[0, b], axes[1, b]
            if name == next(iter(results)):
                top.step(centres, np.asarray(hist["real"])[b], where="mid", c="k", label="real (held out)")
            top.step(centres, np.asarray(hist["generated"])[b], where="mid", label=name)
            bottom.plot(centres, np.asarray(hist["rel_error"])[b], ".-", label=name)
            top.set_yscale("log"), top.set_title(f"{band} MHz", fontsize=9)
            bottom.set_xlabel("pixel value (log scale, [-1, 1])"), bottom.axhline(0, c="grey", lw=0.5)
    axes[0, 0].set_ylabel("density"), axes[1, 0].set_ylabel("(generated - real) / real")
    axes[0, 0].legend(fontsize=7)
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
