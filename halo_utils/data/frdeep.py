"""Radio-galaxy image sets in the CIFAR-10 batch convention: FRDEEP-F (notebook 07_vae).

FRDEEP-F (Tang, Scaife & Leahy 2019) holds 600 FIRST images of FRI and FRII radio galaxies
as Python pickles: ``data_batch_1`` ... (train), ``test_batch`` and ``batches.meta``. A
pickle can run code when it is loaded, so :func:`load_batch` uses an unpickler that only
rebuilds plain containers, strings, numbers and NumPy arrays and refuses everything else.

Pre-processing as Bastien et al. (2021): images scaled to [0, 1], rotated (training
augmentation, 1 degree steps in the paper) and cut to the central 100x100 px, i.e. the
25 px edge strip of the 150x150 images removed. Rotating before the cut leaves no empty
corners (100 √2 < 150).
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import re
from pathlib import Path

import numpy as np

from .. import paths

__all__ = ["UnsafePickleError", "load_batch", "read_frdeep", "frdeep_dir", "dataset_tag"]

_NUMPY = {"_reconstruct", "scalar"}  # how NumPy pickles an array and a scalar
_ALLOWED = {(m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in _NUMPY}
_ALLOWED |= {("numpy", "ndarray"), ("numpy", "dtype")}


class UnsafePickleError(pickle.UnpicklingError):
    """A batch file asked for something other than containers, strings, numbers and arrays."""


class _Restricted(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise UnsafePickleError(f"refusing {module}.{name}: only containers, strings, numbers and NumPy "
                                    f"arrays may be loaded from a batch file")
        if name in _NUMPY:
            from numpy._core import multiarray

            return getattr(multiarray, name)
        return getattr(np, name)


def load_batch(path) -> dict:
    """One batch file as a dict, loaded without running code (:class:`UnsafePickleError` otherwise)."""
    path = Path(path)
    try:
        out = _Restricted(io.BytesIO(path.read_bytes()), encoding="latin1").load()
    except UnsafePickleError as err:
        raise UnsafePickleError(f"{path}: {err}") from None
    except Exception as err:
        raise ValueError(f"{path}: not a readable batch file ({err.__class__.__name__}: {err})") from err
    if not isinstance(out, dict):
        raise ValueError(f"{path}: a batch file holds a dict, not a {type(out).__name__}")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in out.items()}


def frdeep_dir(root=None) -> Path:
    """The FRDEEP-F folder: ``root``, else ``$HALO_FRDEEP_DIR`` (:func:`halo_utils.paths.frdeep_dir`), checked to hold
    the batches; a clear error otherwise."""
    root = paths.frdeep_dir(root)
    if not (root / "batches.meta").exists():
        raise FileNotFoundError(f"{root} has no batches.meta: not an FRDEEP-F folder (data_batch_*, test_batch, "
                                f"batches.meta)")
    return root


def _images(batch: dict, size: int, path: Path) -> np.ndarray:
    data = np.asarray(batch["data"])
    if data.dtype == object:
        raise ValueError(f"{path}: 'data' holds Python objects, not pixel values")
    if data.ndim == 2 and data.shape[1] == size * size:
        data = data.reshape(-1, size, size)
    if data.ndim != 3 or data.shape[1:] != (size, size):
        raise ValueError(f"{path}: 'data' has shape {data.shape}; batches.meta says {size}x{size} images")
    return data


def _read_part(paths, size: int, n_classes: int):
    images, labels = [], []
    for path in paths:
        batch = load_batch(path)
        for key in ("data", "labels"):
            if key not in batch:
                raise ValueError(f"{path}: no '{key}' entry")
        images.append(_images(batch, size, path))
        labels.append(np.asarray(batch["labels"], np.int64))
        if len(labels[-1]) != len(images[-1]):
            raise ValueError(f"{path}: {len(images[-1])} images but {len(labels[-1])} labels")
        if len(labels[-1]) and not (0 <= labels[-1].min() and labels[-1].max() < n_classes):
            raise ValueError(f"{path}: labels {sorted(set(labels[-1].tolist()))} outside the {n_classes} classes of batches.meta")
    images = np.concatenate(images)
    scale = 255.0 if images.dtype == np.uint8 else max(float(images.max()), 1e-12)
    return (images / scale).astype(np.float32), np.concatenate(labels)


def dataset_tag(root) -> str:
    """A short name for a CIFAR-style folder that differs between datasets: ``<folder>-<6 hex>``, the hex a
    SHA-1 of ``batches.meta`` and the batch files' names and sizes (run names carry it, so two sets never collide)."""
    root = Path(root)
    digest = hashlib.sha1((root / "batches.meta").read_bytes())
    for path in sorted(root.glob("*_batch*")):
        digest.update(f"{path.name}:{path.stat().st_size}".encode())
    slug = re.sub(r"[^a-z0-9]+", "-", root.name.lower()).strip("-") or "dataset"
    return f"{slug}-{digest.hexdigest()[:6]}"


