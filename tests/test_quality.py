"""Judging generated halos: the held-out reference never holds training sources; the judges see a difference."""

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from halo_utils.judge import quality  # noqa: E402
from halo_utils.models.classifiers import build_classifier  # noqa: E402


def fake_dataset():
    split = np.array(["train", "train", "val", "test", "test", "val"])
    label = np.array([1, 0, 1, 1, 0, 1])
    empty = np.array([False, False, False, False, False, True])
    images = np.arange(6, dtype=np.float32)[:, None, None, None] * np.ones((6, 4, 4, 4), np.float32)
    return SimpleNamespace(split=split, label=label, empty=empty, log_inputs=lambda mask: images[mask])


def test_held_out_halos_are_validation_and_test_halos_only():
    out = quality.held_out_halos(fake_dataset(), [1, 3])
    assert out.shape == (2, 4, 4, 2) and sorted(out[:, 0, 0, 0]) == [2.0, 3.0]


def test_the_judges_see_a_shift():
    rng = np.random.default_rng(0)
    real = np.clip(rng.normal(-0.8, 0.2, (40, 64, 64, 1)), -1, 1).astype(np.float32)
    same = np.clip(rng.normal(-0.8, 0.2, (40, 64, 64, 1)), -1, 1).astype(np.float32)
    shifted = np.clip(same + 0.5, -1, 1)
    classifier = build_classifier("I", size=64, bands=1)
    near, far = (quality.judge(real, x, classifier, inception=False) for x in (same, shifted))
    assert near["domain_fid"] < far["domain_fid"] and near["domain_kid_mean"] < far["domain_kid_mean"]
    assert near["hist_rel_error"][0] < 0.25 < far["hist_rel_error"][0]
    assert near["fid"] is None and near["n_real"] == near["n_generated"] == 40
