"""What every figure module shares: pyplot on demand, saving under ``figures/``, a mean ± std band."""

from __future__ import annotations

import numpy as np

from ..paths import figures_dir

__all__ = ["save"]


def _plt():
    import matplotlib.pyplot as plt

    return plt


def save(fig, name: str):
    """Save ``fig`` as ``figures/<name>.png`` (150 dpi) and return the path."""
    path = figures_dir() / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    return path


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
