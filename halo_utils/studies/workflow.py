"""The studies' runs as a Snakemake workflow (``workflow/Snakefile``): one job per papermill run or per-fold
generator, with its files as outputs, and the study's tables as the last job. Snakemake skips what is done, runs
the rest on a laptop (``--cores``) or a cluster (``--executor slurm``), and reruns a job that was killed (the
notebook itself resumes a killed fold from its last epoch).

A study writes its plan (``--plan FILE`` of :mod:`~halo_utils.studies.sweep` and
:mod:`~halo_utils.studies.augmentation`); the Snakefile reads it. One job of the plan runs as::

    python -m halo_utils.studies.workflow '<the job as JSON>' <TensorFlow threads>
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .. import paths

__all__ = ["job", "notebook_run", "write_plan", "study_plan", "main"]

STAGE = "05_classifier"
FIRST = {"A": 2, "I": 1}
"""Snakemake priority of a run by its model: the longest first (A about 2.5 times I, I about 3 times D, in the
``cpu`` kfold sweep), so a short run, not a long one, is left last on a core."""


def job(run: dict, needs=()) -> dict:
    """A plan entry: the run (a sweep run: notebook parameters, or a generator's ``job`` file), the files it
    writes (``outputs``: the notebook's JSON and executed copy, or the generator's pool) and the files it needs."""
    if "job" in run:
        return dict(name=run["run"], job=str(run["job"]), outputs=[str(run["pool"])], needs=list(map(str, needs)))
    keys = run.get("parameters", ("model", "protocol", "seed", "profile", "source"))
    return dict(name=run["run"], parameters={k: run[k] for k in keys}, priority=FIRST.get(run.get("model"), 0),
                outputs=[str(paths.results_dir(STAGE) / f"{run['run']}.json"),
                         str(paths.data_dir() / "runs" / STAGE / f"{run['run']}.ipynb")],
                needs=list(map(str, needs)))


def notebook_run(profile: str, seed: int, model: str = "I", source: str = "gleam", **options) -> dict:
    """A run of ``05_classifier`` for a plan (:func:`job`): its notebook parameters (``options``: any of the
    notebook's, e.g. ``train_on='injected'``, ``mock_clipped=True``, ``clip_sigma=None``, ``training_overrides``) and
    the name the notebook gives them (:func:`~halo_utils.detect.tags.run_tag`)."""
    from ..config import run_name
    from ..detect.tags import run_tag

    tag = run_tag(model, "kfold", options.get("train_on", "gleam"), options.get("clip_sigma", 4.0),
                  options.get("mock_clipped", False), overrides=options.get("training_overrides"),
                  mock_sky=options.get("mock_sky"), subtract_compact=options.get("subtract_compact", False))
    unset = {"training_overrides": None, "mock_sky": None, "mock_clipped": False, "subtract_compact": False}
    options = {k: v for k, v in options.items() if not (k in unset and not v)}  # the notebook's defaults
    params = dict(model=model, protocol="kfold", seed=int(seed), profile=profile, source=source, **options)
    return dict(params, run=run_name(profile, seed, source, tag), parameters=tuple(params))


def study_plan(path, module: str, argv: list, runs: list, tables: list) -> Path:
    """Write the plan of a study table: the ``runs`` it reads (:func:`notebook_run`; a run's ``after``: runs it
    must wait for, e.g. those that train a detector it starts from, added to the plan if missing), then ``tables``
    written by ``python -m <module> <argv>`` (the study's own command line, without ``--plan``)."""
    every = {}
    for run in runs:
        for first in run.get("after", ()):
            every.setdefault(first["run"], first)
        every.setdefault(run["run"], run)
    jobs = [job(r, needs=[job(a)["outputs"][0] for a in r.get("after", ())]) for r in every.values()]
    plan = write_plan(path, jobs, tables, [sys.executable, "-m", module, *argv])
    print(f"{len(jobs)} runs -> {plan}; then {', '.join(Path(t).name for t in tables)}")
    return plan


def write_plan(path, jobs: list, tables: list, command: list) -> Path:
    """The plan of a study: its ``jobs``, the ``tables`` it writes last and the ``command`` that writes them
    (from the finished runs; a list of arguments)."""
    plan = dict(root=str(paths.project_root()), jobs=jobs, tables=[str(t) for t in tables], command=command)
    return paths.write_json(Path(path), plan)


def main(argv=None):
    """Run one job of a plan (its JSON, then the TensorFlow threads it may use); exit with its exit code."""
    from .sweep import _execute

    args = argv if argv is not None else sys.argv[1:]
    spec, threads = json.loads(args[0]), int(args[1]) if len(args) > 1 else None
    run = dict(run=spec["name"], job=Path(spec["job"])) if "job" in spec else \
        dict(spec["parameters"], run=spec["name"], parameters=tuple(spec["parameters"]))
    raise SystemExit(_execute(run, threads))


if __name__ == "__main__":
    main()
