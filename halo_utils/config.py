"""Run profiles and seeding.

A profile changes sizes and counts, never code paths. ``smoke`` runs in seconds
(tests), ``cpu`` gives real results on a laptop, ``paper`` uses the radio-halo
paper's full settings (Mishra et al. 2024).
"""

from __future__ import annotations

import dataclasses
import os
import random
import zlib

import numpy as np

__all__ = ["DataConfig", "PROFILES", "SOURCES", "data_config", "default_profile", "from_profile", "run_name",
           "seed_everything", "seeded", "child_seed", "deterministic", "distribution", "replica_slice", "PRECISIONS", "use_precision",
           "loss_scaled", "precision_record", "as_mapping"]

PROFILES = ("smoke", "cpu", "paper")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
"""Keras dtype policies: full precision; float16 compute with float32 weights (GPUs with tensor cores, loss scaling);
bfloat16 compute (TPUs, recent GPUs and CPUs; no loss scaling needed)."""
SOURCES = ("gleam", "mock")  # the published images, or the mock sky of halo_utils.sky.mock


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Pre-processing and augmentation settings of one profile."""

    profile: str  # name of the profile this config belongs to
    cutout: int = 64  # side of the central cut-out, pixels
    pixel_arcmin: float | None = 0.733  # common sky grid of all bands (arcmin per px); None = stack native pixels
    clip_sigma: float | None = 4.0  # pixels below clip_sigma * rms are set to zero (>= every published clip level);
    # None: no clipping (unclipped inputs: SkyView downloads, an unclipped mock sky)
    cap_sigma: float | None = None  # optional brightness cap: pixels above cap_sigma * rms are set to it
    n_rotations: int = 8  # rotations by multiples of 360/n_rotations degrees (8 -> 45 deg steps)
    flips: tuple = ("none", "horizontal")  # mirror states; vertical = horizontal + 180 deg rotation
    n_brightness: int = 10  # brightness factors drawn per (rotation, flip)
    brightness_range: tuple = (0.9, 1.4)  # uniform range of the brightness factors
    log_reference_sigma: float = 1.0  # log scaling y = log10(1 + x / (k * rms_band)), k = this
    subtract_compact: bool = False  # remove beam-sized sources before the clip (halo_utils.prep.compact); needs pixel_arcmin

    @property
    def cutout_arcmin(self) -> float | None:
        """Side of the cut-out in arcmin (None when the bands keep their native pixels)."""
        return None if self.pixel_arcmin is None else self.cutout * self.pixel_arcmin

    @property
    def n_variants(self) -> int:
        """Augmented copies per image: rotations x flips x brightness factors."""
        return self.n_rotations * len(self.flips) * self.n_brightness

    @classmethod
    def from_dict(cls, values: dict) -> "DataConfig":
        """Build from a dict (e.g. a saved JSON); unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown DataConfig keys: {sorted(unknown)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return cls(**values)

    def to_dict(self) -> dict:
        """The settings; without ``subtract_compact`` while it is off, so runs (and every cache named after the
        settings) made before the option keep their names."""
        out = dataclasses.asdict(self)
        if not self.subtract_compact:
            del out["subtract_compact"]
        return out


_DATA_PROFILES = {
    "smoke": DataConfig("smoke", n_rotations=2, flips=("none",), n_brightness=1),
    "cpu": DataConfig("cpu", n_rotations=8, flips=("none", "horizontal"), n_brightness=2),
    "paper": DataConfig("paper"),
}


def default_profile(profile: str | None = None) -> str:
    """The profile to use: the argument, else ``$HALO_PROFILE``, else ``cpu``."""
    name = profile or os.environ.get("HALO_PROFILE") or "cpu"
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {PROFILES}")
    return name


def data_config(profile: str | None = None, **overrides) -> DataConfig:
    """The :class:`DataConfig` of a profile, with optional field overrides."""
    base = _DATA_PROFILES[default_profile(profile)]
    return DataConfig.from_dict({**base.to_dict(), **overrides})


def from_profile(profiles: dict, profile: str, overrides: dict):
    """The frozen config of ``profile`` in ``profiles`` with field ``overrides`` (unknown keys are an error)."""
    base = profiles[default_profile(profile)]
    unknown = set(overrides) - {f.name for f in dataclasses.fields(base)}
    if unknown:
        raise ValueError(f"unknown {type(base).__name__} keys: {sorted(unknown)}")
    return dataclasses.replace(base, **{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})


def run_name(profile: str, seed: int, source: str = "gleam", tag: str = "") -> str:
    """Default name of a run's outputs: ``[<tag>_][mock_]<profile>_seed<seed>``.

    ``tag`` says what ran, e.g. ``A_kfold`` for a classifier (:func:`halo_utils.detect.classify.run_tag`)
    or ``b0123`` for a generator (:func:`halo_utils.generate.generated.run_tag`).
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; choose one of {SOURCES}")
    return f"{tag + '_' if tag else ''}{'mock_' if source == 'mock' else ''}{profile}_seed{seed}"


def seeded(*keys) -> np.random.Generator:
    """The random stream named by ``keys``: NumPy's ``SeedSequence`` of them (ints as they are, strings by their
    CRC-32), so each stream is independent of every other and of the order in which streams are drawn.

        seeded(seed, "abell_2744")        # a source's augmentation
        seeded(seed, repeat, fold)        # a fold's
    """
    entropy = [zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def child_seed(*keys) -> int:
    """A seed in [0, 2**31) drawn from the stream :func:`seeded` of ``keys`` (for APIs that take an int seed)."""
    return int(seeded(*keys).integers(2**31))


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and (if imported) Keras/TensorFlow; return a NumPy Generator."""
    random.seed(seed)
    np.random.seed(seed)
    import sys

    if "keras" in sys.modules or "tensorflow" in sys.modules:
        import keras

        keras.utils.set_random_seed(seed)
    return np.random.default_rng(seed)


