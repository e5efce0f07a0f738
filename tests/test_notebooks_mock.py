"""Every notebook runs end to end on the mock sky (no real data needed), as `make demo` runs them."""

import json
import os
import shutil
from pathlib import Path

import pytest

papermill = pytest.importorskip("papermill")

NOTEBOOKS = [p for p in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0*.ipynb"))
             if "source" in papermill.inspect_notebook(str(p))]  # the notebooks that read GLEAM images


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A scratch project root, so the run writes its mock sky, figures and results there."""
    root = tmp_path_factory.mktemp("root")
    old = {k: os.environ.get(k) for k in ("HALO_ROOT", "MPLBACKEND")}
    os.environ.update(HALO_ROOT=str(root), MPLBACKEND="Agg")
    yield root
    for key, value in old.items():
        os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_the_mock_sky(notebook, workspace):
    out = workspace / "runs" / notebook.name
    out.parent.mkdir(exist_ok=True)
    papermill.execute_notebook(str(notebook), str(out), parameters=dict(profile="smoke", source="mock", seed=0),
                               cwd=str(notebook.parent), progress_bar=False, log_output=False)
    written = sorted((workspace / "data" / "results" / notebook.stem).glob("*mock_smoke_seed0.json"))
    assert len(written) == 1, written
    summary = json.loads(written[0].read_text())
    assert summary["source"] == "mock" and summary["profile"] == "smoke"
    figures = list((workspace / "figures").glob(f"{notebook.stem[:2]}_*.png"))
    assert figures and all("mock_smoke_seed0" in f.name for f in figures), figures  # names never collide across runs
    if notebook.stem == "00_data":
        assert summary["n_sources"] == 46
    if notebook.stem == "01_noise":
        for case in summary["recovery"].values():
            assert case["median_abs"] <= 0.05 and case["worst"] <= 0.15
    if notebook.stem == "04_metrics":  # one TSTR score: a classifier taught by each fold's generated halos
        from halo_utils.studies.augmentation import tstr_rows

        tstr = summary["tstr"]["ddpm"]
        assert 0 <= tstr["tstr_auc"] <= 1 and tstr["generated"] and all(g["replaced"] for g in tstr["generated"])
        assert [r["generator"] for r in tstr_rows("smoke", [0], "mock")] == ["ddpm"]
    if notebook.stem == "05_classifier":  # kfold: every source scored once per repeat, by a fold that did not train on it
        assert summary["protocol"] == "kfold"
        scores = summary["scores"]
        assert len(scores) == summary["network"]["n_repeats"] * 46 == len({(r["repeat"], r["source"]) for r in scores})
        for row in scores:
            fold = next(f for f in summary["folds"] if f["repeat"] == row["repeat"] and f["fold"] == row["fold"])
            assert fold["split"][row["source"]] == "test"


@pytest.mark.parametrize("train_on", ["mock", "mock+gleam"])
def test_classifier_notebook_learns_from_mock_fields(train_on, workspace):
    """Each ``train_on`` value runs in the smoke profile; the mock-trained detector scores every cluster it never saw."""
    notebook = next(p for p in NOTEBOOKS if p.stem == "05_classifier")
    (workspace / "runs").mkdir(exist_ok=True)
    papermill.execute_notebook(str(notebook), str(workspace / "runs" / f"train_on_{train_on}.ipynb"),
                               cwd=str(notebook.parent), progress_bar=False, log_output=False,
                               parameters=dict(profile="smoke", source="mock", seed=0, model="I", train_on=train_on))
    tag = {"mock": "I_kfold_mock", "mock+gleam": "I_kfold_mockgleam"}[train_on]
    summary = json.loads((workspace / "data" / "results" / "05_classifier" / f"{tag}_mock_smoke_seed0.json").read_text())
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


def test_classifier_notebook_trains_with_generated_halos_and_pairs_with_its_real_only_twin(workspace):
    """``augment_with='ddpm'``: every fold adds halos from a generator of its own training halos; the sweep's table
    pairs the run with the real-only run of the same folds and seed."""
    from halo_utils.studies import augmentation

    notebook = next(p for p in NOTEBOOKS if p.stem == "05_classifier")
    (workspace / "runs").mkdir(exist_ok=True)
    runs = augmentation.sweep_runs([0], ["I"], "ddpm", 1.0, "smoke", {}, source="mock")
    for run in runs:
        papermill.execute_notebook(str(notebook), str(workspace / "runs" / f"{run['run']}.ipynb"),
                                   cwd=str(notebook.parent), progress_bar=False, log_output=False,
                                   parameters={k: run[k] for k in run["parameters"]})
    real, augmented = (json.loads((workspace / "data" / "results" / "05_classifier" / f"{r['run']}.json").read_text())
                       for r in runs)
    assert real["folds"] == augmented["folds"] and augmented["augment_with"] == "ddpm"
    for fit in augmented["fits"]:
        info = fit["extended"]
        assert info["generator"] == "ddpm" and info["n_generated"] == info["n_real_halo_images"] > 0
    assert all(fit["extended"] is None for fit in real["fits"])
    for run, result in zip(runs, (real, augmented)):  # a sweep skips what its table does not use
        assert result["train_config"]["baseline_permutations"] == 0 and result["baseline"]["null_auc"] == []
        assert not list((workspace / "figures").glob(f"05_maps_{run['run']}*"))
    rows, models = augmentation.paired_table(runs)
    assert [r["difference"] for r in rows] == [round(augmented["oof_source_auc"] - real["oof_source_auc"], 3)]
    assert models[0]["seeds"] == 1 and models[0]["model"] == "I′"


def test_classifier_notebook_gives_the_same_json_twice(workspace):
    notebook = next(p for p in NOTEBOOKS if p.stem == "05_classifier")
    texts = []
    (workspace / "runs").mkdir(exist_ok=True)
    for i in range(2):
        shutil.rmtree(workspace / "data" / "models" / "05_classifier" / "I_paper_mock_smoke_seed4", ignore_errors=True)
        papermill.execute_notebook(str(notebook), str(workspace / "runs" / f"again{i}.ipynb"), cwd=str(notebook.parent),
                                   parameters=dict(profile="smoke", source="mock", seed=4, model="I", protocol="paper"),
                                   progress_bar=False, log_output=False)
        result = json.loads((workspace / "data" / "results" / "05_classifier" / "I_paper_mock_smoke_seed4.json").read_text())
        assert result.pop("train_seconds") > 0  # wall time: the one field that may differ
        texts.append(json.dumps(result, sort_keys=True))
    assert texts[0] == texts[1]


def _cifar_style(folder: Path, names: list, n_train: int, n_test: int, seed: int):
    """A small CIFAR-style radio-galaxy set: blobs whose elongation follows the class, 40x40 uint8."""
    import pickle

    import numpy as np

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names, "num_vis": 1600}))
    y, x = np.mgrid[:40, :40] - 19.5
    for name, n in (("data_batch_1", n_train), ("test_batch", n_test)):
        labels = rng.integers(0, len(names), n)
        width = 2 + 4 * (labels % 2)[:, None, None]
        images = 255 * np.exp(-(x ** 2 / width ** 2 + y ** 2 / 4))[None] * rng.uniform(0.5, 1, (n, 1, 1))
        batch = dict(labels=labels.tolist(), data=images.astype(np.uint8).reshape(n, -1))
        (folder / name).write_bytes(pickle.dumps(batch))


def test_07_vae_runs_on_a_second_set_without_touching_the_first(workspace):
    """Two CIFAR-style sets, the second with five classes mapped to FRI/FRII: two results, the first left alone."""
    first, second = workspace / "sets" / "frdeep-like", workspace / "sets" / "mirabest-like"
    _cifar_style(first, ["FRI", "FRII"], 60, 20, seed=0)
    _cifar_style(second, ["FRI Confident", "FRI Uncertain", "FRII Confident", "FRII Uncertain", "Hybrid"], 120, 40, seed=1)
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "07_vae.ipynb"
    results = workspace / "data" / "results" / "07_vae"

    def run(folder, **extra):
        papermill.execute_notebook(str(notebook), str(workspace / "runs" / f"07_{folder.name}.ipynb"),
                                   parameters=dict(profile="smoke", seed=0, frdeep_dir=str(folder), gleam_cvae=False, **extra),
                                   cwd=str(notebook.parent), progress_bar=False, log_output=False)

    (workspace / "runs").mkdir(exist_ok=True)
    run(first)
    written = {p.name: p.read_bytes() for p in results.glob("*.json")}
    assert len(written) == 1 and "frdeep-like" in next(iter(written))
    run(second, classes='{"FRI Confident": 0, "FRII Confident": 1}')
    after = {p.name: p.read_bytes() for p in results.glob("*.json")}
    assert len(after) == 2 and all(after[name] == content for name, content in written.items())
    summary = json.loads(next(content for name, content in after.items() if "mirabest-like" in name))
    assert summary["classes"][-1] == "Hybrid" and summary["dataset"].startswith("mirabest-like-")


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS[0].parent.glob("0*.ipynb")), ids=lambda p: p.stem)
def test_parameters_cell_parses_cleanly(notebook, caplog):
    """papermill reads every parameter with its type and help (an '=' in a comment breaks its parser, which then
    warns 'Unable to parse line …' on every run)."""
    with caplog.at_level("WARNING", logger="papermill"):
        params = papermill.inspect_notebook(str(notebook))
    assert not [r.getMessage() for r in caplog.records if "Unable to parse" in r.getMessage()]
    assert params and all(p["help"] for p in params.values()), [k for k, p in params.items() if not p["help"]]


def test_the_single_split_protocol_runs_and_validates_on_its_training_sources(workspace):
    """``protocol='strict'``: split by source, validation carved from the training sources, the test sources scored
    per image and per source."""
    notebook = next(p for p in NOTEBOOKS if p.stem == "05_classifier")
    (workspace / "runs").mkdir(exist_ok=True)
    papermill.execute_notebook(str(notebook), str(workspace / "runs" / "strict.ipynb"), cwd=str(notebook.parent),
                               progress_bar=False, log_output=False,
                               parameters=dict(profile="smoke", source="mock", seed=0, model="D", protocol="strict"))
    summary = json.loads((workspace / "data" / "results" / "05_classifier" / "D_strict_mock_smoke_seed0.json").read_text())
    assert summary["protocol"] == "strict" and summary["validation"] == "val"
    counts = summary["sources_by_split"]
    assert summary["per_source"]["n"] == sum(counts["test"].values()) == 10
    assert {r["source"] for r in summary["scores"]} and 0 <= summary["per_source"]["accuracy"] <= 1
