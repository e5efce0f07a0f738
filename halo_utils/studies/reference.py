"""A reference run against drift: one fixed configuration, rerun whenever the training code changes.

The same setting (model I, seed 0, ``kfold``, ``cpu``, real-only) has given AUCs from 0.66 to 0.79 across code
versions and fold plans here: as large as the effects compared between runs. So the reference is rerun after every
change to the training code, and its AUC is appended with the commit to ``docs/results/reference_runs.md``; two arms
are compared only within one code version.

    papermill notebooks/05_classifier.ipynb out.ipynb -p model I -p seed 0 -p saliency False -p baseline_permutations 0
    python -m halo_utils.studies.reference
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

from .. import cli, paths
from ..config import run_name
from ..detect.classify import run_tag
from . import report

__all__ = ["REFERENCE", "COMMAND", "commit", "row", "append", "main"]

REFERENCE = dict(model="I", protocol="kfold", seed=0, profile="cpu")
COMMAND = ("papermill notebooks/05_classifier.ipynb out.ipynb -p model I -p seed 0 -p saliency False "
           "-p baseline_permutations 0")
HEADER = ("| date | commit | AUC (46 sources) | forest AUC | training accuracy | fold plan |\n"
          "|---|---|---|---|---|---|\n")


def _git(*args) -> str:
    try:
        return subprocess.run(["git", *args], cwd=paths.project_root(), capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def commit() -> str:
    """The short hash of the checked-out commit ("unknown" outside a git checkout)."""
    return _git("rev-parse", "--short", "HEAD") or "unknown"


def row(summary: dict) -> str:
    """The Markdown row of a reference run's summary JSON, at the current commit (``+`` when ``halo_utils`` has
    uncommitted changes)."""
    net, base = summary["network"], summary["baseline"]
    plan = hashlib.sha1(json.dumps([f["split"] for f in summary["folds"]], sort_keys=True).encode()).hexdigest()[:8]
    version = commit() + ("+" if _git("status", "--porcelain", "halo_utils") else "")
    return (f"| {date.today().isoformat()} | {version} | {net['oof_source_auc']:.3f} [{net['oof_source_auc_ci'][0]:.3f}, "
            f"{net['oof_source_auc_ci'][1]:.3f}] | {base['oof_source_auc']:.3f} | {summary['train_accuracy']:.3f} | "
            f"{plan} |\n")


def append(profile: str = "cpu") -> str:
    """Append the reference run's row to ``docs/results/reference_runs.md`` (once per commit and AUC); return it."""
    name = run_name(profile, REFERENCE["seed"], "gleam", run_tag(REFERENCE["model"], REFERENCE["protocol"]))
    source = paths.results_dir("05_classifier") / f"{name}.json"
    if not source.exists():
        raise SystemExit(f"no reference run in {source}: run `{COMMAND}` first")
    new = row(json.loads(source.read_text()))
    out = report.path("reference_runs.md")
    text = out.read_text() if out.exists() else (
        f"The reference run ({', '.join(f'{k} {v}' for k, v in REFERENCE.items())}, real-only), rerun after changes "
        "to the training code and appended by `python -m halo_utils.studies.reference`. Compare two arms only within "
        "one commit.\n\n" + HEADER)
    if new.split("|")[2:4] not in [line.split("|")[2:4] for line in text.splitlines()]:
        paths.atomic_write(out, lambda tmp: Path(tmp).write_text(text + new))
    return new


def main(argv=None):
    parser = cli.parser(__spec__.name, __doc__)
    parser.add_argument("--profile", default="cpu", help="profile of the reference run (default cpu)")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    print(append(args.profile), end="")


if __name__ == "__main__":
    main()
