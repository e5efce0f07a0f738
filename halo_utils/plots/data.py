"""Figures of the data and noise stages (notebooks 00, 01).

Each function draws on a new or given figure and returns it.
"""

from __future__ import annotations

import numpy as np

from ..constants import BAND_KEYS, PIXEL_DEG, cutout_extent_kpc
from .core import _plt

__all__ = ["show_bands", "show_noise_fit", "show_cutout_extent", "show_recovery", "show_mock_vs_real", "show_audit"]


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
