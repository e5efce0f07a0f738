"""The networked paths through stand-in servers on 127.0.0.1: astroquery's own SkyView and VizieR clients, pointed at the
stand-ins by their configuration and environment, drive the project's download code unchanged (in a subprocess, so astroquery reads
that configuration when it is imported)."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from halo_utils.studies.standins import SkyViewStandIn, VizierStandIn, environment

pytest.importorskip("astroquery")

DOWNLOAD = """
import json, sys
import pandas as pd
from halo_utils.search.fields import download_fields
table = pd.DataFrame(json.loads(sys.argv[1]))
found, failures = download_fields(table, sys.argv[2], progress=False, backoff=0.05, timeout=float(sys.argv[3]),
                                  workers=int(sys.argv[4]), rate=float(sys.argv[5]))
print(json.dumps(dict(found={n: int((found.source == n).sum()) for n in table.name}, failures=failures)))
"""


def _download(stand_in, clusters: dict, cache, tmp_path, timeout: float = 10.0, workers: int = 4,
              rate: float = 0.0) -> dict:
    """download_fields of ``clusters`` (name -> (ra, dec)) in a subprocess pointed at ``stand_in``."""
    table = [dict(name=n, ra_deg=ra, dec_deg=dec) for n, (ra, dec) in clusters.items()]
    env = dict(os.environ, **environment(tmp_path / "astropy", skyview=stand_in))
    done = subprocess.run([sys.executable, "-c", DOWNLOAD, json.dumps(table), str(cache), str(timeout), str(workers),
                           str(rate)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_astroquery_downloads_through_the_stand_in_and_a_second_run_reads_the_cache(tmp_path):
    clusters = {"A": (10.0, -30.0), "B": (20.5, -20.25)}
    with SkyViewStandIn() as skyview:
        first = _download(skyview, clusters, tmp_path / "cache", tmp_path)
        asked = len(skyview.requests)
        again = _download(skyview, clusters, tmp_path / "cache", tmp_path)
        assert len(skyview.requests) == asked  # the second run reads only the cache
    assert first == again == dict(found={"A": 4, "B": 4}, failures={})
    surveys = {q["survey"] for path, q in skyview.requests if path.endswith("runquery.pl")}
    assert surveys == {f"GLEAM {b} MHz" for b in ("72-103", "103-134", "139-170", "170-231")}
    assert sorted(p.name for p in (tmp_path / "cache" / "A").iterdir()) == sorted(
        f"A_GLEAM_{b}MHz.fits" for b in ("72-103", "103-134", "139-170", "170-231"))


@pytest.mark.parametrize("fault, recovers", [
    ("500", True), ("503", True), ("503-retry", True), ("reset", True), ("slow", True), ("timeout", True),
    ("500", False), ("fits:reset", False),
    ("fits:truncated", False), ("fits:html", False), ("fits:size", False), ("fits:survey", False)])
def test_each_fault_is_retried_or_named_and_leaves_no_partial_file(fault, recovers, tmp_path):
    """A passing fault (once) is retried; one that lasts (three times, every try) is named in the failures, no
    partial file is left in the cache, and the other cluster is not affected."""
    clusters = {"bad": (30.0, -10.0), "good": (40.0, 0.0)}
    times = 1 if recovers else 3
    with SkyViewStandIn({(30.0, -10.0): [fault] * times}, timeout_s=3.0) as skyview:
        out = _download(skyview, clusters, tmp_path / "cache", tmp_path, timeout=1.0)
    assert out["found"]["good"] == 4 and "good" not in out["failures"]
    if recovers:
        assert out["found"]["bad"] == 4 and not out["failures"]
    else:
        why = out["failures"]["bad"]
        assert list(out["failures"]) == ["bad"] and "GLEAM" in why and "after 3 tries" in why
        assert ("BadImage" in why) == (fault in ("fits:truncated", "fits:html", "fits:size", "fits:survey"))
        assert ("try again later" in why) == (fault == "500") and ("Offline?" in why) == (fault == "fits:reset")
        assert out["found"]["bad"] == 0
    leftovers = [p.name for p in (tmp_path / "cache").rglob("*") if p.is_file() and not p.name.endswith(".fits")]
    assert not leftovers, leftovers


def test_parallel_downloads_give_the_serial_result_at_the_set_rate(tmp_path, gleam_dir):
    """Four workers fetch the same files as one (published fields served by position), with a lasting fault on
    one cluster; the throttle keeps the image queries to ``rate`` per second (calls are spaced exactly, as the test
    below shows; the server sees them a little bunched, as each new client first asks for the form). Four workers
    would ask faster than the rate (each query takes ``latency_s``), one would not."""
    clusters = {f"C{i}": (15.0 * i, -60.0 + 8 * i) for i in range(6)}
    faults = {(30.0, -44.0): ["fits:truncated"] * 3}
    out, rate = {}, 16
    for workers in (1, 4):
        with SkyViewStandIn(dict(faults), fields=gleam_dir, latency_s=0.1) as skyview:
            out[workers] = _download(skyview, clusters, tmp_path / f"cache{workers}", tmp_path, workers=workers, rate=rate)
            starts = sorted(t for t, (path, _) in zip(skyview.times, skyview.requests) if path.endswith("runquery.pl"))
        assert (len(starts) - 1) / (starts[-1] - starts[0]) <= rate * 1.1, np.diff(starts)  # at most 16 queries/s
    assert out[1] == out[4] and list(out[1]["failures"]) == ["C2"]
    for name in clusters:
        for a, b in zip(sorted((tmp_path / "cache1" / name).glob("*.fits")), sorted((tmp_path / "cache4" / name).glob("*.fits"))):
            assert a.read_bytes() == b.read_bytes()


def test_the_throttle_spaces_calls_from_many_threads():
    from concurrent.futures import ThreadPoolExecutor

    from halo_utils.search.fields import Throttle

    times = []
    call = Throttle(rate=20).wrap(lambda: times.append(time.monotonic()))
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: call(), range(12)))
    gaps = np.diff(sorted(times))
    assert len(times) == 12 and gaps.min() >= 0.05 - 0.005, gaps
    assert Throttle(rate=0).gap == 0.0


# ----------------------------------------------------------------------------------------------- VizieR

CATALOGUE = """
import json, sys
from halo_utils.search import catalogues
try:
    table = catalogues.standard(catalogues.fetch(sys.argv[1], timeout=1.0, backoff=0.05), sys.argv[1])
    print(json.dumps(dict(rows=len(table), names=table.name.tolist()[:3], ra=table.ra_deg.tolist()[:3])))
