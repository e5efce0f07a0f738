"""Every notebook runs end to end in the smoke profile once per test run, with checks on what it wrote; 00-06 on the
published images when they are beside the repository (the notebooks' default), else on the mock sky. The notebooks
are spread over files that can run side by side (``make test``'s workers): 00 and 01 here, the generators (02-04)
in ``test_notebooks_generators.py``, the classifier and the search (05, 06) in ``test_notebooks_search.py``, 07 in
``test_notebooks_vae.py``; the classifier's other settings in ``test_classifier_notebook*.py``."""

import pytest

from conftest import NOTEBOOKS, run_and_check

papermill = pytest.importorskip("papermill")


def test_00_data(workspace):
    assert run_and_check("00_data", workspace)["n_sources"] == 46


def test_01_noise(workspace):
    for case in run_and_check("01_noise", workspace)["recovery"].values():
        assert case["median_abs"] <= 0.05 and case["worst"] <= 0.15


def test_every_notebook_runs_in_one_of_the_test_files():
    """A new notebook is not left out of ``make test``."""
    tested = {"00_data", "01_noise", "02_wgan", "03_ddpm", "04_metrics", "05_classifier", "06_catalogue_search", "07_vae"}
    assert {p.stem for p in NOTEBOOKS.glob("0*.ipynb")} == tested


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("0*.ipynb")), ids=lambda p: p.stem)
def test_parameters_cell_parses_cleanly(path, caplog):
    """papermill reads every parameter with its type and help (an '=' in a comment breaks its parser, which then
    warns 'Unable to parse line …' on every run)."""
    with caplog.at_level("WARNING", logger="papermill"):
        params = papermill.inspect_notebook(str(path))
    assert not [r.getMessage() for r in caplog.records if "Unable to parse" in r.getMessage()]
    assert params and all(p["help"] for p in params.values()), [k for k, p in params.items() if not p["help"]]
