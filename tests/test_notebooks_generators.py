"""02_wgan, 03_ddpm and 04_metrics run once in the smoke profile (``test_notebooks.py`` says on what), then
05_classifier with generated halos, whose per-fold generators 04_metrics trained for its TSTR score."""

import pytest

from conftest import NOTEBOOK_SOURCE, execute, result, run_and_check

pytest.importorskip("papermill")


@pytest.mark.parametrize("stem", ["02_wgan", "03_ddpm"])
def test_generator_notebook_runs(stem, workspace):
    run_and_check(stem, workspace)


def test_04_metrics(workspace):
    """One TSTR score: a classifier taught by each fold's generated halos."""
    from halo_utils.studies.augmentation import tstr_rows

    tstr = run_and_check("04_metrics", workspace)["tstr"]["ddpm"]
    assert 0 <= tstr["tstr_auc"] <= 1 and tstr["generated"] and all(g["replaced"] for g in tstr["generated"])
    assert [r["generator"] for r in tstr_rows("smoke", [0], NOTEBOOK_SOURCE)] == ["ddpm"]


def test_classifier_notebook_trains_with_generated_halos_and_pairs_with_its_real_only_twin(workspace):
    """``augment_with='ddpm'``: every fold adds halos from a generator of its own training halos; the sweep's table
    pairs the run with the real-only run of the same folds and seed. After 04_metrics, whose TSTR score trained
    the same per-fold generators: they are found, not trained again."""
    from halo_utils.studies import augmentation

    runs = augmentation.sweep_runs([0], ["I"], "ddpm", 1.0, "smoke", {}, source=NOTEBOOK_SOURCE)
    for run in runs:
        execute("05_classifier", workspace, run["run"], **{k: run[k] for k in run["parameters"]})
    real, augmented = (result(workspace, "05_classifier", r["run"]) for r in runs)
    assert real["folds"] == augmented["folds"] and augmented["augment_with"] == "ddpm"
    for fit in augmented["fits"]:
        info = fit["extended"]
        assert info["generator"] == "ddpm" and info["n_generated"] == info["n_real_halo_images"] > 0
    assert all(fit["extended"] is None for fit in real["fits"])
    for run, summary in zip(runs, (real, augmented)):  # a sweep skips what its table does not use
        assert summary["train_config"]["baseline_permutations"] == 0 and summary["baseline"]["null_auc"] == []
        assert not list((workspace / "figures").glob(f"05_maps_{run['run']}*"))
    rows, models = augmentation.paired_table(runs)
    assert [r["difference"] for r in rows] == [round(augmented["oof_source_auc"] - real["oof_source_auc"], 3)]
    assert models[0]["seeds"] == 1 and models[0]["model"] == "I′"
