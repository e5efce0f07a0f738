"""Sweeps: planning skips finished runs; aggregation gives mean ± std per (protocol, model)."""

import json

import numpy as np
import pytest

from halo_utils.config import run_name
from halo_utils.detect.classify import run_tag
from halo_utils.studies import sweep


def fake_result(model, protocol, seed, accuracy, profile="cpu"):
    image = dict(accuracy=accuracy, precision=0.5, recall=0.5, f1=0.5, roc_auc=0.6,
                 roc_fpr=list(np.linspace(0, 1, 101)), roc_tpr=list(np.linspace(0, 1, 101)),
                 confusion=[[0.5, 0.5], [0.5, 0.5]])
    return dict(model=model, protocol=protocol, profile=profile, seed=seed, source="gleam", train_seconds=10.0,
                image=image, per_source=dict(image, accuracy=accuracy / 2),
                history=dict(epoch=[1, 2], loss=[1.0, 0.9], accuracy=[0.5, 0.6], val_loss=[1.0, 0.8],
                             val_accuracy=[0.5, 0.7]))


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    folder = tmp_path / "data" / "results" / "05_classifier"
    folder.mkdir(parents=True)
    for seed, acc in enumerate([0.6, 0.8]):
        for model in ("A", "I"):
            (folder / f"{run_name('cpu', seed, tag=run_tag(model, 'strict'))}.json").write_text(json.dumps(fake_result(model, "strict", seed, acc)))
    (folder / "bench_A_cpu.json").write_text(json.dumps(fake_result("A", "strict", 0, 0.0)))  # custom name: ignored
    (folder / f"{run_name('smoke', 0, tag=run_tag('A', 'strict'))}.json").write_text(json.dumps(fake_result("A", "strict", 0, 0.0, "smoke")))
    return folder


def test_plan_marks_finished_runs(results):
    runs = sweep.plan(range(3), ["A", "D"], ["strict"], "cpu")
    assert len(runs) == 6
    assert [r["run"] for r in runs if r["done"]] == ["A_strict_cpu_seed0", "A_strict_cpu_seed1"]


def test_summary_is_mean_and_std_over_seeds(results):
    table = sweep.summary_table(sweep.load_runs("cpu"))
    row = table.loc[("strict", "A")]
    assert row[("runs", "n")] == 2
    assert row[("accuracy", "mean")] == pytest.approx(70.0)
    assert row[("accuracy", "std")] == pytest.approx(np.std([60, 80], ddof=1))
    source = sweep.summary_table(sweep.load_runs("cpu"), level="source")
    assert source.loc[("strict", "A"), ("accuracy", "mean")] == pytest.approx(35.0)
    text = sweep.to_markdown(table)
    assert "| strict | A | 2 | 70.00 ± 14.14 |" in text and "94.41 ± 1.95" in text
    per_source = sweep.to_markdown(source, level="source")  # 35 % of 10 sources: Wilson 95 % interval 17-69 %
    assert "| strict | A | 2 | 35.00 ± 7.07 | 17–69 |" in per_source


def test_aggregate_writes_tables_and_figures(results):
    written = sweep.aggregate("cpu")
    assert {"image_md", "image_csv", "source_md", "fig8_strict", "fig9_strict", "fig10_strict"} <= set(written)
    assert all(p.exists() for p in written.values())
    with pytest.raises(FileNotFoundError, match="paper"):
        sweep.aggregate("paper")


def test_seed_arguments():
    from halo_utils import cli

    parser = cli.parser("halo_utils.studies.sweep", sweep.__doc__)
    cli.add_seeds(parser, [0, 1])
    assert parser.parse_args(["--seeds", "3"]).seeds == [3]  # one number is that seed, not a count
    assert parser.parse_args(["--seeds", "0-2", "7", "2"]).seeds == [0, 1, 2, 7]
    assert parser.parse_args([]).seeds == [0, 1]
    with pytest.raises(SystemExit):
        parser.parse_args(["--seeds", "5-3"])


