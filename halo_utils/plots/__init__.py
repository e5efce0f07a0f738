"""Figures shared by the notebooks, one module per pipeline stage; every function is importable from here
(``plots.show_training``). Each draws on a new or given figure and returns it; ``save`` writes it to ``figures/``."""

from .core import save
from .data import *  # noqa: F403
from .data import __all__ as _data
from .detect import *  # noqa: F403
from .detect import __all__ as _detect
from .generate import *  # noqa: F403
from .generate import __all__ as _generate

__all__ = ["save", *_data, *_detect, *_generate]
