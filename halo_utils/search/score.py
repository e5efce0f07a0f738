"""Scoring clusters with a saved detector: the same chain as training, one field at a time, with quality flags.

For each :class:`~halo_utils.search.fields.Field` and each detector member: the noise of every band
(:func:`halo_utils.prep.noise.band_noise`, the member's training median where it cannot be told),
the bands resampled onto the detector's sky grid centred on the cluster, clipped at the detector's
level, cut out at the detector's augmentation variants (seeded by the cluster's name, as training
scored its test sources) and averaged. A cluster's score is the mean over members, ``score_std`` their
spread. Scoring a published source with the members that did not train on it reproduces its
out-of-fold score of the run that made the detector (``tests/test_search.py``).

Flags (``flags`` column, ';'-separated): ``missing_band:<band>``, ``unreadable:<band>: <why>``,
``download_failed: <why>`` and the reader's ``nan_pixels`` / ``zero_region`` / ``negative_median`` /
``unit``, plus ``rms_fallback:<band>`` (noise not measurable), ``noise_outlier:<band>`` (RMS more than
``noise_sigma`` robust sigma from the training sources' in log), ``image_edge:<band>:<coverage>``,
``empty_band:<band>`` (nothing above the clip in the cut-out), ``bright_source:<band>:<peak/rms>``
(a peak above ``bright_sigma`` rms in the cut-out), ``training_source:<name>`` (within ``training_radius_deg``
of a cluster the detector trained on: its score is not a discovery), ``training_field:<name>`` (inside the field of a
source whose sky an injection-trained detector learnt its backgrounds from: a halo there may have been shown to it as
"no halo").

With ``limit_draws`` > 0, every cluster scored below the operating threshold also gets its upper limit (``limit_*``
columns: :mod:`halo_utils.detect.limits` on the cluster's own field, ``limit_draws`` halos per flux density). A cluster is scored unless a band the detector
needs is missing or unreadable, or covers less than ``min_coverage`` of the field.
"""

from __future__ import annotations

import time

import numpy as np

from ..constants import BAND_KEYS
from ..data.grid import field_size, reproject_band, sky_grid
from ..detect.artefact import PAPER_THRESHOLD, separation_deg
from ..prep.augment import augment, variants
from ..prep.dataset import rms_with_fallback, source_rng, subtracted
from ..prep.noise import band_noise
from ..prep.preprocess import central_cutout, clip_cube

__all__ = ["Scorer", "search", "mark_candidates", "completeness_purity", "summary"]