def fake_kfold(model, seed, noise, rng):
    """A kfold result whose scores separate the classes with Gaussian ``noise``."""
    labels = np.repeat([0, 1], 23)
    scores = [dict(repeat=r, fold=0, source=f"s{i:02d}", label=int(y), score=float(y + rng.normal(0, noise)))
              for r in range(2) for i, y in enumerate(labels)]
    base = [dict(row, score=float(rng.random())) for row in scores]
    return dict(model=model, protocol="kfold", profile="cpu", seed=seed, source="gleam", train_seconds=5.0,
                train_accuracy=0.97, scores=scores, baseline_scores=base, fits=[dict(best_epoch=1), dict(best_epoch=4)],
                network=dict(oof_source_auc=0.9), baseline=dict(oof_source_auc=0.5))


def write_kfold_runs(root, seeds: int, noise: dict, rng):
    """Fake kfold result JSONs of ``seeds`` seeds, model -> score noise, under ``root``'s results folder."""
    folder = root / "data" / "results" / "05_classifier"
    folder.mkdir(parents=True)
    for seed in range(seeds):
        for model, sigma in noise.items():
            (folder / f"{run_name('cpu', seed, tag=run_tag(model, 'kfold'))}.json").write_text(
                json.dumps(fake_kfold(model, seed, sigma, rng)))


def test_kfold_table_pools_seeds_and_keeps_the_baseline_apart(tmp_path, monkeypatch):
    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    write_kfold_runs(tmp_path, 3, {"A": 0.01, "I": 1.0}, np.random.default_rng(0))
    table = sweep.kfold_table(sweep.load_runs("cpu"))
    assert table.loc["A", "auc"] == 1.0 and table.loc["A", "auc_lo"] == 1.0 and table.loc["A", "seeds"] == 3
    assert 0.6 < table.loc["I", "auc"] < 0.95 and table.loc["I", "auc_lo"] < table.loc["I", "auc"] < table.loc["I", "auc_hi"]
    assert abs(table.loc["baseline", "auc"] - 0.5) < 0.15 and np.isnan(table.loc["baseline", "train_accuracy"])
    assert table.loc["A", "kept_first_epoch"] == 0.5
    written = sweep.aggregate("cpu", command="python -m halo_utils.studies.sweep --seeds 3")
    text = written["kfold_md"].read_text()
    assert written["kfold_md"].parent == tmp_path / "docs" / "results" and "--seeds 3" in text and "| A | 3 | 1.000" in text


def test_ensembles_average_out_of_fold_scores(tmp_path, monkeypatch):
    """Averaging a noisy model over seeds sharpens it; the ensemble AUC is that of the mean scores."""
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    write_kfold_runs(tmp_path, 5, {"I": 1.0, "D": 1.5}, np.random.default_rng(1))
    written = sweep.aggregate("cpu", command="test")
    per_source = pd.read_csv(written["sources_csv"], header=[0, 1], index_col=0)
    ensembles = sweep.ensemble_table(per_source)
    single = sweep.kfold_table(sweep.load_runs("cpu"))
    assert ensembles.loc["I", "auc"] > single.loc["I", "auc"]  # 10 noisy scores per source average out
    both = (per_source["I"]["score"] + per_source["D"]["score"]) / 2
    assert ensembles.loc["I+D", "auc"] == pytest.approx(roc_auc_score(per_source["I"]["label"], both))
    assert list(ensembles.index) == ["I", "D", "baseline", "I+D", "I+D+baseline"]
    assert "| I+D |" in written["ensemble_md"].read_text()


def test_a_run_s_wall_time_is_papermill_s_record_of_its_notebook(tmp_path, monkeypatch):
    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    folder = tmp_path / "data" / "runs" / sweep.STAGE
    folder.mkdir(parents=True)
    (folder / "I_kfold_cpu_seed0.ipynb").write_text(json.dumps(dict(metadata=dict(papermill=dict(duration=61.5)))))
    (folder / "I_kfold_cpu_seed1.ipynb").write_text(json.dumps(dict(metadata=dict(papermill=dict(duration=None)))))
    assert sweep.notebook_seconds("I_kfold_cpu_seed0") == 61.5
    assert sweep.notebook_seconds("I_kfold_cpu_seed1") is None and sweep.notebook_seconds("I_kfold_cpu_seed2") is None


