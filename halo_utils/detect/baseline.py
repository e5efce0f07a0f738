"""The floor every network must beat: a random forest on the hand-made features, same folds.

The 15 features (central S/N, summed S/N and filled fraction within 15' per band, spectral
slopes) are :mod:`halo_utils.prep.features`.
"""

from __future__ import annotations

from ..prep.dataset import source_rms
from ..prep.features import features

__all__ = ["TREES", "forest", "fit_kfold"]

TREES = 200
"""Trees of the forest (the ``cpu`` and ``paper`` profiles'; ``TrainConfig.baseline_trees``)."""


def forest(seed: int = 0, trees: int = TREES):
    """The baseline's (unfitted) random forest: ``trees`` trees, at least 2 samples per leaf, one core."""
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(trees, min_samples_leaf=2, random_state=seed, n_jobs=1)


def fit_kfold(fields: dict, labels: dict, noise, config, plan: list, seed: int = 0, trees: int = TREES,
              memo: dict | None = None):
    """Random-forest out-of-fold scores under the folds of ``plan`` (:func:`halo_utils.detect.crossval.kfold_plan`).

    ``labels`` (source -> 0/1) are the labels the forest learns; pass permuted labels for the
    permutation baseline; ``memo`` keeps the features between calls on the same ``fields``
    (:func:`halo_utils.prep.features.features`). Returns a table with repeat, fold, source, label, score.
    """
    import pandas as pd

    rows = []
    for f in plan:
        rms, _ = source_rms(noise, f["split"], config.clip_sigma)
        table = features(fields, rms, config, memo)
        train = [n for n, part in f["split"].items() if part in ("train", "val")]
        test = [n for n, part in f["split"].items() if part == "test"]
        model = forest(seed, trees)
        model.fit(table.loc[train].to_numpy(), [labels[n] for n in train])
        score = model.predict_proba(table.loc[test].to_numpy())[:, 1]
        rows += [dict(repeat=f["repeat"], fold=f["fold"], source=n, label=labels[n], score=float(s))
                 for n, s in zip(test, score)]
    return pd.DataFrame(rows)
