"""Data access: the published GLEAM halo images, SkyView downloads, catalogues, FRDEEP-F, the common sky grid.

Knows nothing of the mock sky, the pre-processing or the classifiers. The reader of the
published images (:mod:`.images`) is re-exported here, so ``data.read_dataset`` works.
"""

from .images import *  # noqa: F401,F403
from .images import __all__  # noqa: F401
