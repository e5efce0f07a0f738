"""Judging generated halo images against held-out real ones (notebook 04_metrics).

The real reference is the halo cut-outs of the sources a generator never saw: the
validation and test halos of the strict split for the same seed (the generators learn the
training halos only). Generated and real images are compared on the generators' log scale
[-1, 1] with the judges of :mod:`halo_utils.judge.metrics`: FID/KID on ImageNet InceptionV3
features (when its weights are available), FID/KID on the features of a halo classifier
trained on the training sources (the radio-domain judge, works offline), RAMIS with that
classifier, and per-band pixel histograms.
"""

from __future__ import annotations

import numpy as np

from ..config import deterministic, run_name
from ..detect.classify import model_inputs, train, train_config
from ..generate.generated import load_samples, run_tag, samples_dir
from ..models.classifiers import build_classifier
from .metrics import MissingWeightsError, classifier_features, fid, histogram_error, inception_features, kid, ramis
from .morphology import probabilities

__all__ = ["held_out_halos", "domain_judge", "judge", "judge_generators"]


def held_out_halos(ds, bands) -> np.ndarray:
    """Halo cut-outs (n, 64, 64, len(bands)) in [-1, 1] of the validation and test sources of ``ds``."""
    mask = (ds.split != "train") & (ds.label == 1) & ~ds.empty
    if not mask.any():
        raise ValueError("the dataset has no held-out halo images (validation or test)")
    return ds.log_inputs(mask)[..., list(bands)]


def domain_judge(ds, bands, profile: str, seed: int, workdir):
    """Classifier I trained on the training sources of ``ds`` (strict validation) on ``bands``: the radio judge."""
    deterministic(seed)
    settings = train_config(profile, bands=tuple(bands))
    train_data, val_data = (model_inputs(ds, part, settings.bands, settings.scaling) for part in ("train", "val"))
    model = build_classifier("I", size=train_data["x"].shape[1], bands=len(bands))
    fit = train(model, settings, train_data, val_data, workdir, seed=seed)
    return model, fit


def judge(real: np.ndarray, generated: np.ndarray, classifier, kid_subset: int = 32, seed: int = 0,
          inception: bool = True) -> dict:
    """Every judge of ``generated`` (m, H, W, B) against ``real`` (n, H, W, B), both in [-1, 1].

    Returns
    -------
    dict with ``fid``, ``kid_mean``, ``kid_std`` (InceptionV3, per band as grey images and
    averaged over bands; None with ``inception_error`` when the weights are missing),
    ``domain_fid``, ``domain_kid_mean``, ``domain_kid_std`` (classifier features),
    ``ramis`` and ``ramis_real`` (classifier probabilities), ``hist_rel_error`` (per band,
    mean |relative error| over the bins), ``histograms`` and ``n_real`` / ``n_generated``
    """
    as_input = lambda x: ((x + 1.0) / 2.0).astype(np.float32)  # noqa: E731  (the classifier's log scale)
    f_real, f_gen = (classifier_features(classifier, as_input(x)) for x in (real, generated))
    out = dict(n_real=len(real), n_generated=len(generated), domain_fid=fid(f_real, f_gen))
    out["domain_kid_mean"], out["domain_kid_std"] = kid(f_real, f_gen, kid_subset, seed=seed)
    out["ramis"] = ramis(probabilities(classifier, as_input(generated)))
    out["ramis_real"] = ramis(probabilities(classifier, as_input(real)))
    hist = histogram_error(real, generated)
    out["hist_rel_error"] = hist["mean_abs_rel_error"].tolist()
    out["histograms"] = {k: np.asarray(v).tolist() for k, v in hist.items() if k != "mean_abs_rel_error"}
    out.update(fid=None, kid_mean=None, kid_std=None)
    if inception:
        try:
            per_band = [(inception_features(real[..., b]), inception_features(generated[..., b]))
                        for b in range(real.shape[-1])]
        except MissingWeightsError as err:
            out["inception_error"] = str(err)
        else:
            out["fid"] = float(np.mean([fid(r, g) for r, g in per_band]))
            kids = [kid(r, g, kid_subset, seed=seed) for r, g in per_band]
            out["kid_mean"], out["kid_std"] = float(np.mean([k[0] for k in kids])), float(np.mean([k[1] for k in kids]))
    return out


def judge_generators(ds, generators: dict, profile: str, seed: int, source: str, workdir, **judge_kwargs) -> dict:
    """Judge the samples of several generator runs of this profile and seed.

    ``generators``: display name -> (model kind 'wgan' / 'ddpm' / 'cvae', the run's band indices[, the
    bands to judge]); e.g. ``("ddpm", (0, 1, 2, 3), (2,))`` judges band 2 of the 4-band DDPM
    beside a single-band model. Runs whose ``samples.npz`` is missing are reported with
    ``missing`` (the path). One domain classifier is trained per judged band set, in
    ``workdir``/``judge_b<bands>``.
    """
    from pathlib import Path

    judges, out = {}, {}
    for name, (kind, bands, *judged) in generators.items():
        bands = list(bands)
        judged = list(judged[0]) if judged else bands
        path = samples_dir(kind, run_name(profile, seed, source, run_tag(bands))) / "samples.npz"
        if not path.exists():
            out[name] = dict(missing=str(path))
            continue
        key = "".join(map(str, judged))
        if key not in judges:
            judges[key] = domain_judge(ds, judged, profile, seed, Path(workdir) / f"judge_b{key}")[0]
        samples = load_samples(path)["images"][..., [bands.index(b) for b in judged]]
        out[name] = dict(judge(held_out_halos(ds, judged), samples, judges[key], seed=seed, **judge_kwargs),
                         samples=str(path), bands=judged)
        if "inception_error" in out[name]:  # no weights: do not try to download them again for every model
            judge_kwargs["inception"] = False
    return out
