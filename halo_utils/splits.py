"""Splits by source, always before augmentation.

``published_split`` is the paper's 80/20 split; ``kfold_by_source`` and
``carve_validation`` are stratified by label and seeded.
"""

from __future__ import annotations

import numpy as np

__all__ = ["published_split", "carve_validation", "kfold_by_source", "source_counts"]


def published_split(sources) -> dict:
    """source name -> 'train' / 'test' as published."""
    return {s.name: s.split for s in sources}


def _stratified_order(names, labels, rng):
    by_label = {}
    for name, label in sorted(zip(names, labels)):
        by_label.setdefault(label, []).append(name)
    return {label: list(rng.permutation(group)) for label, group in sorted(by_label.items())}


def carve_validation(split: dict, labels: dict, fraction: float = 0.2, seed: int = 0) -> dict:
    """Move ``fraction`` of the training sources of each class to 'val' (at least one per class).

    Parameters
    ----------
    split : source name -> 'train' / 'test'
    labels : source name -> 0 / 1
    """
    rng = np.random.default_rng(seed)
    train = [n for n, s in split.items() if s == "train"]
    out = dict(split)
    for group in _stratified_order(train, [labels[n] for n in train], rng).values():
        n_val = max(1, int(round(fraction * len(group))))
        if n_val >= len(group):
            raise ValueError(f"cannot carve {n_val} validation sources from a class with {len(group)} training sources")
        for name in group[:n_val]:
            out[name] = "val"
    return out


def kfold_by_source(labels: dict, k: int = 5, seed: int = 0) -> list:
    """k stratified folds by source: a list of k dicts source name -> 'train' / 'test'."""
    rng = np.random.default_rng(seed)
    names = list(labels)
    fold_of = {}
    for group in _stratified_order(names, [labels[n] for n in names], rng).values():
        for i, name in enumerate(group):
            fold_of[name] = i % k
    return [{n: ("test" if fold_of[n] == f else "train") for n in names} for f in range(k)]



def source_counts(split: dict, labels: dict) -> dict:
    """Number of sources per split and class: split -> {'1': n_halo, '0': n_non_halo}."""
    out = {}
    for name, part in split.items():
        counts = out.setdefault(part, {"1": 0, "0": 0})
        counts[str(labels[name])] += 1
    return out
