"""halo_utils: find diffuse radio emission (radio halos) in MWA/GLEAM images.

One module per pipeline stage; notebooks import them and hold only parameters,
narrative and plots. Importing the package has no side effects.
"""

__version__ = "0.1.0"

BANDS_MHZ = ((72, 103), (103, 134), (139, 170), (170, 231))
"""The four GLEAM sub-bands used throughout, (low, high) edges in MHz, ordered by frequency."""

__all__ = ["BANDS_MHZ", "__version__"]
