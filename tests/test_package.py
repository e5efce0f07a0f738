"""The package as pip builds it for a non-editable install (pip install ., Colab): every module is in the wheel."""

import platform
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel pip builds from this checkout, once for the file's tests (a build costs a fresh build environment)."""
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder), str(ROOT)], check=True,
                   capture_output=True)
    return next(folder.glob("halo_utils-*.whl"))


def test_the_wheel_holds_every_module(wheel):
    inside = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".py")}
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "halo_utils").rglob("*.py")}
    assert modules - inside == set()


def test_a_non_editable_install_imports_every_module(wheel, tmp_path):
    """The wheel installed into a fresh folder (not this checkout) imports every module, models included."""
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


def _resolved(wheel: Path, extras, tmp_path) -> list:
    """Distribution names an install of ``wheel`` with each of ``extras`` ('', '[cpu]', ...) brings into an empty
    environment: uv's resolution (``uv pip compile``, the resolver ``make install`` uses; 1.5 s each) when uv is
    installed, else pip's dry runs (the three side by side, 30-40 s here). Neither downloads the packages."""
    import importlib.util
    import json

    if importlib.util.find_spec("uv"):
        names = []
        for extra in extras:
            done = subprocess.run([sys.executable, "-m", "uv", "pip", "compile", "--quiet", "--no-header", "-"],
                                  input=f"halo_utils{extra} @ {wheel.as_uri()}", cwd=tmp_path, capture_output=True,
                                  text=True)
            if done.returncode:
                pytest.skip(f"uv could not resolve {wheel.name}{extra} (no package registry?): "
                            f"{done.stderr.strip()[-300:]}")
            names.append({line.split("==")[0].strip().lower().replace("_", "-") for line in done.stdout.splitlines()
                          if "==" in line and not line.lstrip().startswith("#")})
        return names
    specs = [f"{wheel}{extra}" for extra in extras]
    reports = [tmp_path / f"report{i}.json" for i in range(len(specs))]
    runs = [subprocess.Popen([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
                              "--report", str(report), spec], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for spec, report in zip(specs, reports)]
    for spec, run in zip(specs, runs):
        _, stderr = run.communicate()
        if run.returncode:
            pytest.skip(f"pip could not resolve {spec} (no package registry?): {stderr.strip()[-300:]}")
    return [{i["metadata"]["name"].lower().replace("_", "-") for i in json.loads(r.read_text())["install"]}
            for r in reports]


@pytest.mark.skipif(platform.system() != "Linux" or platform.machine() != "x86_64", reason="checks the x86-64 Linux choice")
def test_tensorflow_comes_from_the_extra_that_fits_the_machine(wheel, tmp_path):
    """No extra: no TensorFlow (Colab's own stays); `cpu`: the CPU-only build; `gpu`: the CUDA build (resolved for the
    wheel, as an install of ``.[cpu]`` resolves, without building the package three more times)."""
    bare, cpu, gpu = _resolved(wheel, ("", "[cpu]", "[gpu]"), tmp_path)
    assert "keras" in bare and not {n for n in bare if n.startswith("tensorflow")}
    assert "tensorflow-cpu" in cpu and "tensorflow" not in cpu and not {n for n in cpu if n.startswith("nvidia")}
    assert "tensorflow" in gpu and "tensorflow-cpu" not in gpu and "nvidia-cudnn-cu12" in gpu