class Scorer:
    """Score fields with a :class:`~halo_utils.detect.artefact.Detector` (settings of the flags as attributes)."""

    def __init__(self, detector, bright_sigma: float = 300.0, noise_sigma: float = 4.0, min_coverage: float = 0.9,
                 exclude_seen: bool = False, seen_radius_deg: float = 0.0, training_radius_deg: float = 0.1,
                 limit_draws: int = 0):
        self.detector, self.bright_sigma, self.noise_sigma = detector, bright_sigma, noise_sigma
        self.limit_draws = limit_draws
        self.min_coverage, self.exclude_seen, self.seen_radius_deg = min_coverage, exclude_seen, seen_radius_deg
        self.training_radius_deg = training_radius_deg
        self.field_radius_deg = max(m.get("field_radius_deg", 0.0) for m in detector.members)
        seen = {n: tuple(p) for m in detector.members for n, p in zip(m["seen"], m["seen_radec"])}
        self.seen_names, self.seen_radec = list(seen), np.array(list(seen.values()), float).reshape(-1, 2)
        config = detector.config
        self.target_size = field_size(config.cutout)
        self.index = [BAND_KEYS.index(b) for b in detector.bands]

    def __call__(self, field) -> tuple:
        """Score one field. Returns (table row dict, preview (S, S, B) Jy/beam clipped central cut-out or None)."""
        det, config = self.detector, self.detector.config
        flags = list(field.flags)
        row = dict(name=field.name, ra_deg=np.nan, dec_deg=np.nan, score=np.nan, score_std=np.nan, n_members=0,
                   scored=False)
        if field.radec is not None:
            row.update(ra_deg=field.radec[0], dec_deg=field.radec[1])
            flags += self._training_flags(field.radec)
        lacking = [b for b in det.bands if b not in field.images]
        members = (det.unseen(field.name, field.radec, self.seen_radius_deg) if self.exclude_seen
                   else list(range(len(det.members))))
        if self.exclude_seen and not members:
            flags.append("seen_by_every_member")
        if lacking or not members:
            return dict(row, flags=flags), None
        target = sky_grid(*field.radec, config.pixel_arcmin, self.target_size)
        cube = np.empty((self.target_size, self.target_size, len(det.bands)), np.float32)
        noise = []
        for b, band in enumerate(det.bands):
            image, wcs = field.images[band]
            cube[..., b], coverage = reproject_band(image, wcs, target)
            if coverage < 1:
                flags.append(f"image_edge:{band}:{coverage:.2f}")
            noise.append(band_noise(image, [f.split(":")[0] for f in field.flags if f.split(":")[1:2] == [band]]))
            if coverage < self.min_coverage:
                lacking.append(band)
        if lacking:
            return dict(row, flags=flags), None
        measured = np.array([n["rms"] for n in noise])
        threshold = np.array([n["threshold"] for n in noise])
        flags += self._noise_flags(measured)
        groups, fell_back = {}, set()
        for i in members:
            fallback = np.asarray(det.members[i]["rms_fallback"])[self.index]
            rms, bad = rms_with_fallback(measured, threshold, fallback, config.clip_sigma)
            fell_back.update(b for b, miss in zip(det.bands, bad) if miss)
            groups.setdefault(tuple(rms), []).append(i)
        flags += [f"rms_fallback:{b}" for b in det.bands if b in fell_back]
        params = variants(config, source_rng(det.meta["seed"], field.name))
        scores, preview = [], None
        for rms, group in groups.items():
            clipped = clip_cube(subtracted(cube, np.array(rms), field.radec[1], config), np.array(rms), config.clip_sigma,
                                config.cap_sigma)
            if preview is None:
                preview = central_cutout(clipped, size=config.cutout)[0]
                flags += self._content_flags(central_cutout(cube, size=config.cutout)[0], preview, np.array(rms))
            scores += list(det.predict(augment(clipped, params, config.cutout), members=group).mean(axis=1))
        scores = np.asarray(scores)
        row.update(score=float(scores.mean()), score_std=float(scores.std()), n_members=int(len(scores)), scored=True)
        if self.limit_draws and row["score"] < det.meta["thresholds"]["cv"]["threshold"]:
            row.update(self._limits(field, cube, np.array(next(iter(groups))), threshold, members))
        return dict(row, flags=flags), preview

    def _limits(self, field, cube: np.ndarray, rms: np.ndarray, threshold: np.ndarray, members: list) -> dict:
        """Upper limit of a cluster scored below the threshold (:mod:`halo_utils.detect.limits`): halos injected at
        its centre, sized for its redshift and mass where the catalogue gives them (else z = 0.1, the pivot mass)."""
        from ..detect import limits
        from ..prep.backgrounds import Bank

        det, config = self.detector, self.detector.config
        z, m500 = (float(field.meta.get(k, np.nan) or np.nan) for k in ("z", "m500"))
        known = bool(np.isfinite(z) and z > 0)
        z = z if known else limits.DEFAULT_Z
        centre = self.target_size // 2
        allowed = np.zeros(cube.shape[:2], bool)
        allowed[centre, centre] = True
        bank = Bank([field.name], [subtracted(cube, rms, field.radec[1], config)], np.array([field.radec], float),
                    rms[None], np.asarray(threshold, float)[None], [allowed], [], config.cutout, config.pixel_arcmin)
        cut = det.meta["thresholds"]["cv"]["threshold"]
        curve = limits.detection_curve(lambda jy: det.predict(jy, members=members).mean(axis=0) >= cut, bank, 0,
                                       centre, centre, z, config, det.meta["seed"], m500=m500,
                                       per_flux=self.limit_draws, bands=self.index)
        s50, s90 = limits.flux_limit(curve, 0.5), limits.flux_limit(curve, 0.9)
        return dict(limit_z=z, limit_z_known=known, limit_found_alone=float(curve.share.iloc[0]), limit_s50_jy=s50,
                    limit_s90_jy=s90, limit_p50_w_hz=limits.power_150(s50, z), limit_p90_w_hz=limits.power_150(s90, z))

    def _training_flags(self, radec) -> list:
        if not len(self.seen_radec):
            return []
        distance = separation_deg(radec, self.seen_radec)
        near = distance < self.training_radius_deg
        inside = (distance < self.field_radius_deg) & ~near  # in a field whose sky trained an injection detector
        return ([f"training_source:{self.seen_names[i]}" for i in np.flatnonzero(near)]
                + [f"training_field:{self.seen_names[i]}" for i in np.flatnonzero(inside)])

    def _noise_flags(self, rms: np.ndarray) -> list:
        out = []
        for band, value in zip(self.detector.bands, rms):
            centre, spread = np.median([m["log_rms"][band] for m in self.detector.members], axis=0)
            if np.isfinite(value) and value > 0 and abs(np.log10(value) - centre) > self.noise_sigma * max(spread, 0.02):
                out.append(f"noise_outlier:{band}:{value / 10 ** centre:.2g}x")
        return out

    def _content_flags(self, raw: np.ndarray, clipped: np.ndarray, rms: np.ndarray) -> list:
        out = []
        for b, band in enumerate(self.detector.bands):
            if not np.any(clipped[..., b] > 0):
                out.append(f"empty_band:{band}")
            peak = float(raw[..., b].max() / rms[b])
            if peak > self.bright_sigma:
                out.append(f"bright_source:{band}:{peak:.0f}")
        return out


