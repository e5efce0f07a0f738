"""Checks of VAE / CVAE samples with the morphology judge (notebook 07_vae): RAMIS, class balance, empty sky."""

from __future__ import annotations

import numpy as np

from .metrics import ramis
from .morphology import probabilities

__all__ = ["scorer", "judged", "near_zero_fraction", "class_balance"]


def scorer(judge, n: int, seed: int):
    """The ``score`` function of :func:`halo_utils.generate.vae_runs.fit_latent_sizes`: model -> :func:`judged`."""
    return lambda model: judged(model, judge, n, seed)


def judged(model, judge, n: int, seed: int) -> dict:
    """RAMIS of ``n`` prior samples of a :class:`~halo_utils.generate.vae.VAE`; for a CVAE the share of each requested class the judge assigns to it."""
    labels = np.arange(n) % 2 if model.classes else None
    p = probabilities(judge, model.generate(n, seed, labels))
    out = dict(ramis=ramis(p))
    if model.classes:
        out["recognised"] = {c: float(np.mean(p[labels == c].argmax(1) == c)) for c in (0, 1)}
    return out


def near_zero_fraction(images: np.ndarray, threshold: float = 5e-5) -> float:
    """Share of pixels below ``threshold`` (real FIRST images are mostly exact zeros; a VAE's sigmoid never is)."""
    return float(np.mean(np.asarray(images) < threshold))


def class_balance(model, judge, n: int, seed: int, limit: float = 4.0) -> dict:
    """Judge's counts of FRI/FRII among ``n`` + ``n`` CVAE samples (n asked of each class), z from the prior
    N(0, I) or uniform in [-limit, limit]^d. Returns sampling -> requested class -> [n judged FRI, n judged FRII]."""
    rng = np.random.default_rng(seed)
    draws = {"prior": rng.standard_normal((2 * n, model.latent)), "uniform": rng.uniform(-limit, limit, (2 * n, model.latent))}
    labels = np.repeat([0, 1], n)
    out = {}
    for name, z in draws.items():
        verdict = probabilities(judge, model.decode(z, labels)).argmax(1)
        out[name] = {c: np.bincount(verdict[labels == c], minlength=2).tolist() for c in (0, 1)}
    return out
