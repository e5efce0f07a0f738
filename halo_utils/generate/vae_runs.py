"""The VAE paper's experiments (Bastien et al. 2021; notebook 07_vae): data, latent-size search, GLEAM CVAE.

:func:`prepare` rotates and cuts the FRDEEP-F galaxies and holds out the selection set of a
protocol; :func:`fit_latent_sizes` runs the learning-rate search and training per latent
size; :func:`select_model` applies the paper's choice rule; :func:`gleam_sets` and
:func:`fit_gleam_cvae` train a CVAE on GLEAM halo cut-outs. Judging the samples (RAMIS,
class balance) is :mod:`halo_utils.judge.vae_checks`, passed in as a ``score`` function.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..prep.augment import crop_centre, rotations
from .vae import VAE, VAEConfig

__all__ = ["split_validation", "select_model", "prepare", "fit_latent_sizes", "table", "gleam_sets", "fit_gleam_cvae",
           "generate_halos"]


def split_validation(n: int, n_validation: int, seed: int):
    """Indices (train, validation) of ``n`` galaxies, validation drawn without replacement (before rotation)."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_validation:]), np.sort(order[:n_validation])


def select_model(rows: list) -> dict:
    """The paper's rule: RAMIS above the mean and loss below the mean over the latent sizes.

    ``rows``: dicts with ``latent``, ``ramis`` and ``selection_loss``. Returns the row with the
    highest RAMIS among those meeting both conditions (``rule_met`` True), else the
    highest-RAMIS row with ``rule_met`` False.
    """
    ramis_mean = np.mean([r["ramis"] for r in rows])
    loss_mean = np.mean([r["selection_loss"] for r in rows])
    passing = [r for r in rows if r["ramis"] > ramis_mean and r["selection_loss"] < loss_mean]
    best = max(passing or rows, key=lambda r: r["ramis"])
    return dict(best, rule_met=bool(passing), ramis_mean=float(ramis_mean), loss_mean=float(loss_mean))


def prepare(data: dict, config: VAEConfig, protocol: str, seed: int, n_angles: int | None = None) -> dict:
    """Rotated, centre-cut training images and the selection and test sets of one protocol.

    ``data`` is :func:`halo_utils.data.frdeep.read_frdeep`'s dict. ``strict``: ``n_validation``
    training galaxies are held out (before rotation) and choose the learning rate and the
    model; ``paper``: the test set does (optimistic, as published). ``n_angles`` overrides
    ``config.n_angles`` (the RAMIS judge uses its own number of rotations).

    Returns
    -------
    dict with ``train`` (n, size, size) in [0, 1] and ``train_labels``, ``select`` /
    ``select_labels`` (the set that picks the rate and the model) and ``test`` / ``test_labels``
    """
    if protocol not in ("strict", "paper"):
        raise ValueError(f"protocol must be 'strict' or 'paper', not {protocol!r}")
    images, labels, cut = data["train"], data["train_labels"], min(100, data["train"].shape[1])
    keep, held = split_validation(len(images), config.n_validation if protocol == "strict" else 0, seed)
    train, train_labels = rotations(images[keep], labels[keep], n_angles or config.n_angles, size=cut)
    test = crop_centre(data["test"], cut)
    select, select_labels = (crop_centre(images[held], cut), labels[held]) if protocol == "strict" \
        else (test, data["test_labels"])
    return dict(train=_resize(train, config.size), train_labels=train_labels, select=_resize(select, config.size),
                select_labels=select_labels, test=_resize(test, config.size), test_labels=data["test_labels"])


def _resize(images: np.ndarray, size: int) -> np.ndarray:
    """Images (n, S, S) resized to ``size`` (area average; the smoke profile works on small images)."""
    import tensorflow as tf

    if images.shape[1] == size:
        return images.astype(np.float32)
    return tf.image.resize(images[..., None], (size, size), method="area").numpy()[..., 0]


