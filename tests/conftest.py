"""Shared fixtures: the real dataset (skipped with a reason when absent) and synthetic FITS files."""

import os
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from halo_utils.constants import FWHM_TO_SIGMA
from halo_utils.sky import instrument

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

def _real_gleam_dir():
    path = os.environ.get("HALO_GLEAM_DIR") or SHARED / "gleam-halos"
    return Path(path) if Path(path, "TRAIN_DATA_1").is_dir() else None

def _real_frdeep_dir():
    path = os.environ.get("HALO_FRDEEP_DIR") or SHARED / "frdeep-first"
    return Path(path) if Path(path, "batches.meta").is_file() else None

def pytest_configure(config):
    """Datasets found beside the repository are handed to the notebooks (their kernels inherit the environment)."""
    for key, found in (("HALO_GLEAM_DIR", _real_gleam_dir()), ("HALO_FRDEEP_DIR", _real_frdeep_dir())):
        if found is not None:
            os.environ.setdefault(key, str(found))

SLOW_FIRST = ["test_realsky_runs", "test_notebooks_generators", "test_workflow", "test_classifier_notebook_mock",
              "test_precision", "test_package", "test_augmentation", "test_classify", "test_notebooks_search",
              "test_mocktrain", "test_search", "test_classifier_notebook", "test_devices", "test_network",
              "test_notebooks_vae", "test_ddpm", "test_population", "test_notebooks", "test_realsky"]
"""The slowest test files (``make test --durations``), slowest first: ``make test`` hands whole files to its workers
in collection order, so the long ones start first and the short ones fill the gaps."""


def pytest_collection_modifyitems(config, items):
    """The slowest files first (:data:`SLOW_FIRST`); notebooks read the real datasets: skip them (with the reason)
    when they are not there."""
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(Path(str(item.fspath)).stem, len(rank)))  # stable: a file's order is kept
    missing = {"07_vae": None if _real_frdeep_dir() else
               "FRDEEP-F not found: set HALO_FRDEEP_DIR (e.g. ../shared/data/frdeep-first)"}
    gleam = None if _real_gleam_dir() else \
        "GLEAM halo dataset not found: set HALO_GLEAM_DIR (e.g. ../shared/data/gleam-halos)"
    for item in items:
        path = Path(str(item.fspath))
        reason = missing.get(path.stem, gleam) if path.suffix == ".ipynb" else None
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))

def _found_or_skip(path, what: str, variable: str, default: str):
    if path is None:
        pytest.skip(f"{what} not found: set {variable} or place it at ../shared/data/{default}")
    return path

@pytest.fixture(scope="session")
def frdeep_dir():
    return _found_or_skip(_real_frdeep_dir(), "FRDEEP-F", "HALO_FRDEEP_DIR", "frdeep-first")

@pytest.fixture(scope="session")
def gleam_dir():
    return _found_or_skip(_real_gleam_dir(), "GLEAM halo dataset", "HALO_GLEAM_DIR", "gleam-halos")

@pytest.fixture(scope="session")
def real_sources(gleam_dir):
    from halo_utils.data import read_dataset

    return read_dataset(gleam_dir)

@pytest.fixture(scope="session")
def psz2_dir():
    path = SHARED / "catalogues" / "psz2"
    if not (path / "psz2.dat").exists():
        pytest.skip("PSZ2 table not found at ../shared/data/catalogues/psz2")
    return path

def gleam_header(ra=10.0, dec=-30.0, shape=(300, 300)):
    """A TAN header like the published images (0.012222 deg pixels)."""
    h = fits.Header()
    h["CTYPE1"], h["CTYPE2"] = "RA---TAN", "DEC--TAN"
    h["CRPIX1"], h["CRPIX2"] = shape[1] / 2 + 0.5, shape[0] / 2 + 0.5
    h["CDELT1"], h["CDELT2"] = -0.012222, 0.012222
    h["CRVAL1"], h["CRVAL2"] = ra, dec
    h["CUNIT1"] = h["CUNIT2"] = "deg"
    return h

def write_fits(path, data, header=None):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(np.asarray(data, np.float32), header=header if header is not None else gleam_header()).writeto(path)
    return path

def noise_image(seed=0, sigma=0.05, shape=(300, 300)):
    return np.random.default_rng(seed).normal(0.0, sigma, shape).astype(np.float32)

@pytest.fixture
def fake_dataset(tmp_path):
    """A tiny dataset in the published layout: 2 sources per folder, all name variants."""
    names = {"TRAIN_DATA_1": ["abell_0001", "abell_s0002"], "TRAIN_DATA_0": ["orc 9", "ngc 1"],
             "TEST_DATA_1": ["abell_0003", "rxc j0000.0-0000"], "TEST_DATA_0": ["abell_0004", "pks 0000-00"]}
    patterns = ["{s}_Gleam{b}_clipped.fits", "{s}Gleam{b}_clipped.fits", "{s}_GLEAM_{b}MHz_clipped.fits"]
    seed = 0
    for folder, sources in names.items():
        for i, src in enumerate(sources):
            for band in ("72-103", "103-134", "139-170", "170-231"):
                seed += 1
                pattern = patterns[(i + seed) % 3] if not src.startswith("abell_s") else patterns[1]
                write_fits(tmp_path / folder / pattern.format(s=src, b=band), noise_image(seed))
    return tmp_path

