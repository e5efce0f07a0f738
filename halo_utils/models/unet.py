"""The DDPM noise-prediction U-Net of Ho et al. (2020), in the layout of the keras.io DDPM example.

``build_unet`` returns a ``keras.Model`` mapping ``[x_t (n, H, W, bands), t (n,) int]`` to
ε̂ (n, H, W, bands). Each resolution level has ``n_res`` residual blocks (GroupNorm,
swish, 3x3 convolutions, the time embedding added in between), optional self-attention,
and a strided-convolution down-sampling; the decoder mirrors it with skip connections and
nearest-neighbour up-sampling. Widths, levels with attention, groups and bands are
keyword arguments.
"""

from __future__ import annotations

import math

__all__ = ["build_unet", "sinusoidal_embedding"]


def sinusoidal_embedding(t, dim: int):
    """Transformer-style embedding (n, dim) of integer steps t (n,)."""
    from keras import ops

    half = dim // 2
    freqs = ops.exp(-math.log(10000.0) * ops.arange(half, dtype="float32") / (half - 1))
    angles = ops.cast(t, "float32")[:, None] * freqs[None, :]
    return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)


def _residual_block(x, t_emb, width: int, groups: int):
    from keras import layers as L

    skip = x if x.shape[-1] == width else L.Conv2D(width, 1)(x)
    h = L.Activation("swish")(L.GroupNormalization(groups)(x))
    h = L.Conv2D(width, 3, padding="same")(h)
    h = L.Add()([h, L.Reshape((1, 1, width))(L.Dense(width)(t_emb))])
    h = L.Activation("swish")(L.GroupNormalization(groups)(h))
    h = L.Conv2D(width, 3, padding="same", kernel_initializer="zeros")(h)
    return L.Add()([skip, h])


def _attention_block(x, groups: int):
    """Single-head self-attention over all pixels, with a residual connection."""
    from keras import layers as L

    h, w, c = x.shape[1:]
    tokens = L.Reshape((h * w, c))(L.GroupNormalization(groups)(x))
    attended = L.MultiHeadAttention(num_heads=1, key_dim=c)(tokens, tokens)
    return L.Add()([x, L.Reshape((h, w, c))(attended)])


def build_unet(*, size: int = 64, bands: int = 1, widths=(64, 128, 256, 512), attention=(False, False, True, True),
               n_res: int = 2, groups: int = 8, name: str = "unet"):
    """The U-Net for (size, size, bands) images; ``widths`` per level (base 64 x 1, 2, 4, 8 as the paper)."""
    import keras
    from keras import layers as L

    if len(widths) != len(attention):
        raise ValueError(f"one attention flag per level: {len(widths)} widths, {len(attention)} flags")
    if size % 2 ** (len(widths) - 1):
        raise ValueError(f"size {size} cannot be halved {len(widths) - 1} times")
    image = keras.Input((size, size, bands), name="x_t")
    t = keras.Input((), dtype="int32", name="t")
    t_emb = L.Lambda(lambda s: sinusoidal_embedding(s, widths[0]), output_shape=(widths[0],))(t)
    t_emb = L.Dense(4 * widths[0], activation="swish")(t_emb)
    t_emb = L.Dense(4 * widths[0])(t_emb)

    x = L.Conv2D(widths[0], 3, padding="same")(image)
    skips = [x]
    for level, (width, attend) in enumerate(zip(widths, attention)):  # encoder
        for _ in range(n_res):
            x = _residual_block(x, t_emb, width, groups)
            x = _attention_block(x, groups) if attend else x
            skips.append(x)
        if level < len(widths) - 1:
            x = L.Conv2D(width, 3, strides=2, padding="same")(x)
            skips.append(x)
    x = _residual_block(x, t_emb, widths[-1], groups)  # middle
    x = _attention_block(x, groups)
    x = _residual_block(x, t_emb, widths[-1], groups)
    for level in reversed(range(len(widths))):  # decoder
        for _ in range(n_res + 1):
            x = L.Concatenate()([x, skips.pop()])
            x = _residual_block(x, t_emb, widths[level], groups)
            x = _attention_block(x, groups) if attention[level] else x
        if level > 0:
            x = L.UpSampling2D(interpolation="nearest")(x)
            x = L.Conv2D(widths[level], 3, padding="same")(x)
    x = L.Activation("swish")(L.GroupNormalization(groups)(x))
    eps = L.Conv2D(bands, 3, padding="same", kernel_initializer="zeros", name="eps", dtype="float32")(x)
    return keras.Model([image, t], eps, name=name)
