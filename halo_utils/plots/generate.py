"""Figures of the generative models and their judges (notebooks 02, 03, 04, 07).

Each function draws on a new or given figure and returns it.
"""

from __future__ import annotations

import numpy as np

from .core import _plt

__all__ = ["show_samples", "show_losses", "show_degradation", "show_gallery", "show_latent_grid",
           "show_cross_sections", "show_histograms"]


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
