"""A halo detector trained on the mock sky, and its completeness: where it finds halos and where it does not.

Thousands of labelled mock fields (:mod:`halo_utils.prep.mockset`, the balanced population of
:mod:`halo_utils.sky.population`) train one network; separate validation fields choose its
checkpoint and set the operating threshold at a stated false-positive rate; held-out test fields
measure completeness (share of halos scoring at or above the threshold) against the halo's peak
S/N per beam, flux density, size and redshift, and the false-positive rate per kind of non-halo
field. The model is saved as a one-member detector (:mod:`halo_utils.detect.artefact`), so
``halo_utils.search`` can score the real clusters with it.

    result = train_on_mock("I", settings, training, n_fields=3000, seed=0, workdir=..., clipped=False)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..constants import BAND_KEYS
from ..models.classifiers import build_classifier
from ..prep.features import central_peaks
from ..prep.mockset import Views, build, mock_sky_config
from ..prep.preprocess import LogNormaliser, MinMaxNormaliser
from . import artefact
from .classify import predict, settings_tag, train
from .oof import bootstrap_auc

__all__ = ["SNR_BINS", "OBSERVED_BINS", "COMPLETENESS_AXES", "Inputs", "normaliser", "streamed", "peak_rss_mb",
           "run_tag", "splits", "train_on_mock", "field_scores", "completeness", "by_observed", "false_positives",
           "summary"]

SNR_BINS = (0, 2, 5, 10, 20, np.inf)  # peak S/N per beam of the halo at 139-170 MHz (noise-free rendering)
OBSERVED_BINS = (-np.inf, 5, 10, 20, np.inf)  # central peak S/N of the image at 139-170 MHz (prep.features)
COMPLETENESS_AXES = {"peak_snr": "halo peak S/N per beam, 139-170 MHz", "halo_flux_150": "halo flux density, 150 MHz (Jy)",
                     "halo_re_arcmin": "halo e-folding radius (arcmin)", "halo_re_kpc": "halo e-folding radius (kpc)",
                     "z": "redshift"}


def _inputs(x: np.ndarray, log: LogNormaliser) -> np.ndarray:
    """Jy/beam cut-outs -> network inputs in [0, 1] (float32), as ``Detector.inputs`` scales them."""
    out = log.transform(x)
    out += 1
    out /= 2
    return out


def run_tag(model: str, clipped: bool, clip_sigma, sky: dict | None = None, overrides: dict | None = None) -> str:
    """Name of a mock training: model, whether the mock images were clipped like the published ones, the
    pipeline's clip (``clip4``, or ``noclip`` for none), the mock-sky settings changed (e.g. ``_sidelobelevel0.03``)
    and the :class:`~halo_utils.detect.classify.TrainConfig` overrides (e.g. ``_mockfields12000``), so that runs
    with different settings never share a folder."""
    return (f"{model}_{'clipped' if clipped else 'unclipped'}_" + ("noclip" if clip_sigma is None else f"clip{clip_sigma:g}")
            + settings_tag(sky) + (f"_train{settings_tag(overrides)}" if overrides else ""))


class Inputs:
    """Network inputs made from :class:`~halo_utils.prep.mockset.Views` as they are read: ``inputs[rows]``
    (len(rows), 64, 64, B) float32 in [0, 1]; ``fingerprint()`` names the fields, the views and the scaling.
    With ``fresh``, ``at_epoch(k)`` gives training epoch ``k`` views of its own (``Views.redrawn``): the network
    then never sees the same rotation and mirror of a field twice in a row, which curbs memorising fields."""

    def __init__(self, views: Views, log: LogNormaliser, fresh: bool = False):
        self.views, self.log, self.shape, self.fresh = views, log, views.shape, fresh

    def at_epoch(self, epoch: int) -> "Inputs":
        """The inputs training epoch ``epoch`` (from 0) reads: these, or with ``fresh`` epoch ``epoch``'s views."""
        return Inputs(self.views.redrawn(epoch), self.log) if self.fresh else self

    def __len__(self) -> int:
        return len(self.views)

    def __getitem__(self, rows) -> np.ndarray:
        return _inputs(self.views[rows], self.log)

    def fingerprint(self) -> str:
        digest = hashlib.sha1(self.views.fields.fingerprint().encode())
        for part in (self.views.index, self.views.turns, self.views.mirror):
            digest.update(np.ascontiguousarray(part))
        if self.fresh:
            digest.update(b"fresh views every epoch")
        digest.update(json.dumps(self.log.to_dict()).encode())
        return digest.hexdigest()


def normaliser(views: Views, rms: np.ndarray, config) -> LogNormaliser:
    """The log scaling of the training ``views`` (``x0``: ``config.log_reference_sigma`` times the median of the
    fields' noise ``rms`` (n, B) per band), fitted in one pass over the views, read in chunks."""
    return LogNormaliser().fit(views, config.log_reference_sigma * np.median(rms, axis=0))


