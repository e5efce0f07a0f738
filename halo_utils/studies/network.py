"""A catalogue search over the network, end to end, against stand-ins on this machine: VizieR for the catalogue,
SkyView for 4 images per cluster (the published GLEAM fields, served by position), the project's command line
(``python -m halo_utils.search``) run unchanged in a subprocess.

Four measurements, written to ``docs/results/network_<name>.md``:

* an uninterrupted search: wall time, peak memory, cache size, throughput;
* the same search killed (SIGKILL) at a random moment, once while downloading and once while scoring, and run
  again: its candidate table against the first;
* a second run over the first one's cache: how many requests it sends (none, if the cache serves it);
* downloads alone with 1, 2, 4 and 8 workers, the stand-in taking ``--render`` seconds per image as SkyView
  does, with and without the default rate limit.

    python -m halo_utils.studies.network --catalogue-dir ../shared/data/catalogues/psz2 --fields $HALO_GLEAM_DIR \
        --detector data/models/05_classifier/I_kfold_injected_cpu_seed0/detector
    python -m halo_utils.studies.network ... --limit 40 --name psz2_first40     # a quick look
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .. import cli, paths
from ..search.catalogues import GLEAM_DEC_MAX
from ..search.fields import RATE, WORKERS
from . import report
from .standins import SkyViewStandIn, VizierStandIn, environment

PSZ2 = "J/A+A/594/A27/psz2"


def main(argv=None):
    parser = cli.parser(__spec__.name, __doc__)
    parser.add_argument("--catalogue-dir", required=True, help="the PSZ2 catalogue as CDS files (ReadMe + psz2.dat)")
    parser.add_argument("--fields", required=True, help="the published GLEAM halo dataset (the images served)")
    parser.add_argument("--detector", required=True, help="a saved detector folder (detector.json)")
    parser.add_argument("--work", default=str(paths.data_dir() / "runs" / "network"), help="scratch folder")
    parser.add_argument("--limit", type=int, default=0, help="only the first N rows of the catalogue (0: all)")
    parser.add_argument("--name", default="psz2", help="the table's name: docs/results/network_<name>.md")
    parser.add_argument("--seed", type=int, default=0, help="seeds the moment of the kill")
    parser.add_argument("--render", type=float, default=0.5, help="seconds the stand-in takes per image (workers)")
    parser.add_argument("--sweep-clusters", type=int, default=24, help="clusters downloaded per workers setting")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="the searches' rate limit (default 0: none, so the figures are the code's own; the "
                             "workers sweep measures what the default limit costs)")
    args = parser.parse_args(argv)
    table = catalogue(args.catalogue_dir, args.limit)
    work = Path(args.work) / args.name
    rows = searches(table, args, work)
    rows += _kept(work / "workers.json", lambda: workers_sweep(table[: args.sweep_clusters], args, work))
    command = "python -m halo_utils.studies.network " + " ".join(sys.argv[1:] if argv is None else argv)
    south = int(np.sum(np.asarray(table["DEdeg"], float) < GLEAM_DEC_MAX))
    report.write(f"network_{args.name}.md", f"Made by `{command}`: {len(table)} catalogue rows, the {south} south of "
                 f"Dec +{GLEAM_DEC_MAX:g} searched; the searches without a rate limit (`--rate {args.rate:g}`), "
                 f"{WORKERS} workers; the stand-in SkyView takes {args.render:g} s per image in the workers sweep "
                 "only. Peak memory: the search process's maximum resident set.\n\n" + report.markdown(rows))


def catalogue(folder, limit: int = 0):
    """The CDS catalogue in ``folder`` as an astropy Table (its first ``limit`` rows; 0: all)."""
    from ..search.catalogues import read_local

    table = read_local(folder)
    return table[:limit] if limit else table


@contextlib.contextmanager
def served(table, fields, folder: Path, render: float = 0.0):
    """Both stand-ins, and the environment that sends a subprocess's astroquery to them."""
    with VizierStandIn({PSZ2: table}, folder / "vizier") as vizier, \
            SkyViewStandIn(fields=fields, latency_s=render) as skyview:
        yield vizier, skyview, environment(folder / "astropy", skyview=skyview, vizier=vizier)


