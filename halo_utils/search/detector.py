"""Where a saved detector lives, and training one when it is missing (the same code as notebook 05).

Notebook ``05_classifier`` with ``protocol="kfold"`` saves its fold models as a detector in
``data/models/05_classifier/<run>/detector``; :func:`ensure_detector` loads it, or trains it first.
"""

from __future__ import annotations

import time
from pathlib import Path

from .. import paths
from ..config import run_name
from ..constants import BAND_KEYS
from ..detect import artefact, runs
from ..detect.classify import run_tag

__all__ = ["detector_dir", "train_detector", "ensure_detector", "injected_dir", "ensure_injected", "ByBands"]


def detector_dir(profile: str, seed: int, source: str = "gleam", model: str = "I") -> Path:
    """The detector folder of the ``kfold`` run of ``05_classifier`` with these parameters."""
    return paths.data_dir() / "models" / "05_classifier" / run_name(profile, seed, source, run_tag(model, "kfold")) \
        / "detector"


def train_detector(profile: str, seed: int, source: str = "gleam", model: str = "I", gleam_dir=None) -> Path:
    """Train the ``kfold`` run of ``05_classifier`` with these parameters (:mod:`halo_utils.detect.runs`, as the
    notebook does: same folds, same folder, a finished fold reused) and return its saved detector."""
    run = runs.setup(seed, profile, source, model, "kfold", gleam_dir=gleam_dir)
    return runs.cross_validate(run)["detector"]


def ensure_detector(profile: str, seed: int, source: str = "gleam", model: str = "I", gleam_dir=None):
    """The saved detector of these parameters, trained first when there is none."""
    folder = detector_dir(profile, seed, source, model)
    if not (folder / artefact.DETECTOR).exists():
        print(f"no detector in {folder}: training it (05_classifier, protocol kfold, {model}, {source}, {profile})")
        train_detector(profile, seed, source, model, gleam_dir)
    return artefact.load(folder)


def _overrides(bands) -> dict:
    """The TrainConfig override of a set of band keys (none for all four)."""
    index = [BAND_KEYS.index(b) for b in bands]
    return {} if index == list(range(len(BAND_KEYS))) else {"bands": index}


def injected_dir(profile: str, seed: int, bands=BAND_KEYS, model: str = "I") -> Path:
    """The detector folder of the ``train_on='injected'`` run of ``05_classifier`` on ``bands`` (band keys), as
    ``-p training_overrides '{"bands": [1, 2, 3]}'`` names it."""
    tag = run_tag(model, "kfold", "injected", overrides=_overrides(bands))
    return paths.data_dir() / "models" / "05_classifier" / run_name(profile, seed, "gleam", tag) / "detector"


def ensure_injected(profile: str, seed: int, bands=BAND_KEYS, model: str = "I", gleam_dir=None):
    """The injection-trained detector for exactly ``bands`` (band keys), trained first (on the published fields,
    ``$HALO_GLEAM_DIR``) when there is none; the training says what it does and how long it took."""
    folder = injected_dir(profile, seed, bands, model)
    if not (folder / artefact.DETECTOR).exists():
        print(f"no detector for bands {', '.join(bands)} MHz in {folder}: training one on halos injected into the "
              f"published fields (model {model}, profile {profile}; 20-40 min in cpu, seconds in smoke)", flush=True)
        start = time.perf_counter()
        runs.real_sky(runs.setup(seed, profile, "gleam", model, "kfold", "injected", gleam_dir=gleam_dir,
                                 training_overrides=_overrides(bands)))
        print(f"detector for bands {', '.join(bands)} MHz trained in {(time.perf_counter() - start) / 60:.1f} min",
              flush=True)
    return artefact.load(folder)


class ByBands:
    """``by_bands(bands) -> Detector``: for each set of bands a field has, the injection-trained detector of exactly
    those bands (:func:`ensure_injected`), made once; ``made`` holds them (bands -> Detector)."""

    def __init__(self, profile: str, seed: int = 0, model: str = "I", gleam_dir=None):
        self.profile, self.seed, self.model, self.gleam_dir, self.made = profile, seed, model, gleam_dir, {}

    def __call__(self, bands) -> "artefact.Detector":
        bands = tuple(bands)
        if not bands:
            raise ValueError("a field with none of the GLEAM bands (72-103 ... 170-231 MHz) cannot be scored")
        if bands not in self.made:
            self.made[bands] = ensure_injected(self.profile, self.seed, bands, self.model, self.gleam_dir)
        return self.made[bands]
