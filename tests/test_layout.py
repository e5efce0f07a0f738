"""The package's layout: stages import only earlier stages, and one vocabulary (one constant, one run name)."""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "halo_utils"
STAGES = ("data", "sky", "prep", "detect", "generate", "judge", "search", "studies")
"""The pipeline's order: a module may import from its own stage, an earlier one, or the shared modules."""
SHARED = ("constants", "config", "paths", "plots", "models", "cli")
TOOLS = ("bench", "profiles", "parameters")  # tools that may import anything (command lines, the notebooks' checks)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, text: str | None = None) -> set:
    """Modules of halo_utils (dotted, below the package) that ``path`` (or ``text`` as if at ``path``) imports anywhere."""
    own = module_name(path).split(".") if path.name == "__init__.py" else module_name(path).split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text() if text is None else text)):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = own[:len(own) - node.level + 1]
            if node.module:
                found.add(".".join(base + [node.module]))
            else:
                found.update(".".join(base + [a.name]) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("halo_utils."):
            found.add(node.module.removeprefix("halo_utils."))
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("halo_utils.") for a in node.names if a.name.startswith("halo_utils."))
    return found


def rank(module: str) -> int:
    """-1 for the shared modules, the stage's index otherwise."""
    head = module.split(".")[0]
    if head in SHARED or head in ("", "__version__"):  # the package itself and its version
        return -1
    if head in STAGES:
        return STAGES.index(head)
    raise AssertionError(f"halo_utils.{module} belongs to no stage; add it to {STAGES} or {SHARED}")


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if module_name(p).split(".")[0] not in TOOLS)


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) or "__init__" for p in MODULES])
def test_imports_point_to_earlier_stages(path):
    me = module_name(path)  # "" for the package's own __init__: shared, so it may import shared modules only
    later = [m for m in imports(path) if rank(m) > rank(me)]
    assert not later, f"halo_utils.{me} imports {later}, of a later stage than its own"


def test_the_rule_catches_a_backward_import():
    """The check above can fail: a data module importing the simulator (even inside a function) is reported."""
    path = PACKAGE / "data" / "catalogue.py"
    text = path.read_text() + "\n\ndef late():\n    from ..sky.mock import write_sky\n"
    assert "sky.mock" not in imports(path) and "sky.mock" in imports(path, text)
    assert rank("sky.mock") > rank("data.catalogue")


def test_data_access_knows_nothing_of_the_simulator_or_the_classifiers():
    for path in (PACKAGE / "data").glob("*.py"):
        assert not [m for m in imports(path) if m.split(".")[0] in ("sky", "detect", "models")], path


def test_generators_do_not_import_the_classifiers():
    for path in (PACKAGE / "generate").glob("*.py"):
        assert not [m for m in imports(path) if m.startswith(("detect", "models.classifiers"))], path


def test_one_pixel_size_and_one_run_name():
    text = {p: p.read_text() for p in PACKAGE.rglob("*.py")}
    pixel = [p.name for p, t in text.items() for _ in re.finditer(r"0\.012222", t)]
    assert pixel == ["constants.py"]
    run_names = [p.name for p, t in text.items() for _ in re.finditer(r"^def run_name\(", t, re.M)]
    assert run_names == ["config.py"]
    cosmologies = [p.name for p, t in text.items() if "FlatLambdaCDM(" in t]
    assert cosmologies == ["constants.py"]


def test_the_profile_table_is_the_code_s():
    from halo_utils import profiles

    page = (PACKAGE.parent / profiles.PAGE).read_text()
    assert profiles.markdown() in page, f"{profiles.PAGE}'s profile table is stale: run python -m halo_utils.profiles --write"
