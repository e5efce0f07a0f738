"""Judges of generated images (notebook 04_metrics, and the VAE work of 07_vae).

* :func:`frechet_distance` / :func:`fid`: the Fréchet distance between Gaussian fits of two
  feature sets, ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½) (Heusel et al. 2017);
* :func:`kid`: the unbiased MMD² with the cubic polynomial kernel (x·y/d + 1)³ over random
  subsets, mean ± std (Bińkowski et al. 2018);
* :func:`ramis`: the radio morphology inception score exp(E_x KL(p(y|x) ‖ p(y))) (Bastien et
  al. 2021) from any radio classifier's class probabilities;
* :func:`histogram_error`: pixel-value histograms of real and generated images per band and
  their relative error per bin (radio-halo paper Figs. 7 and 11);
* feature extractors: :func:`inception_features` (ImageNet InceptionV3, 2048-d) and
  :func:`classifier_features` (the penultimate layer of a trained halo classifier);
* degradations for the validation of a judge: :func:`blur`, :func:`add_noise`, :func:`crop`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy import linalg

__all__ = ["frechet_distance", "fid", "kid", "ramis", "ramis_std", "histogram_error", "inception_features",
           "classifier_features", "blur", "add_noise", "crop", "MissingWeightsError"]

INCEPTION_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"


class MissingWeightsError(FileNotFoundError):
    """ImageNet weights are not in the Keras cache and cannot be downloaded."""


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (vectors (d,), covariances (d, d))."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():  # singular product: regularise, as the reference implementation does
        offset = np.eye(len(mu1)) * 1e-6
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = covmean.real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid(real: np.ndarray, generated: np.ndarray) -> float:
    """FID between two feature sets (n, d) and (m, d)."""
    return frechet_distance(real.mean(0), np.cov(real, rowvar=False), generated.mean(0), np.cov(generated, rowvar=False))


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    kxx, kyy, kxy = ((a @ b.T / d + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    m, n = len(x), len(y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


def kid(real: np.ndarray, generated: np.ndarray, subset_size: int = 1000, n_subsets: int = 100, seed: int = 0) -> tuple:
    """Kernel inception distance: (mean, std) of the unbiased MMD² over ``n_subsets`` random subsets.

    ``subset_size`` is capped at the smaller set (the radio-halo paper used 32).
    """
    rng = np.random.default_rng(seed)
    size = min(subset_size, len(real), len(generated))
    if size < 2:
        raise ValueError(f"KID needs at least 2 images per set, got {len(real)} real and {len(generated)} generated")
    values = [_mmd2_unbiased(real[rng.choice(len(real), size, replace=False)],
                             generated[rng.choice(len(generated), size, replace=False)]) for _ in range(n_subsets)]
    return float(np.mean(values)), float(np.std(values))


def ramis(probabilities: np.ndarray) -> float:
    """exp(E_x KL(p(y|x) ‖ p(y))) from class probabilities (n, classes); 1 = uninformative, classes = best."""
    p = np.clip(np.asarray(probabilities, np.float64), 1e-12, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    marginal = p.mean(axis=0, keepdims=True)
    return float(np.exp(np.mean(np.sum(p * (np.log(p) - np.log(marginal)), axis=1))))


def ramis_std(probabilities: np.ndarray, n_boot: int = 200, seed: int = 0) -> float:
    """Bootstrap standard error of :func:`ramis` over the images (rows of ``probabilities``)."""
    p = np.asarray(probabilities)
    rng = np.random.default_rng(seed)
    return float(np.std([ramis(p[rng.integers(0, len(p), len(p))]) for _ in range(n_boot)]))


def histogram_error(real: np.ndarray, generated: np.ndarray, bins: int = 50, value_range=(-1.0, 1.0)) -> dict:
    """Pixel histograms per band of images (n, H, W, B) and the relative error per bin.

    Returns
    -------
    dict with ``edges`` (bins + 1,), ``real`` and ``generated`` (B, bins) densities,
    ``rel_error`` (B, bins) = (generated - real) / real (NaN where real is 0) and
    ``mean_abs_rel_error`` (B,) over the bins where real is not 0
    """
    edges = np.linspace(*value_range, bins + 1)
    hist = lambda x: np.stack([np.histogram(x[..., b], edges, density=True)[0] for b in range(x.shape[-1])])  # noqa: E731
    h_real, h_gen = hist(real), hist(generated)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(h_real > 0, (h_gen - h_real) / h_real, np.nan)
    return dict(edges=edges, real=h_real, generated=h_gen, rel_error=rel,
                mean_abs_rel_error=np.nanmean(np.abs(rel), axis=1))


def inception_features(images: np.ndarray, batch_size: int = 32, weights_dir=None) -> np.ndarray:
    """2048-d InceptionV3 (ImageNet) features of images (n, H, W) or (n, H, W, 1) in [-1, 1], judged as grey.

    Images are resized to 299x299 and repeated to three channels. The weights must be in the
    Keras cache (``~/.keras/models``) or downloadable; otherwise :class:`MissingWeightsError`
    says where to put the file. Note: these are Keras' weights, not the TF-2015 graph of
    published FID tools, so absolute values are not comparable with other papers.
    """
    import keras
    import tensorflow as tf

    folder = Path(weights_dir) if weights_dir else Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
    local = folder / INCEPTION_FILE
    try:
        net = keras.applications.InceptionV3(include_top=False, pooling="avg",
                                             weights=str(local) if local.exists() else "imagenet")
    except Exception as err:  # no network, no cached file
        raise MissingWeightsError(
            f"InceptionV3 ImageNet weights not found at {local} and not downloadable ({err.__class__.__name__}). "
            f"Download {INCEPTION_FILE} from https://storage.googleapis.com/tensorflow/keras-applications/"
            f"inception_v3/ on a machine with network and place it in {folder}.") from err
    images = np.asarray(images, np.float32)
    images = images[..., None] if images.ndim == 3 else images
    out = []
    for start in range(0, len(images), batch_size):
        batch = tf.image.resize(images[start:start + batch_size], (299, 299))
        out.append(net(tf.repeat(batch, 3, axis=-1), training=False).numpy())
    return np.concatenate(out)


def classifier_features(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Penultimate-layer features (n, d) of a trained classifier: a radio-domain stand-in for Inception."""
    import keras

    extractor = keras.Model(model.inputs, model.layers[-2].output)
    return extractor.predict(images, batch_size=batch_size, verbose=0)


def blur(images: np.ndarray, kernel: int) -> np.ndarray:
    """Box blur of width ``kernel`` px over each image plane (n, H, W[, B]); kernel 1 = unchanged."""
    from scipy.ndimage import uniform_filter

    size = (1, kernel, kernel) + (1,) * (images.ndim - 3)
    return uniform_filter(np.asarray(images, np.float64), size=size, mode="constant").astype(np.float32)


def add_noise(images: np.ndarray, sigma: float, seed: int = 0, value_range=(0.0, 1.0)) -> np.ndarray:
    """Gaussian noise of std ``sigma``, clipped back into ``value_range``."""
    rng = np.random.default_rng(seed)
    return np.clip(images + rng.normal(0, sigma, images.shape), *value_range).astype(np.float32)


def crop(images: np.ndarray, strip: int, fill: float = 0.0) -> np.ndarray:
    """Blank an edge strip of ``strip`` px on every side of images (n, H, W[, B]); the size is kept."""
    out = np.array(images, np.float32, copy=True)
    if strip:
        out[:, :strip], out[:, -strip:], out[:, :, :strip], out[:, :, -strip:] = fill, fill, fill, fill
    return out
