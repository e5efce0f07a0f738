"""05_classifier (its defaults: model A under kfold) and 06_catalogue_search run once in the smoke profile
(``test_notebooks.py`` says on what)."""

import pytest

from conftest import run_and_check

pytest.importorskip("papermill")


def test_05_classifier(workspace):
    """kfold: every source scored once per repeat, by a fold that did not train on it."""
    summary = run_and_check("05_classifier", workspace)
    assert summary["protocol"] == "kfold"
    scores = summary["scores"]
    assert len(scores) == summary["network"]["n_repeats"] * 46 == len({(r["repeat"], r["source"]) for r in scores})
    for row in scores:
        fold = next(f for f in summary["folds"] if f["repeat"] == row["repeat"] and f["fold"] == row["fold"])
        assert fold["split"][row["source"]] == "test"


def test_06_catalogue_search(workspace):
    run_and_check("06_catalogue_search", workspace)
