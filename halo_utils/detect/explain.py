"""Where does a classifier look? Grad-CAM maps (I, A) and the attention of A, per cut-out.

A shortcut shows itself here: a model that scores a cluster by a bright source at the edge
of the cut-out, or by the empty sky, looks there and not at the centre.

* :func:`grad_cam` (Selvaraju et al. 2017): the last convolution's feature maps weighted by
  the spatial mean of the gradient of the halo logit, rectified, resized to the image.
* :func:`attention_received`: in A, the attention each of the 8x8 tokens receives, averaged
  over heads and query tokens, resized to the image.
"""

from __future__ import annotations

import numpy as np

from ..models.classifiers import build_classifier
from ..prep.dataset import build_dataset
from ..prep.noise import noise_table
from .classify import model_inputs, predict

__all__ = ["last_conv", "grad_cam", "attention_received", "fold_maps"]


def last_conv(model) -> str:
    """Name of the last Conv2D layer of a Keras model."""
    import keras

    names = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    if not names:
        raise ValueError(f"model {model.name!r} has no convolution: Grad-CAM needs one (D is dense)")
    return names[-1]


def _halo_logit(probs):
    import tensorflow as tf

    return tf.math.log(probs[:, 1] + 1e-7) - tf.math.log(probs[:, 0] + 1e-7)


def _resize(maps: np.ndarray, size: int, method: str = "bilinear") -> np.ndarray:
    import tensorflow as tf

    return tf.image.resize(maps[..., None], (size, size), method=method).numpy()[..., 0]


def grad_cam(model, x: np.ndarray) -> np.ndarray:
    """Grad-CAM of the halo class for images ``x`` (n, S, S, B); returns (n, S, S), each map scaled to max 1."""
    import keras
    import tensorflow as tf

    conv = model.get_layer(last_conv(model))
    probe = keras.Model(model.input, [conv.output, model.output])
    with tf.GradientTape() as tape:
        features, probs = probe(tf.convert_to_tensor(x), training=False)
        logit = _halo_logit(probs)
    features, grads = (tf.cast(t, tf.float32) for t in (features, tape.gradient(logit, features)))  # mixed precision
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1)).numpy()
    cam /= np.maximum(cam.max(axis=(1, 2), keepdims=True), 1e-12)
    return _resize(cam, x.shape[1])


def attention_received(model, x: np.ndarray) -> np.ndarray:
    """A's attention received per token, mean over heads and queries, as (n, S, S) maps scaled to [0, 1]."""
    import keras

    attention = next(layer for layer in model.layers if isinstance(layer, keras.layers.MultiHeadAttention))
    reshape = next(layer for layer in model.layers if isinstance(layer, keras.layers.Reshape))  # the 8x8 tokens
    tokens = keras.Model(model.input, reshape.output)(x, training=False)
    _, scores = attention(tokens, tokens, return_attention_scores=True, training=False)
    received = np.asarray(scores, np.float32).mean(axis=(1, 2))  # (n, tokens); float32 under mixed precision too
    side = int(round(np.sqrt(received.shape[1])))
    maps = received.reshape(-1, side, side)
    low, high = maps.min(axis=(1, 2), keepdims=True), maps.max(axis=(1, 2), keepdims=True)
    return _resize((maps - low) / np.maximum(high - low, 1e-12), x.shape[1], "nearest")  # one block per token


def fold_maps(sources, model: str, config, training, plan: list, seed: int, workdir, repeat: int = 0) -> list:
    """Maps of every source from the fold model that held it out (one repeat of a ``kfold`` run).

    Uses each source's un-rotated, un-flipped cut-out and the fold's saved best weights.

    Returns
    -------
    list of dicts (source, label, score of the upright cut-out, image (S, S, B) in [0, 1], grad_cam,
    attention; None where the model has no such map), sorted by label then score
    """
    noise = noise_table(sources)
    out = []
    for f in (f for f in plan if f["repeat"] == repeat):
        ds = build_dataset(sources, config, seed=seed, split=f["split"], noise=noise)
        test = model_inputs(ds, "test", training.bands, training.scaling)
        upright = (ds.angle[ds.split == "test"] == 0) & (ds.flip[ds.split == "test"] == 0)
        net = build_classifier(model, size=config.cutout, bands=len(training.bands))
        net.load_weights(f"{workdir}/r{f['repeat']}f{f['fold']}/best.weights.h5")
        names, first = np.unique(test["source"][upright], return_index=True)
        x = test["x"][upright][first]
        cams = grad_cam(net, x) if model != "D" else [None] * len(x)
        attention = attention_received(net, x) if model == "A" else [None] * len(x)
        scores = predict(net, x)
        for i, name in enumerate(names):
            out.append(dict(source=name, label=int(test["label"][upright][first][i]), score=float(scores[i]),
                            image=x[i], grad_cam=cams[i], attention=attention[i]))
    return sorted(out, key=lambda m: (m["label"], m["score"]))
