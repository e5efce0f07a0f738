"""A saved detector: the fold models of a ``kfold`` run with everything needed to score new images.

Each fold of :func:`halo_utils.detect.crossval.fit_kfold` leaves a *member* in its folder: the kept
weights (``best.weights.h5``) and ``member.json`` (its normaliser, the per-band noise of its training
sources, the sources it saw). :func:`save` gathers the members of one run into a self-describing
folder; :func:`load` gives a :class:`Detector` that refuses input it was not trained for::

    save(folder, workdir, "I", settings, training, cv["scores"], 0, labels, sources_fingerprint(sources))
    detector = load(folder)
    detector.require(["139-170"])          # DetectorMismatch: this detector needs 72-103 ... 170-231 MHz
    prob = detector.predict(jy)            # (members, n) halo probability of cut-outs (n, 64, 64, B) in Jy/beam

Layout: ``detector.json`` (format, package version, model, data and training settings, bands, cut-out and
sky grid, training-data fingerprint, operating thresholds, the run's out-of-fold score per source, one entry per member) and ``member<i>.weights.h5``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import DataConfig
from ..constants import BAND_KEYS
from ..paths import atomic_folder, atomic_write
from ..prep.preprocess import LogNormaliser, MinMaxNormaliser, band_rms
from .classify import TrainConfig

__all__ = ["MEMBER", "DETECTOR", "DetectorMismatch", "member_record", "log_spread", "write_member", "sources_fingerprint",
           "operating_threshold", "save", "load", "Detector", "separation_deg"]

MEMBER = "member.json"  # in a fold's folder, beside best.weights.h5
DETECTOR = "detector.json"
FORMAT = 1
PAPER_THRESHOLD = 0.95  # the radio-halo paper's search threshold


class DetectorMismatch(ValueError):
    """The input does not suit the detector (bands, grid); the message says what would."""


def member_record(ds, split: dict, noise, radec: dict) -> dict:
    """What one fold model needs beside its weights to score a new cluster as it scored its test sources.

    Parameters
    ----------
    ds : the fold's :class:`~halo_utils.prep.dataset.HaloDataset` (its normalisers were fitted on its training sources)
    split : source -> 'train' / 'val' / 'test' of the fold
    noise : :func:`~halo_utils.prep.noise.noise_table` of all sources
    radec : source -> (RA, Dec) in degrees
    """
    seen = sorted(name for name, part in split.items() if part in ("train", "val"))
    train = noise[noise.source.map(split) == "train"]
    log_rms = {band: log_spread(train[(train.band == band) & (train.rms > 0)].rms) for band in BAND_KEYS}
    return dict(log=ds.log.to_dict(), minmax=ds.minmax.to_dict(),
                rms_fallback=[band_rms(noise, split)[b] for b in BAND_KEYS], log_rms=log_rms,
                seen=seen, seen_radec=[list(map(float, radec[n])) for n in seen])


def log_spread(rms) -> list:
    """[median, robust sigma (1.4826 MAD)] of log10 of positive noise values: what ``noise_outlier`` compares with."""
    values = np.log10(np.asarray(rms, dtype=np.float64))
    centre = float(np.median(values))
    return [centre, float(1.4826 * np.median(np.abs(values - centre)))]


def write_member(folder, record: dict) -> Path:
    """Write ``member.json`` into a fold's folder (atomically)."""
    return atomic_write(Path(folder) / MEMBER, lambda tmp: Path(tmp).write_text(json.dumps(record)))


def sources_fingerprint(sources) -> str:
    """SHA-1 over the names, labels and pixels of the training sources (which data made this detector?)."""
    digest = hashlib.sha1()
    for src in sorted(sources, key=lambda s: s.name):
        digest.update(f"{src.name}\0{src.label}\0".encode())
        digest.update(np.ascontiguousarray(src.cube).tobytes())
    return digest.hexdigest()


def operating_threshold(scores, fpr: float = 0.05) -> dict:
    """The lowest score threshold whose out-of-fold false-positive rate is at most ``fpr``.

    ``scores``: the out-of-fold table of a ``kfold`` run (source, label, score; one row per repeat),
    averaged per source first. Returns dict(threshold, fpr (achieved), recall (out-of-fold halos at or
    above it), n_halo, n_other).
    """
    per_source = scores.groupby("source").agg(label=("label", "first"), score=("score", "mean"))
    other = np.sort(per_source.score[per_source.label == 0].to_numpy())[::-1]
    halo = per_source.score[per_source.label == 1].to_numpy()
    allowed = int(np.floor(fpr * len(other)))  # this many non-halos may sit at or above the threshold
    threshold = float(np.nextafter(other[allowed], np.inf)) if allowed < len(other) else 0.0
    return dict(threshold=threshold, fpr=float(np.mean(other >= threshold)), recall=float(np.mean(halo >= threshold)),
                n_halo=int(len(halo)), n_other=int(len(other)), target_fpr=fpr)


