"""Where things live: project root, data folders, results and figures; atomic writes.

Nothing here creates folders at import time.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

__all__ = [
    "project_root", "docs_results", "data_dir", "results_dir", "figures_dir", "gleam_dir", "frdeep_dir",
    "atomic_write", "atomic_folder", "only_once", "write_json", "write_summary", "MissingDataError",
]


class MissingDataError(FileNotFoundError):
    """A required input folder is not there; the message says how to provide it."""


def project_root() -> Path:
    """The repository root: ``$HALO_ROOT``, else the first parent of the cwd holding ``halo_utils/``."""
    if os.environ.get("HALO_ROOT"):
        return Path(os.environ["HALO_ROOT"]).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "halo_utils").is_dir() and (folder / "notebooks").is_dir():
            return folder
    return here


def docs_results(name: str = "") -> Path:
    """``docs/results/<name>``: the committed tables, each written with the command that made it."""
    return project_root() / "docs" / "results" / name


def data_dir() -> Path:
    return project_root() / "data"


def results_dir(stage: str) -> Path:
    """``data/results/<stage>/``, e.g. stage = notebook stem ``00_data``."""
    return data_dir() / "results" / stage


def figures_dir() -> Path:
    return project_root() / "figures"


def _resolve_dir(value, env: str, what: str, hint: str) -> Path:
    path = value or os.environ.get(env)
    if not path:
        raise MissingDataError(f"No {what} folder given: pass it as a parameter or set ${env}. {hint}")
    path = Path(path).expanduser()
    if not path.is_absolute():
        path = (Path.cwd() / path) if path.exists() else (project_root() / path)
    if not path.is_dir():
        raise MissingDataError(f"{what} folder {str(path)!r} (from {'parameter' if value else '$' + env}) does not exist. {hint}")
    return path.resolve()


DOWNLOADED_GLEAM = "data/gleam"
"""Where ``python -m halo_utils.data.download`` puts the GLEAM images by default: used when nothing else is given."""


def gleam_dir(value: str | os.PathLike | None = None) -> Path:
    """Folder of the GLEAM halo dataset in the published layout: the parameter, else ``$HALO_GLEAM_DIR``, else
    the downloaded copy in ``data/gleam`` if there is one."""
    downloaded = project_root() / DOWNLOADED_GLEAM
    if not value and not os.environ.get("HALO_GLEAM_DIR") and downloaded.is_dir():
        value = downloaded
    return _resolve_dir(
        value, "HALO_GLEAM_DIR", "GLEAM halo dataset",
        "Three ways: -p gleam_dir /path/to/gleam-halos (the published TRAIN_DATA_1 ... TEST_DATA_0 folders) or "
        "HALO_GLEAM_DIR=/path/to/gleam-halos; download them into data/gleam with "
        "`python -m halo_utils.data.download --out data/gleam` (needs network); or use the mock sky: -p source mock.",
    )


def frdeep_dir(value: str | os.PathLike | None = None) -> Path:
    """Folder of the FRDEEP-F batches (parameter, else ``$HALO_FRDEEP_DIR``)."""
    return _resolve_dir(value, "HALO_FRDEEP_DIR", "FRDEEP-F", "It holds data_batch_* and test_batch.")


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Write a file atomically: ``write(tmp_path)`` fills a temporary file that is then renamed.

    A crash or error leaves either the old file or none, never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def atomic_folder(folder: str | os.PathLike):
    """Fill a folder atomically: ``with atomic_folder(path) as tmp:`` writes into ``tmp`` (beside ``path``), which
    replaces ``path`` when the block ends without error; on an error or a kill ``path`` is left as it was."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        yield tmp
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def only_once(path: str | os.PathLike, wait_s: float = 3600, poll_s: float = 2.0):
    """Let one process make ``path`` while the others wait for it (runs of a sweep with ``--jobs 2``).

    ``with only_once(path) as mine:`` gives ``mine`` True when this process must make ``path``
    (it holds ``<path>.lock``, which names its process, until the block ends), False when ``path``
    exists, already or once the process holding the lock has made it. A lock is stale when the
    process it names no longer runs (a killed run: taken over at once) or it is older than
    ``wait_s``; after waiting ``wait_s`` in vain this process makes ``path`` itself.
    """
    import time

    path, held = Path(path), False
    lock = path.with_suffix(".lock")
    end = time.monotonic() + wait_s
    while not path.exists() and not (held := _take_lock(lock, wait_s)) and time.monotonic() < end:
        time.sleep(poll_s)
    if path.exists():
        if held:
            lock.unlink(missing_ok=True)
        yield False
        return
    try:
        yield True
    finally:
        lock.unlink(missing_ok=True)


def _take_lock(lock: Path, stale_s: float) -> bool:
    """Create ``lock`` (holding this process's id) if no live one exists; True if this process holds it now."""
    import time

    lock.parent.mkdir(parents=True, exist_ok=True)
    if lock.exists() and (time.time() - lock.stat().st_mtime > stale_s or not _holder_runs(lock)):
        lock.unlink(missing_ok=True)  # left by a killed run
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    return True


def _holder_runs(lock: Path) -> bool:
    """False when ``lock`` names a process that no longer runs on this machine (True if unreadable or unsure)."""
    try:
        os.kill(int(lock.read_text()), 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError):
        return True
    return True


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def write_json(path: str | os.PathLike, payload: dict) -> Path:
    """Write ``payload`` as indented JSON atomically (NumPy values converted, NaN -> null)."""
    text = json.dumps(_jsonable(payload), indent=2, sort_keys=True)
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text + "\n"))


def write_summary(stage: str, run: str, payload: dict) -> Path:
    """Write a notebook's summary to ``data/results/<stage>/<run>.json`` and return the path."""
    return write_json(results_dir(stage) / f"{run}.json", payload)