def search(fields, detector, failures=None, progress: bool = True, keep_previews: int = 24, catalogue=None,
           **flag_settings) -> tuple:
    """Score every field (an iterable, read lazily) and record failed downloads.

    Parameters
    ----------
    fields : iterable of :class:`~halo_utils.search.fields.Field`
    detector : :class:`~halo_utils.detect.artefact.Detector`, or ``detector(bands) -> Detector``: a detector for
        exactly the bands (tuple of band keys) a field has, asked once per set of bands (e.g. one trained on them)
    failures : optional name -> reason of clusters whose download failed (a row each, flagged)
    catalogue : optional search table: its columns join the rows of clusters that have no field (failed downloads)
    keep_previews : clipped cut-outs kept for the gallery, highest scores first
    flag_settings : :class:`Scorer` settings (``bright_sigma``, ``noise_sigma``, ``min_coverage``, ``exclude_seen``, ...)

    Returns
    -------
    table : pandas DataFrame, one row per cluster, sorted by score (unscored last): name, ra_deg,
        dec_deg, score, score_std, n_members, scored, bands (the bands that scored it, ','-joined), threshold_cv (that
        detector's operating threshold), flags (';'-joined), n_flags, the catalogue columns
    previews : name -> (S, S, B) Jy/beam, for the ``keep_previews`` best-scored clusters
    seconds : wall time of the scoring
    """
    import pandas as pd
    from tqdm.auto import tqdm

    scorers = {}

    def scorer_of(field) -> Scorer:
        bands = tuple(b for b in BAND_KEYS if b in field.images) if callable(detector) else ()
        if bands not in scorers:
            scorers[bands] = Scorer(detector(bands) if callable(detector) else detector, **flag_settings)
        return scorers[bands]

    failures = dict(failures or {})
    rows, previews = [], {}
    start = time.perf_counter()
    for field in tqdm(fields, desc="clusters", disable=not progress):
        scorer = scorer_of(field)
        row, preview = scorer(field)
        row.update(bands=",".join(scorer.detector.bands), threshold_cv=scorer.detector.meta["thresholds"]["cv"]["threshold"])
        if field.name in failures:
            row["flags"].append(f"download_failed: {failures.pop(field.name)}")
        rows.append(dict(row, **{k: v for k, v in field.meta.items() if k not in row}))
        if preview is not None:
            previews[field.name] = (row["score"], preview.astype(np.float32))
            if len(previews) > keep_previews:
                previews.pop(min(previews, key=lambda k: previews[k][0]))
    seconds = time.perf_counter() - start
    known = {} if catalogue is None else {str(r["name"]): r for r in catalogue.to_dict("records")}
    rows += [dict(known.get(name, {}), name=name, score=np.nan, score_std=np.nan, n_members=0, scored=False,
                  flags=[f"download_failed: {why}"]) for name, why in failures.items()]
    table = pd.DataFrame(rows)
    table["n_flags"] = table["flags"].map(len)  # table.flags is pandas' own attribute
    table["flags"] = table["flags"].map("; ".join)
    table = table.sort_values(["scored", "score"], ascending=[False, False], na_position="last").reset_index(drop=True)
    return table, {k: v[1] for k, v in previews.items()}, seconds


