"""A halo detector trained on halos injected into real GLEAM backgrounds, judged on held-out real fields.

``train_on='injected'`` of notebook 05. For every fold of the ``kfold`` plan (:func:`halo_utils.detect.crossval.kfold_plan`):

1. three banks of real backgrounds (:mod:`halo_utils.prep.backgrounds`): the fields of the fold's training, validation
   and test sources, each kept clear of the others' fields and of every halo-class source;
2. a network trained on pairs of training-bank cut-outs with and without an injected halo (:mod:`halo_utils.prep.injected`),
   new draws every epoch, its checkpoint and operating threshold (5 % false positives) chosen on validation-bank pairs;
3. measured on the test bank, never trained on: each held-out cut-out with a halo injected and with nothing, so
   completeness (against the halo's peak S/N, flux density and size) and the false-positive rate come from the same
   real skies; and the fold's test sources scored as the catalogue search scores a cluster (90 deg turns and
   mirrors of the central cut-out), out of fold.

Intervals resample the unit that varies: host fields for the injections, sources for the AUC.

    result = run(sources, "I", settings, training, seed=0, workdir=...)
    realsky_measure.summary(result)   # completeness_real_snr5, fpr_real, oof_source_auc, auc_vs_clusters, ...
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from .. import paths
from ..constants import BAND_KEYS
from ..data.catalogue import read_source_table
from ..models.classifiers import build_classifier
from ..prep.augment import augment, variants
from ..prep.backgrounds import build_bank, field_extent_deg, wide_fields
from ..prep.dataset import source_field, source_rms, source_rng
from ..prep.injected import Injected
from ..prep.noise import noise_table
from ..prep.preprocess import LogNormaliser, MinMaxNormaliser, band_rms
from . import artefact, limits
from .classify import predict, train
from .crossval import fold_seed, kfold_plan, plan_seed

__all__ = ["scoring_config", "Scaled", "fold_banks", "fold_sources", "run"]

FIT_SAMPLE = 512  # training images the log scaling is fitted on


def scoring_config(config):
    """The settings a real cluster is scored with: the central cut-out turned by multiples of 90 deg and mirrored,
    no brightness change (what the injected training images are: exact turns, no interpolation)."""
    return dataclasses.replace(config, n_rotations=4, flips=("none", "horizontal"), n_brightness=1)


class Scaled:
    """Lazy images (``Injected`` or an array) as network inputs in [0, 1] of ``bands``: ``x[rows]``; ``at_epoch``
    passes on."""

    def __init__(self, images, log: LogNormaliser, bands=tuple(range(len(BAND_KEYS)))):
        self.images, self.log, self.bands = images, log, tuple(bands)
        self.shape = (*images.shape[:-1], len(self.bands))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, rows) -> np.ndarray:
        return inputs(self.images[rows], self.log, self.bands)

    def at_epoch(self, epoch: int) -> "Scaled":
        return Scaled(self.images.at_epoch(epoch), self.log, self.bands)

    def fingerprint(self) -> str:
        text = self.images.fingerprint() + json.dumps(self.log.to_dict())
        if self.bands != tuple(range(len(BAND_KEYS))):
            text += f"bands {self.bands}"
        return hashlib.sha1(text.encode()).hexdigest()


def inputs(jy: np.ndarray, log: LogNormaliser, bands=None) -> np.ndarray:
    """Cut-outs (n, S, S, 4) Jy/beam -> network inputs in [0, 1] of ``bands`` (indices; None: all), as
    ``Detector.inputs`` scales them."""
    out = (log.transform(jy) + 1) / 2
    return out if bands is None or tuple(bands) == tuple(range(jy.shape[-1])) else out[..., list(bands)]


def _noise(sources):
    """(noise table, source -> the authors' clip level per band (B,), NaN where not clipped)."""
    noise = noise_table(sources)
    thresholds = {name: rows.set_index("band").loc[list(BAND_KEYS)].threshold.to_numpy(float)
                  for name, rows in noise.groupby("source")}
    return noise, thresholds


def fold_banks(sources, split: dict, config, noise, thresholds: dict, table, fields: dict | None = None) -> dict:
    """The ``train``, ``val`` and ``test`` banks of one fold (each the fields of that part's sources; the training
    bank kept clear of the others' fields); ``fields``: :func:`~halo_utils.prep.backgrounds.wide_fields`, if made."""
    rms, _ = source_rms(noise, split, config.clip_sigma)
    z, kinds = dict(zip(table.source, table.z)), dict(zip(table.source, table.kind))
    return {part: build_bank(sources, [n for n, p in split.items() if p == part], config, rms, thresholds, z, kinds,
                             keep_out=part == "train", fields=fields) for part in ("train", "val", "test")}


def fold_sources(sources, split: dict, config, noise, log: LogNormaliser, seed: int, bands=None,
                 part: str = "test") -> tuple:
    """The fold's sources of ``part`` as views of ``config``'s augmentation (for ``test``: :func:`scoring_config`, as
    the search scores a cluster): (inputs (n, S, S, len(bands)), label (n,), source (n,))."""
    rms, _ = source_rms(noise, split, config.clip_sigma)
    xs, labels, names = [], [], []
    for src in sorted((s for s in sources if split[s.name] == part), key=lambda s: s.name):
        views = augment(source_field(src, config, rms[src.name]), variants(config, source_rng(seed, src.name)),
                        config.cutout)
        xs.append(inputs(views, log, bands))
        labels += [src.label] * len(views)
        names += [src.name] * len(views)
    return np.concatenate(xs), np.array(labels), np.array(names)


def _fold(sources, model, config, training, fold: dict, seed: int, workdir: Path, noise, thresholds, table,
          fields: dict, tune: bool = False) -> dict:
    """Train one fold's network on injected pairs (``tune``: then fine-tune it on the fold's labelled sources) and
    measure it (module docstring, steps 1-3)."""
    import keras
    import pandas as pd

    from .classify import source_scores

    split, s = fold["split"], fold_seed(seed, fold["repeat"], fold["fold"])
    banks = fold_banks(sources, split, config, noise, thresholds, table, fields)
    shares = dict(decoy_share=training.injected_decoys, hard_share=training.injected_hard)
    train_set = Injected(banks["train"], training.injected_images, s, config, **shares)
    log = LogNormaliser().fit(train_set[:min(FIT_SAMPLE, len(train_set))],
                              config.log_reference_sigma * np.median(banks["train"].rms, axis=0))
    val_x, val_truth = Injected(banks["val"], training.injected_val, s + 1, config, **shares).make(slice(None))
    label = train_set.label
    bands = training.bands
    train_data = dict(x=Scaled(train_set, log, bands), y=np.eye(2, dtype=np.float32)[label], label=label)
    val_data = dict(x=inputs(val_x, log, bands), y=np.eye(2, dtype=np.float32)[val_truth.label], label=val_truth.label.to_numpy())
    keras.utils.set_random_seed(s)
    net = build_classifier(model, size=config.cutout, bands=len(bands))
    folder = workdir / f"r{fold['repeat']}f{fold['fold']}"
    fit = train(net, dataclasses.replace(training, fit_gate=0.0), train_data, val_data, folder, seed=s)
    before, tuned = None, None
    if tune:
        x, y, names = fold_sources(sources, split, scoring_config(config), noise, log, seed, bands)
        before = source_scores(predict(net, x), y, names).reset_index().to_dict("records")
        tuned = _tune(net, sources, split, config, training, noise, log, seed, folder / "tuned")
    val = pd.DataFrame(dict(source=val_truth.image.astype(str), label=val_truth.label, score=predict(net, val_data["x"])))
    threshold = artefact.operating_threshold(val, training.injected_fpr)
    empty = ((val_truth.kind == "none") & ~val_truth.on_cluster_centre).to_numpy() | (val.label == 1).to_numpy()
    threshold_empty = artefact.operating_threshold(val[empty], training.injected_fpr)  # against empty sky only
    test_x, test = Injected(banks["test"], training.injected_test, s + 2, config, decoy_share=0.0,
                            hard_share=training.injected_hard).make(slice(None))
    test = test.assign(score=predict(net, inputs(test_x, log, bands)), threshold=threshold["threshold"],
                       threshold_empty=threshold_empty["threshold"],
                       repeat=fold["repeat"], fold=fold["fold"])
    limits = _limits(lambda jy: predict(net, inputs(jy, log, bands)), threshold["threshold"], banks["test"], table,
                     config, s, training.limit_draws) if fold["repeat"] == 0 else []
    x, y, names = fold_sources(sources, split, scoring_config(config), noise, log, seed, bands)
    scores = source_scores(predict(net, x), y, names).reset_index()
    artefact.write_member(folder, _member(log, banks["train"], noise, split, sources))
    return dict(repeat=fold["repeat"], fold=fold["fold"], threshold=threshold, threshold_empty=threshold_empty,
                injections=test.to_dict("records"),
                limits=limits,
                scores=scores.assign(repeat=fold["repeat"], fold=fold["fold"]).to_dict("records"),
                best_epoch=fit["best_epoch"], epochs_run=fit["epochs_run"], train_seconds=fit["train_seconds"],
                history=fit["history"], scores_before_tuning=before,
                tuning=None if tuned is None else {k: tuned[k] for k in ("best_epoch", "epochs_run", "train_seconds")},
                bank_sizes={p: dict(fields=len(b.names), allowed=b.n_allowed,
                                                            independent=b.independent(), cluster_centres=len(b.hard))
                                                   for p, b in banks.items()})


def _tune(net, sources, split: dict, config, training, noise, log: LogNormaliser, seed: int, folder: Path) -> dict:
    """Fine-tune ``net`` in place on the fold's labelled training sources (their augmented views, scaled as the
    injected images were) at ``training.injected_tune_lr``, the checkpoint and early stopping on its validation
    sources (``train_on='injected+gleam'``); returns :func:`~halo_utils.detect.classify.train`'s record."""
    parts = {}
    for part in ("train", "val"):
        x, label, names = fold_sources(sources, split, config, noise, log, seed, training.bands, part)
        parts[part] = dict(x=x, y=np.eye(2, dtype=np.float32)[label], label=label, source=names)
    tuning = dataclasses.replace(training, learning_rate=training.injected_tune_lr)
    return train(net, tuning, parts["train"], parts["val"], folder, seed=seed)


def _limits(score, threshold: float, bank, table, config, seed: int, draws: int) -> list:
    """Upper limits (:mod:`halo_utils.detect.limits`) of the held-out non-halo clusters whose centres are in ``bank``;
    ``found_alone``: how often the cluster's centre with nothing injected is above the threshold (at 0.5 or more
    there is no limit)."""
    z = dict(zip(table.source, table.z))
    out = []
    for field, y, x in bank.hard:
        name = bank.names[field]
        known = z.get(name) is not None and np.isfinite(z[name])
        at = z[name] if known else limits.DEFAULT_Z
        curve = limits.detection_curve(lambda jy: score(jy) >= threshold, bank, field, y, x, at,
                                       config, seed, per_flux=draws)
        s50, s90 = limits.flux_limit(curve, 0.5), limits.flux_limit(curve, 0.9)
        empty = float(curve.share[curve.flux_150 <= 0].iloc[0])
        out.append(dict(cluster=name, z=at, z_known=known, re_kpc=limits.re_kpc(), found_alone=empty, s50_jy=s50, s90_jy=s90,
                        p50_w_hz=limits.power_150(s50, at), p90_w_hz=limits.power_150(s90, at),
                        curve=curve.to_dict("records")))
    return out


def _member(log: LogNormaliser, bank, noise, split: dict, sources) -> dict:
    """What the saved detector needs of one fold's network: its scaling, the noise of its training fields, what it saw."""
    seen = sorted(n for n, p in split.items() if p in ("train", "val"))
    radec = {s.name: s.radec for s in sources}
    log_rms = {b: artefact.log_spread(bank.rms[:, i]) for i, b in enumerate(BAND_KEYS)}
    unit = MinMaxNormaliser(np.zeros(len(BAND_KEYS)), np.ones(len(BAND_KEYS)))  # unused: the detector scales by log
    reach = max(field_extent_deg(s, bank.pixel_arcmin) for s in sources) / np.sqrt(2)
    return dict(log=log.to_dict(), minmax=unit.to_dict(), rms_fallback=[band_rms(noise, split)[b] for b in BAND_KEYS],
                log_rms=log_rms, seen=seen, seen_radec=[list(map(float, radec[n])) for n in seen],
                field_radius_deg=float(reach))


def run(sources, model: str, config, training, seed: int, workdir, root=None, progress: bool = True,
        tune: bool = False) -> dict:
    """Every fold of the ``kfold`` plan of ``seed`` trained on injected halos and measured (module docstring);
    ``tune``: each fold's network then fine-tuned on its labelled training sources (``train_on='injected+gleam'``),
    the sources' scores before the fine-tuning kept too (``scores_before_tuning``) for a paired comparison.

    A finished fold is kept in ``workdir/r<repeat>f<fold>/fold.json`` and read back by a rerun with the same
    settings; a killed fold resumes from its last epoch (:func:`~halo_utils.detect.classify.train`).

    Returns
    -------
    dict with ``plan``, ``folds`` (per fold: threshold, fit, bank sizes), ``injections`` (one row per held-out
    injection or empty cut-out: host field, label, halo flux / size / z / peak S/N, score, candidate), ``scores``
    (out-of-fold per source and repeat), ``detector`` (saved folder)
    """
    import pandas as pd
    from tqdm.auto import tqdm

    workdir = Path(workdir)
    table = read_source_table(root)
    noise, thresholds = _noise(sources)
    plan = kfold_plan(sources, config, training.folds, training.injected_repeats, plan_seed(training, seed),
                      training.val_fraction)
    fields, folds = None, []
    for fold in tqdm(plan, desc=f"{model} folds (injected)", disable=not progress):
        saved = workdir / f"r{fold['repeat']}f{fold['fold']}" / "fold.json"
        key = _key(config, training, fold, seed, model, tune)
        if saved.exists() and json.loads(saved.read_text()).get("key") == key:
            folds.append(json.loads(saved.read_text()))
            _reach(saved.parent / artefact.MEMBER, sources, config)
            continue
        if fields is None:  # each source's field once for every fold (the noise of the fields, not of a fold's fallback)
            fields = wide_fields(sources, config, source_rms(noise, {s.name: "train" for s in sources},
                                                              config.clip_sigma)[0])
        tick = time.perf_counter()
        out = dict(_fold(sources, model, config, training, fold, seed, workdir, noise, thresholds, table, fields, tune),
                   key=key)
        out["fold_seconds"] = time.perf_counter() - tick
        paths.write_json(saved, out)
        folds.append(json.loads(saved.read_text()))
    injections = pd.DataFrame([r for f in folds for r in f["injections"]])
    injections["candidate"] = injections.score >= injections.threshold
    scores = pd.DataFrame([r for f in folds for r in f["scores"]])
    before = pd.DataFrame([dict(r, repeat=f["repeat"], fold=f["fold"]) for f in folds
                           for r in f.get("scores_before_tuning") or []])
    detector = artefact.save(workdir / "detector", workdir, model, scoring_config(config), training, scores, seed,
                             {s.name: s.label for s in sources}, artefact.sources_fingerprint(sources),
                             source="gleam-injected")
    return dict(plan=plan, folds=folds, injections=injections, scores=scores, scores_before_tuning=before,
                detector=detector,
                limits=pd.DataFrame([r for f in folds for r in f["limits"]]), kinds=dict(zip(table.source, table.kind)))


def _reach(member, sources, config):
    """Give a member written before members carried it the radius of its training fields (``field_radius_deg``)."""
    record = json.loads(Path(member).read_text())
    if "field_radius_deg" not in record:
        record["field_radius_deg"] = max(field_extent_deg(s, config.pixel_arcmin) for s in sources) / np.sqrt(2)
        artefact.write_member(Path(member).parent, record)


def _key(config, training, fold, seed, model, tune: bool = False) -> str:
    text = json.dumps(dict(config=config.to_dict(), training=training.to_dict(), split=fold["split"], seed=seed,
                           model=model, version=3, **({"tune": True} if tune else {})), sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()
