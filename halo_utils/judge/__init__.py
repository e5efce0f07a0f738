"""Judges of generated images: pure metrics (FID, KID, histograms, RAMIS) and the trained morphology judge."""