@pytest.fixture(scope="session")
def mock_sky(tmp_path_factory):
    """The default mock sky (46 fields, clipped like the published images), seed 0."""
    from halo_utils.sky.mock import write_sky

    return write_sky(tmp_path_factory.mktemp("mock") / "sky", seed=0)

@pytest.fixture(scope="session")
def mock_sky_unclipped(tmp_path_factory):
    from halo_utils.sky.mock import SkyConfig, write_sky

    return write_sky(tmp_path_factory.mktemp("mock") / "sky", seed=1, config=SkyConfig(clip_k=None))

def dies_at(step_fn, n: int):
    """``step_fn`` that raises KeyboardInterrupt on its n-th call, as if the process were killed."""
    calls = []

    def step():
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt("killed")
        return step_fn()

    return step

def noisy_field(seed: int, sigma: float, shape=(300, 300), n_sources: int = 40, beam_px: float = 2.0,
                halo_peak: float = 3.0, halo_re_px: float = 15.0) -> np.ndarray:
    """A quick (H, W) test image in Jy/beam: white N(0, sigma) noise + point sources + a central halo.

    Point-source peaks are ``sigma * (5 + 200 * Pareto(1.5))``; the halo is
    ``halo_peak * sigma * exp(-r / halo_re_px)`` (none if ``halo_peak`` is 0).
    """
    rng = np.random.default_rng(seed)
    image = rng.normal(0.0, sigma, shape)
    peaks = sigma * (5 + 200 * rng.pareto(1.5, n_sources))
    fwhm = beam_px / FWHM_TO_SIGMA
    for (y, x), peak in zip(rng.integers(0, shape[0], (n_sources, 2)), peaks):
        instrument.add_point(image, x, y, peak, (fwhm, fwhm, 0.0))
    if halo_peak:
        y, x = np.mgrid[: shape[0], : shape[1]]
        r = np.hypot(x - (shape[1] - 1) / 2, y - (shape[0] - 1) / 2)
        image += halo_peak * sigma * np.exp(-r / halo_re_px)
    return image



NOTEBOOKS = ROOT / "notebooks"


def scratch_root(root: Path) -> Path:
    """Make ``root`` a scratch project root: the committed tables (``data/catalogues``) and a ``runs/`` folder for
    executed notebooks. Runs pointed at it (``HALO_ROOT``) write their data, figures and results there."""
    import shutil

    shutil.copytree(ROOT / "data" / "catalogues", root / "data" / "catalogues", dirs_exist_ok=True)
    (root / "runs").mkdir(exist_ok=True)
    return root


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A :func:`scratch_root` shared by a test file's notebook runs."""
    root = scratch_root(tmp_path_factory.mktemp("root"))
    old = {k: os.environ.get(k) for k in ("HALO_ROOT", "MPLBACKEND")}
    os.environ.update(HALO_ROOT=str(root), MPLBACKEND="Agg")
    yield root
    for key, value in old.items():
        os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)


def execute(stem: str, root: Path, out: str, **parameters) -> Path:
    """Run notebook ``stem`` (e.g. '05_classifier') with papermill into ``root/runs/<out>.ipynb``; a failing cell
    raises ``PapermillExecutionError`` naming it."""
    import papermill

    path = root / "runs" / f"{out}.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS / f"{stem}.ipynb"), str(path), parameters=parameters, cwd=str(NOTEBOOKS),
                               progress_bar=False, log_output=False)
    return path


def result(root: Path, stem: str, name: str) -> dict:
    """The summary JSON ``name`` (without .json) that notebook ``stem`` wrote under ``root``."""
    import json

    return json.loads((root / "data" / "results" / stem / f"{name}.json").read_text())


NOTEBOOK_SOURCE = "gleam" if _real_gleam_dir() else "mock"
"""What the notebooks run on in the tests: the published images when they are beside the repository (the notebooks'
default), else the mock sky."""


def run_and_check(stem: str, workspace: Path):
    """Run notebook ``stem`` once (smoke, seed 0, on :data:`NOTEBOOK_SOURCE`) and check the summary and figures it
    wrote."""
    source = NOTEBOOK_SOURCE
    suffix = f"{'mock_' if source == 'mock' else ''}smoke_seed0"
    execute(stem, workspace, stem, profile="smoke", source=source, seed=0)
    written = sorted((workspace / "data" / "results" / stem).glob(f"*{suffix}.json"))
    if source == "gleam":
        written = [p for p in written if "mock_" not in p.name]
    assert len(written) == 1, written
    summary = result(workspace, stem, written[0].stem)
    assert summary["source"] == source and summary["profile"] == "smoke"
    figures = list((workspace / "figures").glob(f"{stem[:2]}_*.png"))
    assert figures and all(suffix in f.name for f in figures), figures  # names never collide across runs
    return summary
