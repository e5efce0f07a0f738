"""The radio-morphology judge: an FRI/FRII classifier and the RAMIS it gives (notebooks 07_vae, 04_metrics).

RAMIS (Bastien et al. 2021) is the inception score exp(E_x KL(p(y|x) ‖ p(y))) computed with a
radio classifier instead of ImageNet's: 1 for images the classifier cannot tell apart,
up to the number of classes for sharp, balanced ones. :func:`train_judge` fits the
classifier of Tang et al. (2019) (Adagrad 1e-3) with the project's resumable classifier
training; :func:`degradation_curves` runs the paper's three checks of the metric.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..config import deterministic
from ..detect.classify import TrainConfig, train
from ..models.tang import build_tang
from .metrics import add_noise, blur, crop, ramis, ramis_std

__all__ = ["with_noise_floor", "train_judge", "probabilities", "degradation_curves"]

BLUR_KERNELS = tuple(range(1, 20, 2))  # px, box-blur widths
NOISE_SIGMAS = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)  # Gaussian noise std on the [0, 1] scale
CROP_FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)  # blanked edge strip / image side (0.5 = 75 px of 150)


def with_noise_floor(images: np.ndarray, sigma_max: float, seed: int) -> np.ndarray:
    """Copy of images (n, S, S) in [0, 1] where every other image carries clipped Gaussian noise.

    The noise std is log-uniform in [sigma_max / 100, sigma_max], so every decade of the noise
    check (:data:`NOISE_SIGMAS`, 0.005 ... 0.5) is seen alike. FIRST cut-outs are exactly 0
    off the source; a judge that never saw a noise floor calls every faintly noisy image one
    class, so its RAMIS jumps instead of falling.
    """
    rng = np.random.default_rng(seed)
    out = np.array(images, np.float32, copy=True)
    noisy = np.arange(len(out)) % 2 == 1
    sigma = np.exp(rng.uniform(np.log(sigma_max / 100), np.log(sigma_max), noisy.sum()))[:, None, None]
    out[noisy] = np.clip(out[noisy] + sigma * rng.standard_normal(out[noisy].shape), 0, 1)
    return out


def train_judge(sets: dict, config, seed: int, workdir) -> tuple:
    """Fit the Tang et al. classifier on ``sets['train']`` (n, S, S) with ``sets['select']`` for validation.

    ``sets`` is :func:`halo_utils.generate.vae_runs.prepare`'s dict (rotations: ``config.classifier_angles``);
    ``config`` the :class:`~halo_utils.generate.vae.VAEConfig`; with ``config.judge_noise`` > 0 half the
    training images get a noise floor (:func:`with_noise_floor`). Returns (model, fit summary dict).
    """
    deterministic(seed)
    model = build_tang(size=sets["train"].shape[1], classes=2)
    settings = TrainConfig(config.profile, epochs=config.classifier_epochs, batch_size=32, learning_rate=1e-3,
                           optimizer="adagrad", patience=config.classifier_epochs)
    pack = lambda x, y: dict(x=x, y=np.eye(2, dtype=np.float32)[y], label=y)  # noqa: E731
    train_images = with_noise_floor(sets["train"], config.judge_noise, seed) if config.judge_noise else sets["train"]
    fit = train(model, settings, pack(train_images, sets["train_labels"]),
                pack(sets["select"], sets["select_labels"]), workdir, seed=seed)
    accuracy = float(np.mean(probabilities(model, sets["test"]).argmax(1) == sets["test_labels"]))
    return model, dict(fit, test_accuracy=accuracy, train_config=dataclasses.asdict(settings))


def probabilities(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities (n, classes) of images (n, S, S) in [0, 1]."""
    return model.predict(np.asarray(images, np.float32), batch_size=batch_size, verbose=0)


def degradation_curves(model, images: np.ndarray, seed: int = 0) -> dict:
    """RAMIS of real images (n, S, S) as they are blurred, noised and cropped (Bastien et al. Figs. 4-6).

    Returns kind -> dict(``levels``, ``ramis``, ``std``: bootstrap standard error), kinds 'blur'
    (kernel px), 'noise' (σ on the [0, 1] scale) and 'crop' (blanked edge strip, px).
    """
    strips = sorted({int(round(f * images.shape[1])) for f in CROP_FRACTIONS})
    degrade = {"blur": (BLUR_KERNELS, lambda k: blur(images, k)),
               "noise": (NOISE_SIGMAS, lambda s: add_noise(images, s, seed)),
               "crop": (strips, lambda s: crop(images, s))}
    out = {}
    for kind, (levels, fn) in degrade.items():
        p = [probabilities(model, fn(v)) for v in levels]
        out[kind] = dict(levels=list(levels), ramis=[ramis(q) for q in p], std=[ramis_std(q, seed=seed) for q in p])
    return out