def streamed(mocks, views: Views, log: LogNormaliser, fresh: bool = False) -> dict:
    """Training (or validation) data of :func:`halo_utils.detect.classify.train` from the ``views`` of mock fields:
    ``x`` the lazy network inputs (``fresh``: new views every epoch), ``y`` one-hot (n, 2), ``label`` and
    ``source`` (n,)."""
    label = mocks.table.label.to_numpy()[views.index]
    return dict(x=Inputs(views, log, fresh), y=np.eye(2, dtype=np.float32)[label], label=label,
                source=mocks.table.name.to_numpy()[views.index])


def splits(n_fields: int, seed: int, config, sky, progress: bool = True) -> dict:
    """The ``train`` (``n_fields``), ``val`` (a fifth as many) and ``test`` (half as many) :class:`MockSet` of a
    mock training of ``seed``: three independent mock seeds, so no field is in two of them."""
    return {name: build(n, s, config, sky, progress=progress) for name, n, s in
            (("train", n_fields, 3 * seed), ("val", max(n_fields // 5, 20), 3 * seed + 1),
             ("test", max(n_fields // 2, 20), 3 * seed + 2))}


def field_scores(net, mocks, log: LogNormaliser, per_field: int, seed: int):
    """The mean halo probability of each field over ``per_field`` views: ``mocks.table`` with a ``score`` column."""
    lazy = Views(mocks.fields, per_field, seed)
    prob, index, n = predict(net, Inputs(lazy, log)), lazy.index, len(mocks.table)
    return mocks.table.assign(score=np.bincount(index, prob, n) / np.bincount(index, None, n))


def completeness(table, threshold: float, column: str = "peak_snr", bins=SNR_BINS):
    """Share of halo fields at or above ``threshold`` in bins of ``column``, with counts (pandas)."""
    import pandas as pd

    halos = table[table.label == 1]
    cut = pd.cut(halos[column], list(bins), right=False)
    out = halos.groupby(cut, observed=False).agg(n=("score", "size"), found=("score", lambda s: int((s >= threshold).sum())))
    out["completeness"] = out.found / out.n.where(out.n > 0)
    return out.reset_index().rename(columns={column: f"{column}_bin"}).astype({f"{column}_bin": str})


def by_observed(table, threshold: float, bins=OBSERVED_BINS):
    """Per bin of ``observed_snr`` (the central peak S/N of the image, measurable on real fields too): halos (``n``,
    ``found`` at or above ``threshold``, the median of their true ``peak_snr`` where the table has it) and the other
    fields (``n_others``, ``others_above``). A pandas table, one row per bin."""
    import pandas as pd

    cut = pd.cut(table.observed_snr, list(bins), right=False)
    rows = []
    for interval, part in table.groupby(cut, observed=False):
        halos, others = part[part.label == 1], part[part.label == 0]
        rows.append(dict(observed_snr_bin=str(interval), n=len(halos), found=int((halos.score >= threshold).sum()),
                         n_others=len(others), others_above=int((others.score >= threshold).sum()),
                         median_true_snr=float(halos.peak_snr.median()) if "peak_snr" in part and len(halos) else None))
    return pd.DataFrame(rows)


def false_positives(table, threshold: float):
    """False-positive rate per kind of non-halo field (decoy kind x central content), with counts."""
    others = table[table.label == 0]
    out = others.groupby(["kind", "central"]).agg(n=("score", "size"), above=("score", lambda s: int((s >= threshold).sum())))
    out["fpr"] = out.above / out.n
    return out.reset_index()


def train_on_mock(model: str, config, training, n_fields: int, seed: int, workdir, clipped: bool = False,
                  fpr: float = 0.05, per_field: int = 2, progress: bool = True, sky: dict | None = None) -> dict:
    """Train ``model`` on ``n_fields`` mock fields, choose the checkpoint and threshold on ``n_fields // 5``
    validation fields, measure on ``n_fields // 2`` test fields; save the detector in ``workdir/detector``.

    Parameters
    ----------
    clipped : mock images clipped as the published ones were before the pipeline's own clip
    fpr : false-positive rate of the operating threshold, on the validation fields
    per_field : random views (90 deg rotations, mirror) of each field
    sky : :class:`~halo_utils.sky.mock.SkyConfig` fields to change, e.g. ``{"sidelobe_level": 0.03}``

    Returns
    -------
    dict with ``val`` and ``test`` (per-field tables with ``score``; ``test`` also ``truth``, ``candidate``: at
    or above the threshold, and ``observed_snr``: :func:`~halo_utils.prep.features.central_peak_snr` of the
    field), ``threshold`` (artefact.operating_threshold on the validation fields), ``test_auc`` and interval, ``completeness`` (by peak S/N), ``false_positives``,
    ``fit`` (training history), ``detector`` (folder), ``member_weights`` (the network's weights, to start
    fine-tuning from), ``sizes``, ``peak_rss_mb`` (the process's peak resident memory so far: the fields stay on
    disk and the training images are made batch by batch, so it does not grow with ``n_fields``)
    """
    import dataclasses

    import keras
    from sklearn.metrics import roc_auc_score

    # halos too faint to see are labels no network can learn: the fit gate (training accuracy >= 0.95) would only
    # admit epochs that memorise them
    training = dataclasses.replace(training, fit_gate=0.0)
    if training.scaling != "log" or tuple(training.bands) != tuple(range(len(BAND_KEYS))):
        raise ValueError("the mock-sky detector is trained on all four bands with the log scaling "
                         f"(got bands {training.bands}, scaling {training.scaling!r})")
    parts = splits(n_fields, seed, config, mock_sky_config(config, clipped=clipped, **(sky or {})), progress)
    seen = Views(parts["train"].fields, per_field, seed)
    log = normaliser(seen, parts["train"].rms, config)
    train_data = streamed(parts["train"], seen, log, fresh=training.mock_fresh_views)
    val_data = streamed(parts["val"], Views(parts["val"].fields, per_field, seed + 1), log)
    keras.utils.set_random_seed(seed)
    net = build_classifier(model, size=config.cutout, bands=len(BAND_KEYS))
    member = Path(workdir) / "r0f0"
    fit = train(net, training, train_data, val_data, member, seed=seed)
    val = field_scores(net, parts["val"], log, per_field, seed + 1)
    test = field_scores(net, parts["test"], log, per_field, seed + 2).assign(
        observed_snr=central_peaks(parts["test"].fields, parts["test"].rms, config.pixel_arcmin))
    scores = val.rename(columns={"name": "source"})[["source", "label", "score"]]
    threshold = artefact.operating_threshold(scores, fpr)
    artefact.write_member(member, _member_record(log, parts["train"]))
    detector = artefact.save(Path(workdir) / "detector", workdir, model, config, training, scores, seed,
                             dict(zip(parts["train"].table.name, parts["train"].table.label)),
                             _fingerprint(parts["train"]), fpr, source="mock-fields")
    long = test.rename(columns={"name": "source"}).assign(repeat=0)[["source", "label", "score", "repeat"]]
    test = test.assign(truth=test.label, candidate=test.score >= threshold["threshold"])
    return dict(val=val, test=test, threshold=threshold, fit=fit, detector=detector, member_weights=member / "best.weights.h5",
                test_auc=float(roc_auc_score(test.label, test.score)), test_auc_ci=list(bootstrap_auc(long)),
                completeness=completeness(test, threshold["threshold"]),
                false_positives=false_positives(test, threshold["threshold"]),
                test_fpr=float((test[test.label == 0].score >= threshold["threshold"]).mean()),
                sizes={k: int(len(v.table)) for k, v in parts.items()}, train_images=len(train_data["label"]),
                peak_rss_mb=peak_rss_mb())


def _member_record(log: LogNormaliser, mocks) -> dict:
    """What the saved detector needs of its one member: the normaliser and the training fields' noise."""
    rms = mocks.rms
    log_rms = {b: artefact.log_spread(rms[:, i]) for i, b in enumerate(BAND_KEYS)}
    unit = MinMaxNormaliser(np.zeros(len(BAND_KEYS)), np.ones(len(BAND_KEYS)))  # unused: the detector scales by log
    return dict(log=log.to_dict(), minmax=unit.to_dict(), rms_fallback=np.median(rms, axis=0).tolist(),
                log_rms=log_rms, seen=[], seen_radec=[])


def _fingerprint(mocks) -> str:
    digest = hashlib.sha1(mocks.fields.fingerprint().encode())
    digest.update(mocks.table.label.to_numpy().tobytes())
    return digest.hexdigest()


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, MB (Linux and macOS report it in different units)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def summary(result: dict) -> dict:
    """The JSON-able part of a :func:`train_on_mock` result (for a notebook's summary)."""
    keys = ("threshold", "test_auc", "test_auc_ci", "test_fpr", "sizes", "train_images", "peak_rss_mb")
    snr5 = result["test"][(result["test"].label == 1) & (result["test"].peak_snr >= 5)]
    return dict({k: result[k] for k in keys}, detector=str(result["detector"]),
                completeness_snr5=float(snr5.candidate.mean()) if len(snr5) else float("nan"), n_halos_snr5=int(len(snr5)),
                completeness=result["completeness"].to_dict("records"),
                by_observed=by_observed(result["test"], result["threshold"]["threshold"]).to_dict("records"),
                false_positives=result["false_positives"].to_dict("records"),
                best_epoch=result["fit"]["best_epoch"], epochs_run=result["fit"]["epochs_run"],
                train_seconds=result["fit"]["train_seconds"], history=result["fit"]["history"])
