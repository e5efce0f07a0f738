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

__all__ = ["job", "write_plan", "main"]

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
