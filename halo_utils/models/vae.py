"""Fully connected encoder and decoder of the radio-galaxy VAE/CVAE (Bastien et al. 2021, Table 2).

Encoder: the flattened image (size² pixels in [0, 1]), with the one-hot class appended for
a CVAE, through dense layers ``widths`` (paper: 4096, 2048, 1024, 512, 256) with LeakyReLU
and dropout 0.2, to the mean μ and log-variance log σ² of a ``latent``-dimensional
Gaussian. Decoder: the latent vector (with the one-hot class for a CVAE) through the same
widths in reverse to size² logits; the sigmoid of the logits is the Bernoulli mean image.
"""

from __future__ import annotations

__all__ = ["build_encoder", "build_decoder"]

PAPER_WIDTHS = (4096, 2048, 1024, 512, 256)


def _stack(x, widths, dropout: float):
    from keras import layers as L

    for width in widths:
        x = L.Dropout(dropout)(L.LeakyReLU(0.2)(L.Dense(width)(x)))
    return x


def build_encoder(*, size: int = 100, latent: int = 2, classes: int = 0, widths=PAPER_WIDTHS, dropout: float = 0.2):
    """``image (n, size, size)`` [+ ``onehot (n, classes)``] -> ``[mu (n, latent), log_var (n, latent)]``."""
    import keras
    from keras import layers as L

    image = keras.Input((size, size), name="image")
    inputs, x = [image], L.Flatten()(image)
    if classes:
        onehot = keras.Input((classes,), name="onehot")
        inputs, x = [image, onehot], L.Concatenate()([x, onehot])
    x = _stack(x, widths, dropout)
    mu, log_var = L.Dense(latent, name="mu", dtype="float32")(x), L.Dense(latent, name="log_var", dtype="float32")(x)
    return keras.Model(inputs, [mu, log_var], name="encoder")


def build_decoder(*, size: int = 100, latent: int = 2, classes: int = 0, widths=PAPER_WIDTHS, dropout: float = 0.2):
    """``z (n, latent)`` [+ ``onehot (n, classes)``] -> logits (n, size, size); sigmoid(logits) is the image."""
    import keras
    from keras import layers as L

    z = keras.Input((latent,), name="z")
    inputs, x = [z], z
    if classes:
        onehot = keras.Input((classes,), name="onehot")
        inputs, x = [z, onehot], L.Concatenate()([z, onehot])
    x = _stack(x, tuple(reversed(widths)), dropout)
    logits = L.Reshape((size, size), name="logits", dtype="float32")(L.Dense(size * size, dtype="float32")(x))
    return keras.Model(inputs, logits, name="decoder")