def searches(table, args, work: Path) -> list:
    """The uninterrupted search, the second run over its cache, and two searches killed at a random moment (one
    when a random share of the clusters is in the cache, one at a random time while scoring) and run again. Each
    row is kept in ``work/<row>.json``: a study started again reuses the rows whose folders are still there."""
    import pandas as pd

    rng = np.random.default_rng(args.seed)
    whole = work / "whole" / "out" / "candidates.csv"
    with served(table, args.fields, work / "servers") as (vizier, skyview, env):

        def first():
            out = run_search(work / "whole", env, args.detector, rate=args.rate)
            scoring = json.loads((work / "whole" / "out" / "summary.json").read_text())["seconds"]
            return [dict(run="uninterrupted", **out, requests=len(skyview.requests), vizier_queries=len(vizier.queries),
                         scoring_s=round(scoring, 1))]

        def again():
            asked, queried = len(skyview.requests), len(vizier.queries)
            out = run_search(work / "whole", env, args.detector, rate=args.rate)
            return [dict(run="again, from its cache", **out, requests=len(skyview.requests) - asked,
                         vizier_queries=len(vizier.queries) - queried)]

        def killed(phase: str, rows: list):
            folder = work / f"killed_{phase}"
            if phase == "downloading":
                share = float(rng.uniform(0.1, 0.9))
                need = int(share * len(pd.read_csv(whole)))
                out = run_search(folder, env, args.detector, rate=args.rate,
                                 kill_when=lambda: _cached(folder / "cache") >= need)
                label = f"killed while downloading, with {out['clusters_cached']} clusters cached"
            else:
                start = rows[0]["wall_s"] - rows[0]["scoring_s"]  # downloads and start-up of the first run
                at = float(rng.uniform(start + 0.1 * rows[0]["scoring_s"], start + 0.9 * rows[0]["scoring_s"]))
                out = run_search(folder, env, args.detector, kill_after=at, rate=args.rate)
                label = f"killed while scoring, at {at:.0f} s"
            rerun = run_search(folder, env, args.detector, rate=args.rate)
            same = pd.read_csv(whole).equals(pd.read_csv(folder / "out" / "candidates.csv"))
            return [dict(run=label, **out), dict(run="rerun after that kill", **rerun, same_table_as_uninterrupted=same)]

        rows = _kept(work / "whole.json", first)
        rows += _kept(work / "again.json", again)
        rows += _kept(work / "killed_downloading.json", lambda: killed("downloading", rows))
        rows += _kept(work / "killed_scoring.json", lambda: killed("scoring", rows))
    return rows


def _kept(path: Path, measure) -> list:
    """The rows ``measure()`` returns, kept in ``path``; read from it if it is there."""
    if path.exists():
        return json.loads(path.read_text())
    rows = measure()
    paths.write_json(path, rows)
    return rows


def _cached(cache: Path) -> int:
    """Clusters with all four bands in a download cache."""
    return sum(len(list(folder.glob("*.fits"))) == 4 for folder in cache.glob("*")) if cache.exists() else 0


def run_search(folder: Path, env: dict, detector, kill_after: float | None = None, download_only: bool = False,
               workers: int = WORKERS, rate: float = RATE, kill_when=None) -> dict:
    """``python -m halo_utils.search --catalogue psz2`` in a subprocess with ``folder`` as its project root, cache
    and output; stopped by SIGKILL after ``kill_after`` seconds, or as soon as ``kill_when()`` is true, if given. Returns wall time, peak memory (RSS) of
    the search, cache size and files, clusters per second, and the exit code."""
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "halo_utils.search", "--catalogue", "psz2", "--cache", str(folder / "cache"),
               "--out", str(folder / "out"), "--detector", str(detector), "--workers", str(workers), "--rate", str(rate)]
    command += ["--download-only"] if download_only else []
    env = dict(os.environ, **env, HALO_ROOT=str(folder / "root"), MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="2")
    start = time.perf_counter()
    with open(folder / "log.txt", "a") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        status, usage = _wait(process, kill_after, kill_when)
    wall = time.perf_counter() - start
    code = process.returncode = os.waitstatus_to_exitcode(status)
    files = [p for p in (folder / "cache").rglob("*") if p.is_file()]
    clusters = len({p.parent for p in files if p.suffix == ".fits"})
    return dict(exit_code=code, wall_s=round(wall, 1),
                peak_rss_gib=round(usage.ru_maxrss / 2**20, 2),
                cache_mb=round(sum(p.stat().st_size for p in files) / 1e6, 1), clusters_cached=clusters,
                fits_files=sum(p.suffix == ".fits" for p in files),
                leftover_partial_files=sum(p.name.endswith(".part") for p in files),
                clusters_per_s=round(clusters / wall, 2))


def _wait(process, kill_after: float | None = None, kill_when=None) -> tuple:
    """Wait for ``process`` (SIGKILL after ``kill_after`` seconds, or once ``kill_when()`` is true); its exit status
    and resource usage."""
    deadline = None if kill_after is None else time.perf_counter() + kill_after
    armed = kill_after is not None or kill_when is not None
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            return status, usage
        if armed and ((deadline is not None and time.perf_counter() >= deadline) or (kill_when and kill_when())):
            os.kill(process.pid, signal.SIGKILL)
            armed = False
        time.sleep(0.1)


def workers_sweep(table, args, work: Path) -> list:
    """Downloads alone of ``table`` with 1, 2, 4, 8 workers, without a rate limit and with the default one, each
    image taking ``args.render`` seconds at the stand-in."""
    rows = []
    for rate in (0.0, RATE):
        for workers in (1, 2, 4, 8):
            folder = work / "workers" / f"w{workers}_r{rate:g}"
            with served(table, args.fields, folder / "servers", render=args.render) as (_, skyview, env):
                out = run_search(folder, env, args.detector, download_only=True, workers=workers, rate=rate)
                images = sum(path.endswith("runquery.pl") for path, _ in skyview.requests)
            rows.append(dict(run=f"downloads, {workers} workers, rate {'none' if rate == 0 else f'{rate:g}/s'}",
                             exit_code=out["exit_code"], wall_s=out["wall_s"], clusters_cached=out["clusters_cached"],
                             images_per_s=round(images / out["wall_s"], 2), clusters_per_s=out["clusters_per_s"]))
    return rows


if __name__ == "__main__":
    main()
