"""Figures shared by the notebooks. Each function draws on a new or given figure and returns it."""

from __future__ import annotations

import numpy as np

from .data import BAND_KEYS

__all__ = ["show_bands", "show_noise_fit", "show_cutout_extent", "show_recovery", "save"]


def _plt():
    import matplotlib.pyplot as plt

    return plt


def save(fig, name: str):
    """Save ``fig`` as ``figures/<name>.png`` (150 dpi) and return the path."""
    from .paths import figures_dir

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

    ``estimates``: four :class:`~halo_utils.noise.NoiseEstimate`, in band order.
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


def show_cutout_extent(table, size_px: int = 64, pixel_deg: float = 0.012222):
    """Linear size (kpc) of the ``size_px`` cut-out at each source's redshift (paper Fig. 6)."""
    from .catalogue import cutout_extent_kpc

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
    """Estimated vs true noise RMS of synthetic images (from :func:`~halo_utils.noise.recovery_trial`)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 4))
    for method, rows in trials.groupby("method"):
        ax.scatter(1e3 * rows.true_rms, 1e3 * rows.rms, s=14, label=method)
    top = 1e3 * trials.true_rms.max() * 1.1
    ax.plot([0, top], [0, top], "k:", lw=1)
    ax.set_xlabel("injected RMS (mJy/beam)"), ax.set_ylabel("estimated RMS (mJy/beam)"), ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