def save(folder, workdir, model: str, config: DataConfig, training: TrainConfig, scores, seed: int, labels: dict,
         fingerprint: str, fpr: float = 0.05, source: str = "gleam") -> Path:
    """Gather the fold models of one ``kfold`` run in ``workdir`` (``r<repeat>f<fold>/``) into a detector folder.

    ``scores``: the out-of-fold (or validation) scores (source, label, score) that set the operating threshold;
    ``labels``: source -> label of the training data; ``fingerprint``: of the training data
    (:func:`sources_fingerprint` for published-layout sources).

    The folder is assembled beside its destination and moved into place at the end: an interrupted
    save leaves the previous detector (or none), never half of one.
    """
    folds = sorted(p for p in Path(workdir).glob("r*f*") if (p / MEMBER).exists() and (p / "best.weights.h5").exists())
    if not folds:
        raise FileNotFoundError(f"{workdir}: no fold folder with {MEMBER} and best.weights.h5 (run the kfold protocol first)")
    if config.pixel_arcmin is None:
        raise DetectorMismatch("a detector needs a common sky grid (pixel_arcmin); this run stacked native pixels")
    folder = Path(folder)
    with atomic_folder(folder) as tmp:
        members = []
        for i, fold in enumerate(folds):
            shutil.copyfile(fold / "best.weights.h5", tmp / f"member{i}.weights.h5")
            members.append(dict(json.loads((fold / MEMBER).read_text()), weights=f"member{i}.weights.h5", fold=fold.name))
        meta = dict(format=FORMAT, package_version=__version__, model=model, seed=seed, source=source,
                    bands=[BAND_KEYS[b] for b in training.bands], band_indices=list(training.bands),
                    cutout=config.cutout, pixel_arcmin=config.pixel_arcmin, data_config=config.to_dict(),
                    train_config=training.to_dict(), fingerprint=fingerprint,
                    sources={str(k): int(v) for k, v in labels.items()},
                    thresholds=dict(paper=PAPER_THRESHOLD, cv=operating_threshold(scores, fpr)),
                    oof_scores=scores.groupby("source").score.mean().to_dict(), members=members)
        (tmp / DETECTOR).write_text(json.dumps(meta, indent=1))
    return folder


def load(folder) -> "Detector":
    """The :class:`Detector` saved in ``folder``; a clear error when it is not one."""
    path = Path(folder) / DETECTOR
    if not path.exists():
        raise FileNotFoundError(f"{folder}: no {DETECTOR}; make a detector with notebook 05_classifier "
                                "(protocol kfold) or halo_utils.search.train_detector")
    meta = json.loads(path.read_text())
    if meta.get("format") != FORMAT:
        raise DetectorMismatch(f"{path}: detector format {meta.get('format')!r}, this package reads format {FORMAT}")
    return Detector(Path(folder), meta)


class Detector:
    """The members of a saved detector, each with its own normaliser; see the module docstring."""

    def __init__(self, folder: Path, meta: dict):
        self.folder, self.meta = folder, meta
        self.config = DataConfig.from_dict(meta["data_config"])
        self.training = TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["train_config"].items()})
        self.bands = list(meta["bands"])
        self._nets = None

    def __repr__(self):
        return (f"Detector({self.meta['model']}, {len(self.meta['members'])} members, bands {self.bands} MHz, "
                f"{self.config.cutout} px of {self.config.pixel_arcmin}', trained on {len(self.meta['sources'])} "
                f"{self.meta['source']} sources)")

    @property
    def members(self) -> list:
        return self.meta["members"]

    def require(self, bands, what: str = "the input"):
        """Raise :class:`DetectorMismatch` unless every band the detector needs is among ``bands`` (band keys)."""
        missing = [b for b in self.bands if b not in set(bands)]
        if missing:
            hint = (" Train a detector on those bands only (05_classifier with TrainConfig.bands, e.g. bands=(2,) for "
                    "139-170 MHz) and score with it." if len(set(bands)) < len(self.bands) else "")
            raise DetectorMismatch(f"{what} has bands {sorted(set(bands))} MHz; this detector needs {self.bands} MHz "
                                   f"(missing {missing}).{hint}")

    def unseen(self, name: str, radec=None, radius_deg: float = 0.0) -> list:
        """Indices of the members that never saw ``name`` (nor, with ``radius_deg``, a source that close) in training."""
        out = []
        for i, m in enumerate(self.members):
            near = False
            if radec is not None and radius_deg > 0 and m["seen_radec"]:
                near = bool(np.any(separation_deg(radec, np.asarray(m["seen_radec"])) < radius_deg))
            if name not in m["seen"] and not near:
                out.append(i)
        return out

    def inputs(self, jy: np.ndarray, member: int) -> np.ndarray:
        """Cut-outs (n, S, S, B) in Jy/beam of the detector's bands as member ``member``'s network inputs in [0, 1]."""
        m, idx = self.members[member], self.meta["band_indices"]
        if self.training.scaling == "minmax":
            return MinMaxNormaliser.from_dict(m["minmax"], idx).transform(jy)
        return (LogNormaliser.from_dict(m["log"], idx).transform(jy) + 1) / 2

    def networks(self) -> list:
        """The members' Keras models (built and loaded on first use)."""
        if self._nets is None:
            from ..models.classifiers import build_classifier

            self._nets = []
            for m in self.members:
                net = build_classifier(self.meta["model"], size=self.config.cutout, bands=len(self.bands))
                net.load_weights(self.folder / m["weights"])
                self._nets.append(net)
        return self._nets

    def predict(self, jy: np.ndarray, members=None, batch_size: int = 256) -> np.ndarray:
        """Halo probability (len(members), n) of cut-outs (n, S, S, B) in Jy/beam (``members`` default: all)."""
        nets = self.networks()
        members = range(len(nets)) if members is None else members
        out = []
        for i in members:
            x = self.inputs(jy, i)
            out.append(np.concatenate([np.asarray(nets[i](x[j:j + batch_size], training=False))[:, 1]
                                       for j in range(0, len(x), batch_size)]))
        return np.stack(out)


def separation_deg(radec, others: np.ndarray) -> np.ndarray:
    """Angular distance (deg) from one (RA, Dec) to each row of ``others`` (n, 2), all in degrees."""
    ra1, dec1 = np.radians(radec)
    ra2, dec2 = np.radians(others[:, 0]), np.radians(others[:, 1])
    cos = np.sin(dec1) * np.sin(dec2) + np.cos(dec1) * np.cos(dec2) * np.cos(ra1 - ra2)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))
