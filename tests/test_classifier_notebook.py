"""05_classifier's other settings on the mock sky, smoke profile: the same JSON from the same seed, the single-split
protocol."""

import json
import shutil

import pytest

from conftest import execute, result

pytest.importorskip("papermill")


def test_classifier_notebook_gives_the_same_json_twice(workspace):
    """Seed 0, as the test below: the mock sky is simulated once for the file."""
    texts = []
    for i in range(2):
        shutil.rmtree(workspace / "data" / "models" / "05_classifier" / "I_paper_mock_smoke_seed0", ignore_errors=True)
        execute("05_classifier", workspace, f"again{i}", profile="smoke", source="mock", seed=0, model="I", protocol="paper")
        summary = result(workspace, "05_classifier", "I_paper_mock_smoke_seed0")
        assert summary.pop("train_seconds") > 0  # wall time: the one field that may differ
        texts.append(json.dumps(summary, sort_keys=True))
    assert texts[0] == texts[1]


def test_the_single_split_protocol_runs_and_validates_on_its_training_sources(workspace):
    """``protocol='strict'``: split by source, validation carved from the training sources, the test sources scored
    per image and per source."""
    execute("05_classifier", workspace, "strict", profile="smoke", source="mock", seed=0, model="D", protocol="strict")
    summary = result(workspace, "05_classifier", "D_strict_mock_smoke_seed0")
    assert summary["protocol"] == "strict" and summary["validation"] == "val"
    counts = summary["sources_by_split"]
    assert summary["per_source"]["n"] == sum(counts["test"].values()) == 10
    assert {r["source"] for r in summary["scores"]} and 0 <= summary["per_source"]["accuracy"] <= 1
