"""The package as pip builds it for a non-editable install (pip install ., Colab): every module is in the wheel."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_every_module(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("halo_utils-*.whl"))
    inside = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".py")}
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "halo_utils").rglob("*.py")}
    assert modules - inside == set()


def test_a_non_editable_install_imports_every_module(tmp_path):
    """The wheel installed into a fresh folder (not this checkout) imports every module, models included."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next(tmp_path.glob("halo_utils-*.whl"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    script = (
        "import importlib, pkgutil, sys\n"
        f"sys.path.insert(0, {str(target)!r})\n"
        "import halo_utils\n"
        f"assert halo_utils.__file__.startswith({str(target)!r}), halo_utils.__file__\n"
        "names = [m.name for m in pkgutil.walk_packages(halo_utils.__path__, 'halo_utils.')]\n"
        "for name in names: importlib.import_module(name)\n"
        "import halo_utils.models.classifiers, halo_utils.models.unet\n"
        "print(len(names))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) == len(list((ROOT / "halo_utils").rglob("*.py"))) - 1  # all but __init__
