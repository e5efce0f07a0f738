"""Where a saved detector lives, and training one when it is missing (the same code as notebook 05).

Notebook ``05_classifier`` with ``protocol="kfold"`` saves its fold models as a detector in
``data/models/05_classifier/<run>/detector``; :func:`ensure_detector` loads it, or trains it first.
"""

from __future__ import annotations

from pathlib import Path

from .. import paths
from ..config import data_config, run_name
from ..data.images import read_dataset
from ..detect import artefact, crossval
from ..detect.classify import deterministic, run_tag, train_config
from ..prep.dataset import dataset_root

__all__ = ["detector_dir", "train_detector", "ensure_detector"]


def detector_dir(profile: str, seed: int, source: str = "gleam", model: str = "I") -> Path:
    """The detector folder of the ``kfold`` run of ``05_classifier`` with these parameters."""
    return paths.data_dir() / "models" / "05_classifier" / run_name(profile, seed, source, run_tag(model, "kfold")) \
        / "detector"


def train_detector(profile: str, seed: int, source: str = "gleam", model: str = "I", gleam_dir=None) -> Path:
    """Train the fold models of the ``kfold`` run of ``05_classifier`` (same folds, same folder: a finished fold of
    either is reused by the other; the baseline and permutations are left to 05) and save them as a detector."""
    folder = detector_dir(profile, seed, source, model)
    settings, training = data_config(profile), train_config(profile)
    deterministic(seed)
    sources = read_dataset(dataset_root(source, gleam_dir, seed))
    plan = crossval.kfold_plan(sources, settings, training.folds, training.repeats, seed, training.val_fraction)
    scores, _ = crossval.fit_kfold(sources, model, settings, training, plan, seed, folder.parent)
    return artefact.save(folder, folder.parent, model, settings, training, scores, seed, {s.name: s.label for s in sources},
                         artefact.sources_fingerprint(sources), source=source)


def ensure_detector(profile: str, seed: int, source: str = "gleam", model: str = "I", gleam_dir=None):
    """The saved detector of these parameters, trained first when there is none."""
    folder = detector_dir(profile, seed, source, model)
    if not (folder / artefact.DETECTOR).exists():
        print(f"no detector in {folder}: training it (05_classifier, protocol kfold, {model}, {source}, {profile})")
        train_detector(profile, seed, source, model, gleam_dir)
    return artefact.load(folder)
