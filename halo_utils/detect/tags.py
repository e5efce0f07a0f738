"""What a classifier run learns from (``train_on``) and the name it is saved under (its tag)."""

from __future__ import annotations

from ..prep.splits import check_protocol

__all__ = ["TRAIN_ON", "check_train_on", "run_tag", "settings_tag", "precision_tag"]


TRAIN_ON = ("gleam", "mock", "mock+gleam", "injected", "injected+gleam")
"""What a classifier learns from: the labelled clusters of ``source`` (the published images or the mock sky of the
seed), mock fields only (``halo_utils.detect.mocktrain``), mock pre-training then the clusters' kfold folds, or
mock halos injected into the real fields of each fold's training sources (``halo_utils.detect.realsky``)."""


def check_train_on(train_on: str):
    """Refuse a ``train_on`` that is not one of :data:`TRAIN_ON`, naming the choices."""
    if train_on not in TRAIN_ON:
        raise ValueError(f"train_on must be one of {TRAIN_ON}, not {train_on!r}")


def run_tag(model: str, protocol: str, train_on: str = "gleam", clip_sigma: float | None = 4.0,
            mock_clipped: bool = False, augment_with: str = "none", generated_per_real: float = 1.0,
            overrides: dict | None = None, mock_sky: dict | None = None, subtract_compact: bool = False,
            precision: str = "float32") -> str:
    """The ``tag`` of a classifier run's name (:func:`halo_utils.config.run_name`): ``<model>_<protocol>``, then
    ``_mock`` or ``_mockgleam`` (``_mockclipped``, ``_mockclippedgleam`` for mock fields clipped like the published
    images) for runs that learn from mock fields, ``_injected`` / ``_injectedgleam`` for halos injected into real
    fields (then fine-tuned on the labelled sources), ``_noclip`` / ``_clip<k>`` for a clip other than 4 sigma,
    ``_<generator><ratio>x`` for runs with generated halos (e.g. ``_ddpm1x``) and ``_<key><value>`` per
    :class:`TrainConfig` override (e.g. ``_planseed0_repeats1``) and per mock-sky setting changed for the mock
    fields (``mock_sky``, e.g. ``_sidelobelevel0.03``), then ``_bfloat16`` / ``_float16`` for mixed precision."""
    check_protocol(protocol)
    check_train_on(train_on)
    tag = f"{model}_{protocol}"
    if train_on.startswith("injected"):
        tag += "_injected" + ("gleam" if train_on == "injected+gleam" else "")
    elif train_on != "gleam":
        tag += "_mock" + ("clipped" if mock_clipped else "") + ("gleam" if train_on == "mock+gleam" else "")
        tag += settings_tag(mock_sky)
    if clip_sigma != 4.0:
        tag += "_noclip" if clip_sigma is None else f"_clip{clip_sigma:g}"
    if subtract_compact:
        tag += "_subtracted"
    if augment_with != "none":
        tag += f"_{augment_with}{generated_per_real:g}x"
    return tag + settings_tag(overrides) + precision_tag(precision)


def precision_tag(precision: str) -> str:
    """What a run's or table's name says of its Keras policy: nothing for float32, ``_bfloat16`` for
    ``mixed_bfloat16``, ``_float16`` for ``mixed_float16``."""
    return "" if precision == "float32" else "_" + precision.removeprefix("mixed_")


def settings_tag(settings: dict | None) -> str:
    """``_<key><value>`` per changed setting, keys without underscores, lists joined by '-': ``{"plan_seed": 0}`` ->
    ``_planseed0``, ``{"bands": [1, 2, 3]}`` -> ``_bands1-2-3``."""
    def text(value) -> str:
        return "-".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)

    return "".join(f"_{key.replace('_', '')}{text(value)}" for key, value in sorted((settings or {}).items()))
