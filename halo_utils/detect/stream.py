"""Images made when read: training and prediction on lazy images as on arrays.

A lazy image set is any object whose ``x[rows]`` (an index array or a slice) returns the images of those rows,
(len(rows), 64, 64, B) float32, with ``len(x)``, ``x.shape`` and ``x.fingerprint()`` (a string naming its
content): e.g. the mock fields streamed from disk (:class:`halo_utils.detect.mocktrain.Inputs`). Memory then
holds a batch, not the set.

    batches = stream_batches(data, order, class_weights(data["label"]), batch_size=32)   # for model.fit
    prob = probabilities(model, data["x"], batch_size=32)                                # (n, 2)
"""

from __future__ import annotations

import numpy as np

__all__ = ["stream_batches", "probabilities"]


def stream_batches(data: dict, order: np.ndarray, weights: dict, batch_size: int):
    """A ``tf.data.Dataset`` of (images, one-hot labels, class weights) for lazy ``data["x"]``, rows in ``order``,
    each batch made when needed. (A ``tf.data`` pipeline, not a ``keras.utils.PyDataset``: Keras trains on it with
    the same arithmetic as on arrays, so streaming does not change a run's numbers; a PyDataset does, by round-off.)"""
    import tensorflow as tf

    sample_weight = np.array([weights[0], weights[1]], np.float32)[data["label"]]
    shape = (None, *data["x"].shape[1:])

    def batch(i):
        rows = order[i * batch_size:(i + 1) * batch_size]
        return np.asarray(data["x"][rows], np.float32), np.asarray(data["y"][rows], np.float32), sample_weight[rows]

    def read(i):
        x, y, w = tf.numpy_function(batch, [i], (tf.float32, tf.float32, tf.float32))
        return tf.ensure_shape(x, shape), tf.ensure_shape(y, (None, 2)), tf.ensure_shape(w, (None,))

    return tf.data.Dataset.range(-(-len(order) // batch_size)).map(read).prefetch(1)


def _batches(x: np.ndarray, batch_size: int):
    """A ``tf.data.Dataset`` of the rows of ``x`` in order, ``batch_size`` at a time: what ``model.predict`` makes of
    an array (the same batches, the same numbers) without converting the whole array on every call."""
    import tensorflow as tf

    def batch(i):
        return np.asarray(x[i * batch_size:(i + 1) * batch_size], np.float32)

    def read(i):
        return tf.ensure_shape(tf.numpy_function(batch, [i], tf.float32), (None, *x.shape[1:]))

    return tf.data.Dataset.range(-(-len(x) // batch_size)).map(read).prefetch(1)


_READ = 2048  # lazy images read per call of model.predict


def probabilities(model, x, batch_size: int = 256) -> np.ndarray:
    """``model.predict`` (n, 2) of images (n, 64, 64, B): an array, or lazy images (``x[rows]`` makes them) read
    ``_READ`` at a time in the same batches."""
    if len(x) == 0:
        return np.empty((0, 2), np.float32)
    if isinstance(x, np.ndarray):
        return model.predict(_batches(x, batch_size), verbose=0)
    step = batch_size * max(1, _READ // batch_size)
    return np.concatenate([model.predict(x[i:i + step], batch_size=batch_size, verbose=0)
                           for i in range(0, len(x), step)])