def fit_latent_sizes(sets: dict, config: VAEConfig, classes: int, seed: int, workdir, score=None) -> list:
    """The paper's experiment for one model kind: per latent size d, a learning-rate search, then training.

    Each rate trains ``config.search_epochs``; the one with the lowest loss on the selection
    set trains ``config.epochs``. ``classes`` = 0 for a VAE, 2 for a CVAE. With ``score``
    (a function model -> dict, e.g. :func:`halo_utils.judge.vae_checks.scorer`: ``ramis`` of
    ``config.n_generated`` prior samples and, for a CVAE, the share of each class the judge
    recognises) each row also carries its entries.

    Returns one dict per d: ``latent``, ``learning_rate``, ``search`` (rate -> loss),
    ``train_loss`` (mean of the last 10 % of steps), ``selection_loss``, ``test_loss``,
    ``active_units`` (of the selection images; see :meth:`VAE.active_units`),
    ``ramis``, ``recognised`` (CVAE), ``losses`` (per step) and the trained ``model``.
    """

    import tensorflow as tf

    kind = "cvae" if classes else "vae"
    n_train = len(sets["train"]) // config.n_angles
    images = tf.convert_to_tensor(sets["train"], tf.float32)  # one copy for every model (0.7 GB in cpu)
    rows = []
    for d in config.latent_sizes:
        model, search = VAE(config, d, config.learning_rates[0], images, sets["train_labels"], classes, seed), {}
        for rate in config.learning_rates:  # one VAE, reset before each trial (see VAE.reset)
            model.reset(rate).train(config.steps(config.search_epochs, n_train), Path(workdir) / f"{kind}_d{d}_lr{rate:g}",
                                    desc=f"{kind} d={d} lr={rate:g}")
            search[rate] = model.evaluate(sets["select"], sets["select_labels"], seed)
        rate = min(search, key=search.get)
        fit = model.reset(rate).train(config.steps(config.epochs, n_train), Path(workdir) / f"{kind}_d{d}",
                          desc=f"{kind} d={d} (lr {rate:g})")
        losses = fit["losses"]["loss"]
        row = dict(latent=d, learning_rate=rate, search={f"{k:g}": v for k, v in search.items()},
                   train_loss=float(np.mean(losses[-max(1, len(losses) // 10):])),
                   selection_loss=model.evaluate(sets["select"], sets["select_labels"], seed),
                   test_loss=model.evaluate(sets["test"], sets["test_labels"], seed),
                   active_units=model.active_units(sets["select"], sets["select_labels"]), losses=losses, model=model)
        rows.append(dict(row, **(score(model) if score is not None else {})))
    return rows


def table(rows: list) -> list:
    """The rows of :func:`fit_latent_sizes` without the models and per-step losses (for tables and JSON)."""
    return [{k: v for k, v in r.items() if k not in ("model", "losses")} for r in rows]


def gleam_sets(ds, band: int) -> dict:
    """A GLEAM CVAE's data: training-source cut-outs (halos and not, no empty side cut-outs) of one band.

    ``ds`` is a :class:`~halo_utils.prep.dataset.HaloDataset`; the log-scaled [-1, 1] images are
    mapped to [0, 1] for the Bernoulli likelihood. The validation sources of the strict split
    are the selection set. Returns dict ``train`` / ``select`` (n, 64, 64) in [0, 1] with
    ``train_labels`` / ``select_labels`` (n,) (1 = halo).
    """
    out = {}
    for part, split in (("train", "train"), ("select", "val")):
        mask = (ds.split == split) & ~ds.empty
        if not mask.any():
            raise ValueError(f"the dataset has no {split} cut-outs for a GLEAM CVAE")
        out[part] = (ds.log_inputs(mask)[..., band].astype(np.float32) + 1) / 2
        out[f"{part}_labels"] = ds.label[mask].astype(int)
    return out


def fit_gleam_cvae(sets: dict, config: VAEConfig, latent: int, learning_rate: float, seed: int, workdir) -> dict:
    """Train a CVAE (class 1 = halo) on :func:`gleam_sets` for ``config.epochs`` passes over the cut-outs.

    The image side comes from the data (64 px). Returns dict ``model``, ``losses`` (per step),
    ``selection_loss`` (nats per image, validation sources).
    """
    config = dataclasses.replace(config, size=sets["train"].shape[1])
    model = VAE(config, latent, learning_rate, sets["train"], sets["train_labels"], 2, seed)
    fit = model.train(config.steps(config.epochs, len(sets["train"])), workdir, desc=f"GLEAM CVAE d={latent}")
    return dict(model=model, losses=fit["losses"]["loss"],
                selection_loss=model.evaluate(sets["select"], sets["select_labels"], seed))


def generate_halos(model: VAE, n: int, seed: int) -> np.ndarray:
    """``n`` halo-class samples (n, size, size, 1) of a GLEAM CVAE, on the generators' [-1, 1] scale."""
    return (2 * model.generate(n, seed, np.ones(n, int)) - 1)[..., None]
