"""Detectors: the classifiers I, A and D, their protocols, cross-validation, the baseline, maps and sweeps."""