def test_a_plan_names_each_run_s_files_and_the_tables(tmp_path, monkeypatch):
    """The plan the workflow runs: one job per run with its result JSON and executed notebook, the tables last, and
    the command that writes them from the finished runs."""
    from halo_utils.studies import workflow

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    sweep.main(["--seeds", "3", "--models", "A", "D", "--profile", "cpu", "--plan", str(tmp_path / "plan.json")])
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert [j["name"] for j in plan["jobs"]] == ["A_kfold_cpu_seed3", "D_kfold_cpu_seed3"]
    assert plan["jobs"][0]["outputs"] == [str(tmp_path / "data" / "results" / "05_classifier" / "A_kfold_cpu_seed3.json"),
                                          str(tmp_path / "data" / "runs" / "05_classifier" / "A_kfold_cpu_seed3.ipynb")]
    assert plan["jobs"][1]["parameters"] == dict(model="D", protocol="kfold", seed=3, profile="cpu", source="gleam",
                                                 saliency=False, baseline_permutations=0)  # what the table does not use
    assert plan["tables"] == [str(tmp_path / "docs" / "results" / "table5_kfold_cpu.md")]
    assert plan["command"][1:4] == ["-m", "halo_utils.studies.sweep", "--aggregate-only"] and plan["root"] == str(tmp_path)
    generator = workflow.job(dict(run="ddpm_x", job=tmp_path / "x.json", pool=tmp_path / "pool.npz"))
    assert generator == dict(name="ddpm_x", job=str(tmp_path / "x.json"), outputs=[str(tmp_path / "pool.npz")], needs=[])


def test_a_bfloat16_sweep_has_its_own_runs_and_tables(tmp_path, monkeypatch):
    """``--precision mixed_bfloat16``: the notebook gets the policy, the runs and tables are named for it, and the
    float32 table never reads them."""
    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    sweep.main(["--seeds", "3", "--models", "A", "--profile", "cpu", "--precision", "mixed_bfloat16",
                "--plan", str(tmp_path / "plan.json")])
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert [j["name"] for j in plan["jobs"]] == ["A_kfold_bfloat16_cpu_seed3"]
    assert plan["jobs"][0]["parameters"]["precision"] == "mixed_bfloat16"
    assert plan["tables"] == [str(tmp_path / "docs" / "results" / "table5_kfold_cpu_bfloat16.md")]
    assert plan["command"][-2:] == ["--precision", "mixed_bfloat16"]
    folder = tmp_path / "data" / "results" / "05_classifier"
    folder.mkdir(parents=True)
    (folder / "A_kfold_bfloat16_cpu_seed3.json").write_text(json.dumps(dict(profile="cpu", source="gleam", model="A",
                                                                              protocol="kfold", seed=3)))
    assert len(sweep.load_runs("cpu", precision="mixed_bfloat16")) == 1 and sweep.load_runs("cpu") == []


def test_a_generator_job_that_fails_says_where_its_log_is(tmp_path, capsys):
    job = tmp_path / "ddpm_x.json"
    job.write_text(json.dumps(dict(kind="wgan")))  # no such per-fold generator, and half a job
    assert sweep._execute(dict(run="ddpm_x", job=job), threads=1) != 0
    assert str(job.with_suffix(".log")) in capsys.readouterr().out and "lacks" in job.with_suffix(".log").read_text()


def test_a_mixed_precision_run_is_named_for_its_policy(gleam_dir, tmp_path, monkeypatch):
    """What the notebook names a run (``runs.setup``): the plan's names above are the notebook's own."""
    from halo_utils.config import use_precision
    from halo_utils.detect import runs

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    try:
        run = runs.setup(seed=3, profile="cpu", model="A", precision="mixed_bfloat16", gleam_dir=gleam_dir)
    finally:
        use_precision("float32")  # the policy is global: the other tests of this worker build float32 models
    assert run.name == "A_kfold_bfloat16_cpu_seed3"
