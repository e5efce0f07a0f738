"""The mock GLEAM sky: clusters with halos, radio galaxies and rings, rendered with GLEAM-like beams and noise."""
