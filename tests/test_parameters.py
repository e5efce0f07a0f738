"""Every notebook checks its parameters first: an unknown value stops it, naming the allowed ones."""

import ast
import json
from pathlib import Path

import pytest

from halo_utils import parameters

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _cells(path: Path) -> tuple:
    """(parameters cell source, the next code cell's source)."""
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    first = next(i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", []))
    return "".join(cells[first]["source"]), "".join(cells[first + 1]["source"])


def _defaults(source: str) -> dict:
    space = {}
    exec(source, space)  # the parameters cell is plain assignments
    return {k: v for k, v in space.items() if not k.startswith("__")}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_notebook_checks_every_choice_first(path):
    params, after = _cells(path)
    calls = [n for n in ast.parse(after).body if not isinstance(n, (ast.Import, ast.ImportFrom))]
    first = calls[0].value
    assert ast.unparse(first.func) == "parameters.check", f"{path.name}: the first statement after the imports is " \
                                                         f"{ast.unparse(calls[0])[:60]!r}, not parameters.check"
    assert first.args[0].value == path.stem
    checked = {k.arg for k in first.keywords}
    choices = {name for name in _defaults(params) if name in parameters.CHOICES} | {"seed"}
    assert choices <= checked, f"{path.name} does not check {sorted(choices - checked)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_defaults_pass_and_a_misspelt_value_is_refused(path):
    params, after = _cells(path)
    call = next(n for n in ast.parse(after).body if not isinstance(n, (ast.Import, ast.ImportFrom))).value
    values = {k.arg: _defaults(params)[k.arg] for k in call.keywords}
    parameters.check(path.stem, **values)
    name = next(k for k in values if k not in ("seed", "profile", "devices", "threshold"))
    with pytest.raises(ValueError, match=rf"{path.stem}: {name}='x{values[name]}' is not one of .*"):
        parameters.check(path.stem, **dict(values, **{name: f"x{values[name]}"}))


def test_seed_and_threshold():
    with pytest.raises(ValueError, match="seed must be a whole number"):
        parameters.check("05_classifier", seed=-1)
    with pytest.raises(ValueError, match="seed must be a whole number"):
        parameters.check("05_classifier", seed="3")
    parameters.check("06_catalogue_search", threshold=0.9)
    with pytest.raises(ValueError, match=r"threshold=1.5 is not one of 'cv', 'paper', a number in \[0, 1\]"):
        parameters.check("06_catalogue_search", threshold=1.5)
    with pytest.raises(KeyError, match="no allowed values"):
        parameters.check("05_classifier", colour="red")
