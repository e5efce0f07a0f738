"""The three halo classifiers of the radio-halo paper: I (LeNet-style CNN), A (CNN + attention), D (dense).

Every builder takes the cut-out size and the number of bands as keyword arguments and
returns an uncompiled ``keras.Model`` mapping (n, size, size, bands) images in [0, 1] to
(n, 2) class probabilities (softmax; column 1 = halo).

The paper's layer tables (its Tables A3-A5) could not be consulted offline; the layer
sizes below are reconstructions that give exactly the paper's trainable-parameter counts
with its inputs (I: 58,898 on one 64x64 band, A: 939,490 on 64x64x4, D: 264,580 on one
band). See the README's deviations.
"""

from __future__ import annotations

__all__ = ["MODELS", "build_classifier", "build_lenet", "build_attention", "build_dense"]

MODELS = ("I", "A", "D")


def _layers():
    import keras

    return keras, keras.layers


def build_lenet(*, size: int = 64, bands: int = 4, dense: int = 32, dropout: float = 0.3):
    """I: three valid convolutions (24@5x5, 32@3x3, 32@5x5) each followed by 2x2 max-pooling, Dense(32), softmax."""
    keras, L = _layers()
    inputs = keras.Input((size, size, bands), name="image")
    x = inputs
    for filters, kernel in ((24, 5), (32, 3), (32, 5)):
        x = L.Conv2D(filters, kernel, activation="relu")(x)
        x = L.MaxPooling2D()(x)
    x = L.Flatten()(x)
    x = L.Dense(dense, activation="relu")(x)
    x = L.Dropout(dropout)(x)
    outputs = L.Dense(2, activation="softmax", name="halo", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="I_lenet")


def build_attention(*, size: int = 64, bands: int = 4, heads: int = 4, key_dim: int = 64,
                    noise: float = 0.01, dropout: float = 0.3):
    """A: Gaussian noise (sigma 0.01 on the [0, 1] inputs; 0.05 kept A at ln 2), three 5x5 convolutions
    (32, 32, 64) with 2x2 pooling, then the 8x8 feature map as 64 tokens through multi-head self-attention with a residual connection and layer
    normalisation, Dense(192), Dense(32), softmax."""
    keras, L = _layers()
    inputs = keras.Input((size, size, bands), name="image")
    x = L.GaussianNoise(noise)(inputs)  # active in training only
    for filters in (32, 32, 64):
        x = L.Conv2D(filters, 5, padding="same", activation="relu")(x)
        x = L.MaxPooling2D()(x)
    tokens = L.Reshape((-1, x.shape[-1]))(x)  # (n, 64 tokens, 64 channels)
    attended = L.MultiHeadAttention(num_heads=heads, key_dim=key_dim)(tokens, tokens)
    x = L.LayerNormalization()(L.Add()([tokens, attended]))
    x = L.Flatten()(x)
    x = L.Dense(192, activation="relu")(x)
    x = L.Dropout(dropout)(x)
    x = L.Dense(32, activation="relu")(x)
    outputs = L.Dense(2, activation="softmax", name="halo", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="A_attention")


def build_dense(*, size: int = 64, bands: int = 4, dropout: float = 0.3):
    """D: the flattened image through Dense(64) + batch normalisation, Dense(30), Dense(8), Dense(4), softmax.

    The narrow layers use leaky ReLU (slope 0.2): with plain ReLU the 8- and 4-unit layers die
    and D gives one constant output for most unseen images (``tests/test_crossval.py``).
    """
    keras, L = _layers()
    inputs = keras.Input((size, size, bands), name="image")
    x = L.Flatten()(inputs)
    x = L.Dense(64, activation="relu")(x)
    x = L.BatchNormalization()(x)
    x = L.Dropout(dropout)(x)
    for width in (30, 8, 4):
        x = L.Dense(width, activation="leaky_relu")(x)
    outputs = L.Dense(2, activation="softmax", name="halo", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="D_dense")


def build_classifier(model: str, *, size: int = 64, bands: int = 4):
    """Build classifier ``'I'``, ``'A'`` or ``'D'`` for (size, size, bands) inputs."""
    builders = {"I": build_lenet, "A": build_attention, "D": build_dense}
    if model not in builders:
        raise ValueError(f"unknown classifier {model!r}; choose one of {MODELS}")
    return builders[model](size=size, bands=bands)
