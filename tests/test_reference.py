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


def _fake_run(root, tag: str, scores: dict, kinds: dict):
    """A train_on='injected' run's JSON and one fold record, as 05_classifier leaves them, with these source scores."""
    from sklearn.metrics import roc_auc_score

    from halo_utils import paths

    label = {s: int(k == "halo") for s, k in kinds.items()}
    clusters = [s for s in scores if label[s] or kinds[s] == "cluster without reported diffuse emission"]
    auc = roc_auc_score([label[s] for s in scores], list(scores.values()))
    summary = dict(completeness_real_snr5=0.8, completeness_real_snr5_ci=[0.7, 0.9], fpr_real=0.02,
                   oof_source_auc=auc, oof_source_auc_ci=[auc - 0.1, auc + 0.1],
                   auc_by_kind=[dict(against="cluster without reported diffuse emission", auc=roc_auc_score(
                       [label[s] for s in clusters], [scores[s] for s in clusters]), ci=[0.0, 1.0])])
    paths.write_json(paths.results_dir("05_classifier") / f"{tag}.json", summary)
    fold = dict(injections=[dict(score=0.5, threshold=0.5)], limits=[],
                scores=[dict(repeat=0, fold=0, source=s, label=label[s], score=v) for s, v in scores.items()])
    paths.write_json(paths.data_dir() / "models" / "05_classifier" / tag / "r0f0" / "fold.json", fold)
    return auc


def test_the_band_table_pairs_each_band_set_with_the_four_band_run(tmp_path, monkeypatch):
    """Dropping a band: the change from the four-band run of the same seed is the difference of the two AUCs."""
    import numpy as np

    from halo_utils.studies import realsky_report

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    rng = np.random.default_rng(0)
    clusters = {f"c{i}": "cluster without reported diffuse emission" for i in range(8)}
    kinds = {f"h{i}": "halo" for i in range(8)} | clusters
    label = np.array([k == "halo" for k in kinds.values()], float)
    full = _fake_run(tmp_path, "I_kfold_injected_cpu_seed0", dict(zip(kinds, label + rng.normal(0, 0.6, 16))), kinds)
    fewer = _fake_run(tmp_path, "I_kfold_injected_bands1-2-3_cpu_seed0", dict(zip(kinds, rng.normal(0, 1, 16))), kinds)
    rows = realsky_report.band_rows("cpu", [0], "I", [[1, 2, 3]], kinds)
    assert [r["bands (MHz)"] for r in rows] == ["72-103, 103-134, 139-170, 170-231", "103-134, 139-170, 170-231"]
    assert rows[0]["AUC change from four bands (all / clusters)"] == "-"
    change = float(rows[1]["AUC change from four bands (all / clusters)"].split(" [")[0])
    assert change == pytest.approx(fewer - full, abs=1e-3)
