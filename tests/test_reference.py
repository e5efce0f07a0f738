"""The reference run against drift (halo_utils.studies.reference)."""

import pytest


def test_the_reference_run_is_appended_once_per_commit(tmp_path, monkeypatch):
    from halo_utils import paths
    from halo_utils.studies import reference

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    with pytest.raises(SystemExit, match="no reference run"):
        reference.append()
    summary = dict(network=dict(oof_source_auc=0.7021, oof_source_auc_ci=[0.57, 0.82]), baseline=dict(oof_source_auc=0.706),
                   train_accuracy=0.99, folds=[dict(split={"a": "test", "b": "train"})])
    paths.write_json(paths.results_dir("05_classifier") / "I_kfold_cpu_seed0.json", summary)
    first = reference.append()
    assert "| 0.702 [0.570, 0.820] | 0.706 | 0.990 |" in first
    reference.append()  # the same commit and AUC: not twice
    text = (tmp_path / "docs" / "results" / "reference_runs.md").read_text()
    assert text.count(first) == 1
