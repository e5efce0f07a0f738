"""The hand-feature forest on mock fields: it learns what the features carry and nothing from shuffled labels."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from halo_utils import config
from halo_utils.constants import BAND_KEYS
from halo_utils.studies import mockbaseline
from halo_utils.prep.mockset import MockSet


def _fields(n: int, seed: int, size: int = 93) -> MockSet:
    """``n`` noise fields (rms 1 Jy/beam in every band), every second one with a bright blob at its centre."""
    rng = np.random.default_rng(seed)
    y, x = np.indices((size, size)) - (size - 1) / 2
    blob = 8 * np.exp(-(x**2 + y**2) / (2 * 4.0**2))
    label = np.arange(n) % 2
    cubes = rng.normal(0, 1, (n, size, size, len(BAND_KEYS))).astype(np.float32)
    cubes[label == 1] += blob[..., None].astype(np.float32)
    table = pd.DataFrame(dict(name=[f"f{seed}_{i}" for i in range(n)], label=label, peak_snr=8.0 * label,
                              **{f"rms_{b}": np.ones(n) for b in BAND_KEYS}))
    return MockSet(cubes, table)


@pytest.fixture(scope="module")
def parts():
    return {name: _fields(n, seed) for name, n, seed in (("train", 60, 0), ("val", 20, 1), ("test", 40, 2))}


def _auc(table):
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(table.label, table.score)


def test_the_forest_separates_what_the_features_carry_and_not_shuffled_labels(parts):
    settings = config.data_config("smoke", clip_sigma=None)
    assert _auc(mockbaseline.forest_scores(parts, settings)["test"]) > 0.95
    labels = np.random.default_rng(0).permutation(parts["train"].table.label.to_numpy())
    shuffled = dict(parts, train=dataclasses.replace(parts["train"], table=parts["train"].table.assign(label=labels)))
    assert abs(_auc(mockbaseline.forest_scores(shuffled, settings)["test"]) - 0.5) < 0.25


def test_features_read_in_chunks_are_the_features_read_at_once(parts):
    settings = config.data_config("smoke", clip_sigma=None)
    a = mockbaseline.field_features(parts["val"], settings, chunk=7)
    b = mockbaseline.field_features(parts["val"], settings, chunk=1000)
    assert list(a.index) == list(parts["val"].table.name) and np.isfinite(a.to_numpy()).all()
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