except catalogues.CatalogueError as err:
    print(json.dumps(dict(error=str(err))))
"""


def _catalogue(stand_in, name: str, tmp_path) -> dict:
    """catalogues.fetch + standard of ``name`` in a subprocess whose astroquery talks to ``stand_in``."""
    env = dict(os.environ, HALO_ROOT=str(tmp_path / "root"), **environment(tmp_path / "astropy", vizier=stand_in))
    done = subprocess.run([sys.executable, "-c", CATALOGUE, name], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_psz2_from_the_vizier_stand_in_equals_the_local_files_and_is_cached(psz2_dir, tmp_path):
    from halo_utils.search import catalogues

    local = catalogues.catalogue("psz2", psz2_dir)
    with VizierStandIn({"J/A+A/594/A27/psz2": psz2_dir}, tmp_path) as vizier:
        first = _catalogue(vizier, "psz2", tmp_path)
        again = _catalogue(vizier, "psz2", tmp_path)
    assert len(vizier.queries) == 1  # the second run read the cache
    query = vizier.queries[0]
    assert query["-source"] == "J/A+A/594/A27/psz2" and query["-out.max"] == "unlimited"
    assert first == again and first["rows"] == len(local) == 1232
    assert first["names"] == local.name.tolist()[:3] and first["ra"] == pytest.approx(local.ra_deg.tolist()[:3])


@pytest.mark.parametrize("fault, times", [
    ("500", 1), ("503-retry", 1), ("reset", 1), ("timeout", 1), ("empty", 1), ("malformed", 1), ("html", 1),
    ("500", 3), ("empty", 3), ("malformed", 3)])
def test_each_vizier_fault_is_retried_or_named_and_writes_nothing(psz2_dir, fault, times, tmp_path):
    """A passing fault is retried (a broken answer is not handed back from astroquery's cache); a lasting one
    ends in an error that names the catalogue and the fault, and leaves no cached catalogue behind."""
    with VizierStandIn({"J/A+A/594/A27/psz2": psz2_dir}, tmp_path, faults=[fault] * times, timeout_s=3.0) as vizier:
        out = _catalogue(vizier, "psz2", tmp_path)
    cached = list((tmp_path / "root").rglob("*.ecsv"))
    if times == 1:
        assert out.get("rows") == 1232, out
        assert len(vizier.queries) == 2 and len(cached) == 1
    else:
        assert "psz2 (J/A+A/594/A27/psz2)" in out["error"] and "after 3 tries" in out["error"], out
        why = {"500": "HTTPError", "empty": "no table", "malformed": "TableParseError"}[fault]
        assert why in out["error"], out
        assert len(vizier.queries) == 3 and not cached


def test_a_catalogue_of_several_tables_gives_its_cluster_table(tmp_path):
    """J/ApJ/742/125 holds two tables with positions, xgal.dat (member galaxies) and xgroups.dat (the groups):
    the reader takes the groups even when VizieR sends the galaxies first. (The file names are the catalogue's;
    the column labels here are the ones the reader looks for, not checked against its ReadMe.)"""
    from astropy.table import Table

    galaxies = Table(dict(ID=[1, 2, 3], RAdeg=[150.1, 150.2, 150.3], DEdeg=[2.1, 2.2, 2.3], zph=[0.3, 0.3, 0.5]))
    groups = Table(dict(ID=[11, 12], RAdeg=[150.15, 150.3], DEdeg=[2.15, 2.3], z=[0.3, 0.5], M200=[3.0, 1.5]))
    with VizierStandIn({"J/ApJ/742/125": {"xgal": galaxies, "xgroups": groups}}, tmp_path) as vizier:
        out = _catalogue(vizier, "cosmos_g11", tmp_path)
    assert out == dict(rows=2, names=["11", "12"], ra=[150.15, 150.3]), out


def test_the_search_command_fetches_a_catalogue_and_its_images_through_the_stand_ins(psz2_dir, gleam_dir, tmp_path):
    """``python -m halo_utils.search --catalogue psz2 --download-only``, unchanged, against both stand-ins: the
    catalogue from VizieR, four images for each cluster south of Dec +30 from SkyView; run again, it asks nothing."""
    from halo_utils.studies.network import catalogue, run_search, served

    table = catalogue(psz2_dir)
    table = table[[*range(5), int(np.argmax(np.asarray(table["DEdeg"], float) > 30))]]  # five south, one north
    south = 5
    with served(table, gleam_dir, tmp_path / "servers") as (vizier, skyview, env):
        first = run_search(tmp_path / "search", env, detector="unused", download_only=True, rate=0)
        asked = (len(vizier.queries), len(skyview.requests))
        again = run_search(tmp_path / "search", env, detector="unused", download_only=True, rate=0)
        assert (len(vizier.queries), len(skyview.requests)) == asked
    assert first["exit_code"] == again["exit_code"] == 0, (tmp_path / "search" / "log.txt").read_text()[-2000:]
    assert asked[0] == 1 and first["clusters_cached"] == south and first["fits_files"] == 4 * south
    assert first["leftover_partial_files"] == 0
