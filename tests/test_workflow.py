"""The sweeps through the workflow engine (Snakemake, workflow/Snakefile): a smoke sweep of 2 seeds x 2 models on
this machine, killed part-way and restarted, runs only what is missing; a Slurm profile's dry run lists the jobs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import NOTEBOOK_SOURCE, scratch_root

pytest.importorskip("snakemake")

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "workflow" / "Snakefile")]


@pytest.fixture
def root(tmp_path):
    """A scratch project root (:func:`scratch_root`: the committed tables) that sees the repository's notebooks."""
    (scratch_root(tmp_path) / "notebooks").symlink_to(REPO / "notebooks")
    return tmp_path


def _env(root: Path) -> dict:
    return dict(os.environ, HALO_ROOT=str(root), HALO_PROFILE="smoke", MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="2")


def _plan(root: Path, *options) -> Path:
    """The smoke sweep's plan, on the published images when they are here (no mock sky to simulate per seed)."""
    plan = root / "plan.json"
    subprocess.run([sys.executable, "-m", "halo_utils.studies.sweep", "--seeds", "0", "1", "--models", "D", "I",
                    "--profile", "smoke", "--source", NOTEBOOK_SOURCE, "--plan", str(plan), *options], env=_env(root),
                   check=True, capture_output=True, cwd=root)
    return plan


TAG = f"{'mock_' if NOTEBOOK_SOURCE == 'mock' else ''}smoke"
"""The end of the sweep's run and table names."""


def test_a_killed_sweep_runs_only_what_is_missing(root):
    plan = _plan(root)
    jobs = json.loads(plan.read_text())["jobs"]
    assert len(jobs) == 4 and all(j["outputs"][0].endswith(".json") for j in jobs)
    # one job at a time: the kill stops the engine as the second run starts (two at a time, it threw away a second run
    # that had nearly finished)
    command = [*SNAKEMAKE, "--config", f"plan={plan}", "--cores", "1", "--rerun-incomplete", "--rerun-triggers", "mtime"]
    results = root / "data" / "results" / "05_classifier"
    first = subprocess.Popen(command, env=_env(root), cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    for line in first.stderr:  # the engine's log: kill it as soon as it has finished one run
        if line.startswith("Finished jobid") and "run_" in line:
            break
    os.killpg(first.pid, signal.SIGKILL)  # the engine and the runs it started, as a user's kill -9 of make sweep
    first.wait()
    finished = line.split("(Rule: run_")[1].split(")")[0] + ".json"
    done = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json") if p.name == finished}
    assert len(done) == 1, (line, list(results.glob("*.json")))
    time.sleep(2)  # an orphaned kernel notices its parent is gone within a second and stops
    subprocess.run([*SNAKEMAKE, "--config", f"plan={plan}", "--unlock"], env=_env(root), cwd=root, check=True,
                   capture_output=True)  # as make sweep does: a killed engine leaves its lock behind
    again = subprocess.run(command, env=_env(root), cwd=root, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    ran = [line.split("rule run_")[1].rstrip(":") + ".json" for line in (again.stdout + again.stderr).splitlines()
           if line.startswith(("rule run_", "localrule run_"))]  # the jobs this start ran
    assert sorted(ran) == sorted({Path(j["outputs"][0]).name for j in jobs} - set(done)), (ran, done)
    assert {p.name: p.stat().st_mtime_ns for p in results.glob("*.json") if p.name in done} == done  # not rerun
    table = (root / "docs" / "results" / f"table5_kfold_{TAG}.md").read_text()
    assert "run by workflow/Snakefile" in table and all(f"| {m} |" in table or f"| {m} " in table for m in "DI")
    nothing = subprocess.run([*command, "--dry-run"], env=_env(root), cwd=root, capture_output=True, text=True)
    assert "Nothing to be done" in nothing.stdout + nothing.stderr


def test_a_slurm_dry_run_lists_the_jobs_it_would_submit(root):
    plan = _plan(root)
    done = subprocess.run([*SNAKEMAKE, "--config", f"plan={plan}", "--profile", str(REPO / "workflow" / "profiles" / "slurm"),
                           "--dry-run"], env=_env(root), cwd=root, capture_output=True, text=True, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    runs = [line.split()[0] for line in out.splitlines() if line.startswith("run_")]  # the job stats table
    assert sorted(set(runs)) == sorted(f"run_{m}_kfold_{TAG}_seed{s}" for m in "DI" for s in "01"), out[-2000:]
    assert "slurm_partition" in out and "tables" in out


def test_a_committed_table_does_not_hide_the_missing_runs(root):
    """A clone has the committed tables: Snakemake must still run the runs, not say 'Nothing to be done'."""
    plan = _plan(root)
    table = root / "docs" / "results" / f"table5_kfold_{TAG}.md"
    table.parent.mkdir(parents=True)
    table.write_text("| model | ... |\n")
    done = subprocess.run([*SNAKEMAKE, "--config", f"plan={plan}", "--cores", "2", "--dry-run"], env=_env(root), cwd=root,
                          capture_output=True, text=True, timeout=300)
    runs = {line.split()[0] for line in (done.stdout + done.stderr).splitlines() if line.startswith("run_")}
    assert len(runs) == 4 and "Nothing to be done" not in done.stdout + done.stderr, done.stdout[-2000:]


def test_a_study_plan_pre_trains_after_the_mock_detector_it_starts_from(root):
    """The mock study's plan: the mock detectors, the real-only and the pre-trained runs; a pre-trained run waits
    for the mock run of its settings (both would train that detector); the study's tables come last."""
    plan = root / "plan.json"
    subprocess.run([sys.executable, "-m", "halo_utils.studies.pretraining", "--profile", "smoke", "--seeds", "0", "1",
                    "--plan", str(plan)], env=_env(root), check=True, capture_output=True, cwd=root)
    spec = json.loads(plan.read_text())
    names = {j["name"]: j for j in spec["jobs"]}
    for seed in (0, 1):
        pre, mock = names[f"I_kfold_mockclippedgleam_smoke_seed{seed}"], names[f"I_kfold_mockclipped_smoke_seed{seed}"]
        assert pre["needs"] == [mock["outputs"][0]] and pre["parameters"]["train_on"] == "mock+gleam"
        assert {f"I_kfold_smoke_seed{seed}", f"I_kfold_mock_noclip_smoke_seed{seed}"} <= set(names)
    assert len(names) == 8 and [Path(t).name for t in spec["tables"]] == ["mock_detector_smoke.md",
                                                                          "mock_pretraining_smoke.md"]
    assert spec["command"][2:] == ["halo_utils.studies.pretraining", "--profile", "smoke", "--seeds", "0", "1"]
    done = subprocess.run([*SNAKEMAKE, "--config", f"plan={plan}", "--cores", "2", "--dry-run"], env=_env(root), cwd=root,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "tables" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