def deterministic(seed: int):
    """:func:`seed_everything` with Keras and TensorFlow seeded too, and TensorFlow ops made deterministic."""
    import keras  # noqa: F401  (imported, so seed_everything seeds it)
    import tensorflow as tf

    seed_everything(seed)
    tf.config.experimental.enable_op_determinism()


def distribution(devices=None):
    """The ``tf.distribute`` strategy that trains on ``devices``.

    ``None`` (or empty): TensorFlow's default, one device (the GPU if there is one). ``"gpus"``:
    ``MirroredStrategy`` over every local GPU. A list of device names (``["/gpu:0", "/gpu:1"]``,
    or logical CPUs in tests): ``MirroredStrategy`` over them. Build and train the model inside
    ``with distribution(devices).scope():``. Batch sizes of the configs (``TrainConfig``, ``DDPMConfig``)
    are *global* batches, split across the replicas, so the gradient of a step and the learning rate
    are those of one device. For several machines use ``tf.distribute.MultiWorkerMirroredStrategy`` the same
    way (``TF_CONFIG`` names the workers); it is not tested here.
    """
    import tensorflow as tf

    if not devices:
        return tf.distribute.get_strategy()
    # gradients are summed on one device and copied back: no collective ops, whose instance keys went out of step
    # between replicas when one training step all-reduces twice (the WGAN's critic and generator steps)
    reduce = tf.distribute.ReductionToOneDevice()
    if devices == "gpus":
        return tf.distribute.MirroredStrategy(cross_device_ops=reduce)
    return tf.distribute.MirroredStrategy(devices=list(devices), cross_device_ops=reduce)


def replica_slice(batch_size: int, *values) -> list:
    """Inside ``strategy.run``: this replica's equal slice of each global-batch tensor (replica order)."""
    import tensorflow as tf

    ctx = tf.distribute.get_replica_context()
    size = batch_size // ctx.num_replicas_in_sync
    start = ctx.replica_id_in_sync_group * size
    return [v[start:start + size] for v in values]


def use_precision(policy: str | None = None) -> str:
    """Build the models made from here on with the Keras dtype ``policy`` (one of :data:`PRECISIONS`; None: float32).

    Mixed policies compute in 16 bits and keep float32 weights; every model's last layer stays float32, so
    probabilities, noise estimates and losses are float32. Meant for GPUs with tensor cores (the speed-up was not
    measured here: no GPU); on CPUs float16 is slow. Returns the policy's name (record it with the run).
    """
    import keras

    policy = policy or "float32"
    if policy not in PRECISIONS:
        raise ValueError(f"unknown precision {policy!r}; choose one of {PRECISIONS}")
    keras.config.set_dtype_policy(policy)
    return policy


def loss_scaled(optimizer, model):
    """``optimizer`` wrapped in Keras' dynamic loss scaling if ``model`` computes in float16 (else unchanged).

    Custom training steps then scale the loss *inside* the gradient tape (``scaled = optimizer.scale_loss(loss)``;
    scaled outside it, the loss has no gradients) and take ``tape.gradient(scaled, …)``; ``apply_gradients``
    unscales and skips the steps whose gradients overflowed. ``model.compile`` does all this by itself.
    """
    import keras

    if model.dtype_policy.name != "mixed_float16":
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)


def precision_record(model) -> dict:
    """``{"precision": policy}`` for a run record of a ``model`` built with a mixed policy; ``{}`` for float32 (so
    full-precision runs keep the records, and the resumable folders, they had before the option existed)."""
    name = model.dtype_policy.name
    return {} if name == "float32" else {"precision": name}


def as_mapping(value, name: str) -> dict:
    """A notebook parameter that holds settings: a dict, or the JSON text ``papermill -p`` passes
    (``-p mock_sky '{"sidelobe_level": 0.03}'``); None or "" is {}. Anything else is refused, naming the parameter."""
    import json

    if isinstance(value, dict):
        return value
    if value in (None, ""):
        return {}
    try:
        out = json.loads(value) if isinstance(value, str) else None
    except json.JSONDecodeError:
        out = None
    if not isinstance(out, dict):
        raise ValueError(f"parameter {name}: expected settings as a dict or JSON text like '{{\"key\": 1}}', "
                         f"got {value!r}")
    return out
