"""The FRI/FRII classifier RAMIS is computed with (Tang, Scaife & Leahy 2019, as Bastien et al. 2021 used it).

Five convolutional layers, each with batch normalisation and 2x2 max-pooling after the
first, second and fifth (the AlexNet-like layout of Aniyan & Thorat 2017 that Tang et al.
adopted: 6@11x11, 16@5x5, 24@3x3, 24@3x3, 16@3x3), then three fully connected layers
(256, 256, classes) with dropout and a softmax. The filter counts are a reconstruction
(the paper's table could not be consulted offline; see the README).
"""

from __future__ import annotations

__all__ = ["build_tang"]


def build_tang(*, size: int = 100, classes: int = 2, filters=(6, 16, 24, 24, 16), kernels=(11, 5, 3, 3, 3),
               pool_after=(0, 1, 4), dense: int = 256, dropout: float = 0.5):
    """``image (n, size, size)`` in [0, 1] -> class probabilities (n, classes)."""
    import keras
    from keras import layers as L

    image = keras.Input((size, size), name="image")
    x = L.Reshape((size, size, 1))(image)
    for i, (width, kernel) in enumerate(zip(filters, kernels)):
        x = L.Conv2D(width, kernel, padding="same", activation="relu")(x)
        x = L.BatchNormalization()(x)
        x = L.MaxPooling2D(2)(x) if i in pool_after else x
    x = L.Flatten()(x)
    for _ in range(2):
        x = L.Dropout(dropout)(L.Dense(dense, activation="relu")(x))
    return keras.Model(image, L.Dense(classes, activation="softmax", dtype="float32")(x), name="tang")
