"""Shortcut audit: what a model could cheat with, per split and class.

Per source: the central S/N, the summed S/N and the filled fraction within 15' in every band
(:func:`halo_utils.prep.features.features`, on the processed field the classifiers see), the
published clip threshold over the noise RMS per band and the clip floor left after the
pipeline's re-clipping (the larger of the two), and how many bands fell back to the
training-median RMS. :func:`separation` gives, per feature and split, the AUC with which the
feature alone ranks halos above non-halos: 0.5 is no cue; a feature far from 0.5 in one split
and on the other side in another is a shortcut that flips.
"""

from __future__ import annotations

import numpy as np

from ..constants import BAND_KEYS
from .dataset import source_rms
from .features import features, unclipped_fields
from .splits import published_split

__all__ = ["source_audit", "split_summary", "separation"]


def source_audit(sources, config, noise):
    """One row per source: split, label, the baseline features, clip threshold / rms per band, fallback count.

    Parameters
    ----------
    sources : list of :class:`~halo_utils.data.Source`
    config : :class:`~halo_utils.config.DataConfig` (grid, clip level and cap of the processed field)
    noise : :func:`halo_utils.prep.noise.noise_table` of ``sources``
    """
    split = published_split(sources)
    rms, fallback = source_rms(noise, split, config.clip_sigma)
    table = features(unclipped_fields(sources, config), rms, config)
    threshold = noise.pivot_table(index="source", columns="band", values="threshold")
    for b, band in enumerate(BAND_KEYS):
        published = threshold.loc[table.index, band] / np.array([rms[n][b] for n in table.index])
        table[f"clip_over_rms_{band}"] = published
        table[f"floor_over_rms_{band}"] = np.round(np.fmax(published, config.clip_sigma), 6)  # after re-clipping
    table["rms_fallback_bands"] = [len(fallback[n]) for n in table.index]
    table.insert(0, "label", [next(s.label for s in sources if s.name == n) for n in table.index])
    table.insert(0, "split", [split[n] for n in table.index])
    return table


def split_summary(table):
    """Median of every audit column per (split, class), and the number of sources."""
    grouped = table.groupby(["split", "label"])
    out = grouped.median(numeric_only=True)
    out.insert(0, "n_sources", grouped.size())
    return out


def separation(table):
    """AUC of each audit column alone, halo-class vs non-halo, per split (rows: columns; columns: splits)."""
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    columns = [c for c in table.columns if c not in ("split", "label")]
    out = {}
    for part, rows in [("all", table), *table.groupby("split")]:
        values = {}
        for c in columns:
            keep = rows[c].notna()
            y = rows.label[keep]
            values[c] = roc_auc_score(y, rows[c][keep]) if y.nunique() == 2 else np.nan
        out[part] = values
    return pd.DataFrame(out)
