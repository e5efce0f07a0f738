"""The notebooks' parameters, checked first: a value a notebook does not know stops it at once, naming the allowed ones.

Every notebook calls :func:`check` in the cell after its ``parameters`` cell, before anything else runs, so a
misspelt value never reaches a run name, a JSON or a training (a given ``run_name`` changes nothing):

    parameters.check("05_classifier", profile=profile, source=source, model=model, train_on=train_on, ...)
"""

from __future__ import annotations

import numbers

from .config import PRECISIONS, PROFILES, SOURCES
from .detect.classify import TRAIN_ON
from .generate.extend import AUGMENT_WITH
from .models.classifiers import MODELS
from .prep.splits import PROTOCOLS
from .search.catalogues import CATALOGUES

__all__ = ["CHOICES", "check"]

CHOICES = {"profile": (None, *PROFILES), "source": SOURCES, "on_error": ("raise", "skip"), "model": MODELS,
           "protocol": PROTOCOLS, "train_on": TRAIN_ON, "augment_with": AUGMENT_WITH, "precision": PRECISIONS,
           "devices": (None, "gpus"), "search": ("mock", "catalogue", "folder"), "catalogue": tuple(sorted(CATALOGUES)),
           "threshold": ("cv", "paper", "a number in [0, 1]"), "tstr_model": MODELS}
"""Parameter -> its allowed values, shared by every notebook that has it."""

BY_NOTEBOOK = {"07_vae": {"protocol": ("strict", "paper")}}
"""Where a notebook allows other values of a shared name."""


def check(notebook: str, **values) -> None:
    """Raise a ValueError naming ``notebook``, the parameter and its allowed values for the first value in ``values``
    that is not allowed (``seed`` must be a whole number >= 0; ``threshold`` may also be a number in [0, 1])."""
    seed = values.pop("seed", 0)
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"{notebook}: seed must be a whole number >= 0, not {seed!r}")
    for name, value in values.items():
        allowed = BY_NOTEBOOK.get(notebook, {}).get(name, CHOICES.get(name))
        if allowed is None:
            raise KeyError(f"{notebook}: no allowed values are known for parameter {name!r}")
        if name == "threshold" and _fraction(value):
            continue
        if value not in allowed:
            shown = ", ".join("None" if a is None else repr(a) if isinstance(a, str) and not a.startswith("a ")
                              else str(a) for a in allowed)
            raise ValueError(f"{notebook}: {name}={value!r} is not one of {shown}")


def _fraction(value) -> bool:
    try:
        return 0.0 <= float(value) <= 1.0
    except (TypeError, ValueError):
        return False