def mark_candidates(table, detector, threshold="cv"):
    """Add ``candidate`` (score at or above the operating threshold) and ``candidate_paper`` (>= 0.95).

    ``threshold``: 'cv' (the out-of-fold threshold, at its stated false-positive rate, of the detector that scored
    each row: column ``threshold_cv``, else ``detector``'s), 'paper' (0.95) or a number. Returns (table, threshold
    used: a number, or the median of the rows' when detectors differ).
    """
    paper = PAPER_THRESHOLD if callable(detector) else detector.meta["thresholds"]["paper"]
    if threshold == "cv":
        value = table.threshold_cv if "threshold_cv" in table else detector.meta["thresholds"]["cv"]["threshold"]
    else:
        value = paper if threshold == "paper" else float(threshold)
    score = table.score.fillna(-1.0)
    used = float(np.nanmedian(value)) if np.ndim(value) else float(value)
    return table.assign(candidate=score >= np.where(np.isnan(value), np.inf, value) if np.ndim(value) else score >= value,
                        candidate_paper=score >= paper), used


def completeness_purity(table, truth: str = "truth") -> dict:
    """Completeness (candidates among all true halos, unscored ones counted as missed) and purity (true halos
    among candidates) against the 0/1 column ``truth``, with counts, and the per-cluster AUC of the scores
    (scored clusters) with a stratified bootstrap 95 % interval: how well the scores rank, whatever the threshold."""
    from sklearn.metrics import roc_auc_score

    from ..detect.oof import bootstrap_auc

    halo = table[truth].astype(int) == 1
    found = table.candidate
    n_candidates = int(found.sum())
    scored = table[table.scored].assign(source=lambda t: t.name, label=lambda t: t[truth].astype(int), repeat=0)
    ranks = scored.label.nunique() == 2
    return dict(auc=float(roc_auc_score(scored.label, scored.score)) if ranks else float("nan"),
                auc_ci=list(bootstrap_auc(scored[["source", "label", "score", "repeat"]])) if ranks else [float("nan")] * 2,
                completeness=float((found & halo).sum() / max(halo.sum(), 1)),
                purity=float((found & halo).sum() / n_candidates) if n_candidates else float("nan"),
                n_true_halos=int(halo.sum()), n_true_found=int((found & halo).sum()))


def summary(table, threshold: float, seconds: float) -> dict:
    """The counts of a search: searched, scored, flagged, candidates (at ``threshold`` and at 0.95), throughput
    (scored clusters per second of scoring, reading included)."""
    scored = int(table.scored.sum())
    return dict(n_searched=int(len(table)), n_scored=scored, n_flagged=int((table.n_flags > 0).sum()),
                n_candidates=int(table.candidate.sum()), n_candidates_paper=int(table.candidate_paper.sum()),
                threshold=threshold, seconds=seconds,
                clusters_per_second=float(scored / seconds) if scored and seconds > 0 else float("nan"))
