"""05_classifier learning from mock fields (``train_on`` 'mock' and 'mock+gleam'), smoke profile, on the mock sky."""

import pytest

from conftest import execute, result

pytest.importorskip("papermill")


@pytest.mark.parametrize("train_on", ["mock", "mock+gleam"])
def test_classifier_notebook_learns_from_mock_fields(train_on, workspace):
    """Each ``train_on`` value runs in the smoke profile; the mock-trained detector scores every cluster it never saw."""
    execute("05_classifier", workspace, f"train_on_{train_on}", profile="smoke", source="mock", seed=0, model="I",
            train_on=train_on)
    tag = {"mock": "I_kfold_mock", "mock+gleam": "I_kfold_mockgleam"}[train_on]
    summary = result(workspace, "05_classifier", f"{tag}_mock_smoke_seed0")
    mock = summary["mock"]
    assert summary["train_on"] == train_on and mock["sizes"] == {"train": 200, "val": 40, "test": 100}
    assert mock["threshold"]["fpr"] <= 0.05 and sum(row["n"] for row in mock["completeness"]) == 50
    if train_on == "mock":
        assert summary["transfer"]["n_scored"] == 46 and len(summary["real_scores"]) == 46
        # mock halos injected into each of the 23 clusters without a halo, one per cluster in smoke
        injected = summary["injection"]
        assert injected["n_hosts"] == 23 and injected["per_host"] == 1
        assert sum(row["n"] for row in injected["completeness"]) == 23
        # the halos found against the number expected at the mock rate of their central peak S/N
        bright = summary["brightness"]
        assert bright["expected_found"]["n"] == 23 and len(bright["central_peak_snr"]) == 46
        assert 0 <= bright["expected_found"]["found"] <= 23
        assert sum(row["n"] for row in mock["by_observed"]) == 50
    else:  # fine-tuned under kfold: every cluster scored out of fold
        assert len(summary["scores"]) == 46 and 0 <= summary["oof_source_auc"] <= 1
    # the halos against all others, then against each kind of them in the sky's source table
    by_kind = summary["auc_by_kind"]
    assert by_kind[0]["against"] == "all others" and len(by_kind) > 2
    assert sum(r["n_others"] for r in by_kind[1:]) == by_kind[0]["n_others"] == 23