def _class_map(names: list, classes, path: Path) -> dict:
    """Old label -> new label (0 = FRI, 1 = FRII) from ``classes`` (name -> 0/1) or, without it, the names themselves."""
    if classes is None:
        if [n.strip().upper() for n in names] != ["FRI", "FRII"]:
            raise ValueError(f"{path}: the classes are {names}, not ['FRI', 'FRII']; map them with classes=, e.g. "
                             f"{{{names[0]!r}: 0, {names[-1]!r}: 1}} (images of unmapped classes are left out)")
        return {0: 0, 1: 1}
    if isinstance(classes, str):
        classes = json.loads(classes)
    unknown = [c for c in classes if c not in names]
    if unknown or set(classes.values()) != {0, 1}:
        raise ValueError(f"{path}: classes= must map some of {names} to 0 (FRI) and 1 (FRII); got {classes}")
    return {names.index(name): int(new) for name, new in classes.items()}


def _relabel(images, labels, mapping: dict):
    keep = np.isin(labels, list(mapping))
    return images[keep], np.array([mapping[int(v)] for v in labels[keep]], np.int64)


def read_frdeep(root=None, classes=None) -> dict:
    """Train and test images of a CIFAR-style radio-galaxy set (FRDEEP-F, or e.g. MiraBest with ``classes``).

    Parameters
    ----------
    root : the folder (data_batch_1 ..., test_batch, batches.meta); None -> ``$HALO_FRDEEP_DIR``
    classes : None for a set whose ``label_names`` are FRI and FRII; else a dict (or its JSON)
        label name -> 0 (FRI) or 1 (FRII); images of other classes (uncertain, hybrid, ...) are left out

    Returns
    -------
    dict with ``train`` and ``test`` images (n, S, S) float32 in [0, 1] (uint8 / 255),
    ``train_labels`` / ``test_labels`` (n,) int (1 = FRII), ``label_names`` (['FRI', 'FRII']),
    ``source_names`` (the set's own classes) and ``dataset`` (:func:`dataset_tag`)
    """
    root = frdeep_dir(root)
    meta = load_batch(root / "batches.meta")
    size = int(round(np.sqrt(int(meta.get("num_vis", 0)))))
    if size * size != int(meta.get("num_vis", -1)):
        raise ValueError(f"{root / 'batches.meta'}: num_vis = {meta.get('num_vis')} is not a square image size")
    train_paths = sorted(root.glob("data_batch_*"), key=lambda p: int(p.name.rsplit("_", 1)[1]))
    if not train_paths or not (root / "test_batch").exists():
        raise FileNotFoundError(f"{root}: needs data_batch_1 ... and test_batch")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in meta.get("label_names", [])]
    mapping = _class_map(names, classes, root / "batches.meta")
    train, train_labels = _relabel(*_read_part(train_paths, size, len(names)), mapping)
    test, test_labels = _relabel(*_read_part([root / "test_batch"], size, len(names)), mapping)
    return dict(train=train, train_labels=train_labels, test=test, test_labels=test_labels,
                label_names=["FRI", "FRII"], source_names=names, dataset=dataset_tag(root))
