"""Conditional WGAN-GP generator and critic (radio-halo paper, Tables A1/A2), for any bands and label count.

Generator: a label embedding (64 dims) through Dense to a 4x4 map, the latent vector
(128) through Dense + batch normalisation to 4x4x1024, both concatenated and up-sampled
by four stride-2 transposed convolutions (128, 256, 128, bands) to 64x64, then flattened
through a dense layer of (64*64*bands)^2 weights with tanh. Critic: the label embedding
through Dense to a 64x64 map concatenated with the image, strided convolutions, and a
linear output (no sigmoid: a Wasserstein critic).
"""

from __future__ import annotations

__all__ = ["build_generator", "build_critic"]


def build_generator(*, latent: int = 128, labels: int = 10, bands: int = 1, size: int = 64, embed: int = 64,
                    base: int = 4, channels: int = 1024, widths=(128, 256, 128)):
    """``[z (n, latent), label (n,)] -> image (n, size, size, bands)`` in [-1, 1]."""
    import keras
    from keras import layers as L

    z = keras.Input((latent,), name="z")
    label = keras.Input((), dtype="int32", name="label")
    y = L.Embedding(labels, embed)(label)
    y = L.Reshape((base, base, 1))(L.Dense(base * base)(y))
    x = L.Dense(base * base * channels)(z)
    x = L.LeakyReLU(0.2)(L.BatchNormalization(synchronized=True)(x))  # statistics of the global batch on any devices
    x = L.Concatenate()([L.Reshape((base, base, channels))(x), y])
    for width in widths:
        x = L.LeakyReLU(0.2)(L.Conv2DTranspose(width, 4, strides=2, padding="same")(x))
    x = L.Conv2DTranspose(bands, 4, strides=2, padding="same")(x)
    if x.shape[1] != size:
        raise ValueError(f"{len(widths) + 1} up-samplings of {base} px give {x.shape[1]} px, not {size}")
    x = L.Dense(size * size * bands, activation="tanh", dtype="float32")(L.Flatten()(x))  # float32 under any policy
    return keras.Model([z, label], L.Reshape((size, size, bands), dtype="float32")(x), name="generator")


def build_critic(*, labels: int = 10, bands: int = 1, size: int = 64, embed: int = 64,
                 widths=(64, 128, 256, 512), kernel: int = 5, dropout: float = 0.0):
    """``[image (n, size, size, bands), label (n,)] -> score (n, 1)`` (unbounded).

    No dropout by default: its random masks come from Keras' own seed state, which a
    checkpoint does not restore, so a resumed run would differ from an uninterrupted one.
    """
    import keras
    from keras import layers as L

    image = keras.Input((size, size, bands), name="image")
    label = keras.Input((), dtype="int32", name="label")
    y = L.Embedding(labels, embed)(label)
    y = L.Reshape((size, size, 1))(L.Dense(size * size)(y))
    x = L.Concatenate()([image, y])
    for width in widths:
        x = L.LeakyReLU(0.2)(L.Conv2D(width, kernel, strides=2, padding="same")(x))
    x = L.Flatten()(x)
    x = L.Dropout(dropout)(x) if dropout else x
    return keras.Model([image, label], L.Dense(1, name="score", dtype="float32")(x), name="critic")
