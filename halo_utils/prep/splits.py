"""Splits by source, always before augmentation.

``published_split`` is the paper's 80/20 split; ``kfold_by_source`` and
``carve_validation`` are stratified by label and seeded. ``sky_groups`` ties together
sources whose fields overlap on the sky, and ``grouped_kfold`` keeps each group in one
fold, with validation sources carved (by group) inside every training fold.
"""

from __future__ import annotations

import numpy as np

from ..config import child_seed

__all__ = ["PROTOCOLS", "check_protocol", "protocol_split", "published_split", "carve_validation", "kfold_by_source", "sky_groups", "grouped_kfold",
           "source_counts"]

PROTOCOLS = ("kfold", "strict", "paper")
"""Evaluation protocols: repeated k-fold by sky group, the published split, the paper's (validates on test)."""


def check_protocol(protocol: str):
    """Raise a ValueError naming the choices unless ``protocol`` is one of :data:`PROTOCOLS`."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {PROTOCOLS}")


def protocol_split(sources, protocol: str, seed: int, val_fraction: float = 0.2) -> tuple:
    """(source -> 'train'/'val'/'test', empty_cutouts) for a protocol.

    ``strict`` carves validation sources out of the published training sources (stratified,
    seeded); ``paper`` keeps the published split, validates on 'test' and adds empty cut-outs.
    """
    check_protocol(protocol)
    published = published_split(sources)
    if protocol == "paper":
        return published, True
    labels = {s.name: s.label for s in sources}
    return carve_validation(published, labels, val_fraction, seed=seed), False



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


def sky_groups(radec: dict, max_sep_deg: float) -> dict:
    """Connected groups of sources closer than ``max_sep_deg`` on the sky (their fields overlap).

    Parameters
    ----------
    radec : source name -> (RA, Dec) in degrees
    max_sep_deg : two sources closer than this share a group (e.g. the side of the field a model sees)

    Returns
    -------
    source name -> group id (int; the index of the group's first name in sorted order)
    """
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    names = sorted(radec)
    coords = SkyCoord([radec[n][0] for n in names] * u.deg, [radec[n][1] for n in names] * u.deg)
    parent = list(range(len(names)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(names)):
        close = np.flatnonzero(coords[i].separation(coords).deg < max_sep_deg)
        for j in close:
            parent[root(int(j))] = root(i)
    return {n: root(i) for i, n in enumerate(names)}


def _group_folds(names, labels, groups, k, seed) -> list:
    """k lists of source names: stratified by label, never splitting a group (scikit-learn StratifiedGroupKFold)."""
    from sklearn.model_selection import StratifiedGroupKFold

    names = sorted(names)
    if len(set(groups[n] for n in names)) < k:
        raise ValueError(f"{len(set(groups[n] for n in names))} groups of sources cannot fill {k} folds")
    folds = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    y, g = [labels[n] for n in names], [groups[n] for n in names]
    return [[names[i] for i in test] for _, test in folds.split(np.zeros(len(names)), y, g)]


def grouped_kfold(labels: dict, groups: dict, k: int = 5, repeats: int = 1, seed: int = 0,
                  val_fraction: float = 0.2) -> list:
    """Repeated stratified k-fold by source group, with validation groups carved inside each training fold.

    Every source is a test source exactly once per repeat; a group of sources (``sky_groups``)
    is never split between train, validation and test.

    Returns
    -------
    list of dicts with ``repeat``, ``fold`` and ``split`` (source name -> 'train' / 'val' / 'test'),
    ``k * repeats`` of them
    """
    out = []
    for repeat in range(repeats):
        rng_seed = child_seed(seed, repeat)
        for fold, test in enumerate(_group_folds(list(labels), labels, groups, k, rng_seed)):
            rest = [n for n in labels if n not in set(test)]
            n_val_folds = max(2, int(round(1 / val_fraction)))
            val = _group_folds(rest, labels, groups, n_val_folds, rng_seed + fold + 1)[0]
            split = {n: "test" if n in test else "val" if n in val else "train" for n in labels}
            out.append(dict(repeat=repeat, fold=fold, split=split))
    return out


def source_counts(split: dict, labels: dict) -> dict:
    """Number of sources per split and class: split -> {'1': n_halo, '0': n_non_halo}."""
    out = {}
    for name, part in split.items():
        counts = out.setdefault(part, {"1": 0, "0": 0})
        counts[str(labels[name])] += 1
    return out
