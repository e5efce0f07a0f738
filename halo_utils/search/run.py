"""One search, end to end: inputs -> scores -> candidate table (CSV + FITS) -> summary JSON.

Notebook ``06_catalogue_search`` and ``python -m halo_utils.search`` both call :func:`run`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import paths
from .catalogues import catalogue as read_catalogue
from .fields import download_fields, layout_manifest, manifest_fields, read_manifest
from .score import completeness_purity, mark_candidates, search, summary

__all__ = ["inputs", "run", "write_table", "gallery", "rediscovery", "rediscovery_summary", "labelled", "write_docs"]


def inputs(catalogue: str | None = None, catalogue_file=None, folder=None, manifest=None, cache=None,
           get_images=None, vizier=None, progress: bool = True, **download) -> tuple:
    """What to search: (manifest, catalogue table or None, failures).

    ``catalogue`` (a name of :data:`~halo_utils.search.catalogues.CATALOGUES`, with ``catalogue_file`` for
    local files): its clusters' GLEAM images are fetched from SkyView into ``cache`` (resumable). ``folder``
    with ``manifest`` (CSV): local images of any naming; ``folder`` alone: the published file naming.
    """
    if catalogue is not None:
        table = read_catalogue(catalogue, catalogue_file, vizier)
        cache = Path(cache) if cache else paths.data_dir() / "gleam_cache"
        found, failures = download_fields(table, cache, get_images=get_images, progress=progress, **download)
        return found, table, failures
    if manifest is not None:
        return read_manifest(manifest), None, {}
    if folder is not None:
        return layout_manifest(folder), None, {}
    raise ValueError("give a catalogue, a manifest or a folder of images to search")


def write_table(table, out, name: str = "candidates") -> dict:
    """Write the candidate table as CSV and FITS (astropy) into ``out``; returns the two paths."""
    from astropy.table import Table

    out = Path(out)
    csv = paths.atomic_write(out / f"{name}.csv", lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))
    clean = table.copy()
    for column in clean.columns:
        if clean[column].dtype == object:
            clean[column] = clean[column].astype(str)
    fits = paths.atomic_write(out / f"{name}.fits",
                              lambda tmp: Table.from_pandas(clean).write(tmp, format="fits", overwrite=True))
    return dict(csv=csv, fits=fits)


def run(detector, manifest, out, catalogue=None, failures=None, threshold="cv", truth: str | None = None,
        progress: bool = True, **flag_settings) -> dict:
    """Score every source of ``manifest`` with ``detector``; write the candidate table and the summary into ``out``.

    Parameters
    ----------
    detector : a :class:`~halo_utils.detect.artefact.Detector`, or :class:`~halo_utils.search.detector.ByBands`
        (each cluster scored by a detector of exactly the bands it has)
    catalogue : optional search table (positions, catalogue columns joined to the rows)
    failures : name -> reason of failed downloads (flagged rows)
    threshold : 'cv', 'paper' or a number (:func:`~halo_utils.search.score.mark_candidates`)
    truth : a 0/1 column of the catalogue (mock catalogues: ``truth``) -> completeness and purity
    flag_settings : :class:`~halo_utils.search.score.Scorer` settings

    Returns dict(table, previews, summary, files)
    """
    table, previews, seconds = search(manifest_fields(manifest, catalogue), detector, failures, progress,
                                      catalogue=catalogue, **flag_settings)
    table, used = mark_candidates(table, detector, threshold)
    result = summary(table, used, seconds)
    if truth is not None:
        result.update(completeness_purity(table, truth))
    used = detector.made.values() if callable(detector) else [detector]
    result.update(detectors=[dict(folder=str(d.folder), bands=d.bands, model=d.meta["model"],
                                  fingerprint=d.meta["fingerprint"], cv_threshold=d.meta["thresholds"]["cv"]) for d in used],
                  flag_settings=flag_settings, threshold_rule=str(threshold))
    if not callable(detector):  # one detector: its keys as before
        result.update(detector=str(detector.folder), detector_model=detector.meta["model"],
                      detector_fingerprint=detector.meta["fingerprint"], cv_threshold=detector.meta["thresholds"]["cv"])
    files = write_table(table, out)
    files["summary"] = paths.write_json(Path(out) / "summary.json", result)
    return dict(table=table, previews=previews, summary=result, files=files)


def gallery(result: dict, detector, out) -> Path:
    """``out/candidates.png``: the bands of the best-scored clusters of a search (:func:`run`'s result), drawn by
    :func:`~halo_utils.plots.show_candidates` with the bands and pixel scale of the (first) detector."""
    import matplotlib.pyplot as plt

    from .. import plots

    first = next(iter(detector.made.values())) if callable(detector) else detector
    fig = plots.show_candidates(result["table"], result["previews"], first.bands, first.config.pixel_arcmin)
    path = paths.atomic_write(Path(out) / "candidates.png", lambda tmp: fig.savefig(tmp, dpi=120, bbox_inches="tight",
                                                                                       format="png"))
    plt.close(fig)
    return path


def rediscovery(table, detector):
    """The published clusters against the detector's own cross-validation: label, search score (members that
    never saw the cluster), the run's out-of-fold score, and whether it is a candidate."""
    labels = detector.meta["sources"]
    oof = detector.meta["oof_scores"]
    out = table[table.name.isin(labels)].copy()
    out["label"] = out.name.map(labels)
    out["oof_score"] = out.name.map(oof)
    out["difference"] = out.score - out.oof_score
    out["flags"] = [_drop(flags, f"training_source:{name}") for name, flags in zip(out.name, out["flags"])]
    columns = ["name", "label", "score", "score_std", "n_members", "oof_score", "difference", "candidate",
               "candidate_paper", "flags"]
    return out[columns].sort_values("score", ascending=False, na_position="last").reset_index(drop=True)


def _drop(flags: str, flag: str) -> str:
    """``flags`` ('; '-joined) without ``flag`` (a cluster scored by the members that never saw it was trained on
    by the others: true, and said by the method)."""
    return "; ".join(f for f in flags.split("; ") if f and f != flag)


def labelled(detector, root, out, progress: bool = False, **flag_settings) -> tuple:
    """Score every source of a labelled folder in the published layout (the 46 published clusters, a mock sky)
    with ``detector`` (every member: none of them trained on these sources) and summarise as
    :func:`rediscovery_summary` does. Returns (table with ``label``, summary)."""
    from ..data.images import FOLDERS

    manifest = layout_manifest(root)
    label = {}
    for folder, (_, y) in FOLDERS.items():
        label.update({src: y for src in manifest[manifest.file.str.contains(f"/{folder}/", regex=False)].source})
    table = run(detector, manifest, out, progress=progress, **flag_settings)["table"]
    table = table.assign(label=table.name.map(label))
    return table, rediscovery_summary(table)


def rediscovery_summary(table) -> dict:
    """Per-source AUC of the rediscovery scores with a bootstrap 95 % interval over the clusters, the largest
    departure from the run's out-of-fold scores, and the candidates among halos and non-halos."""
    from sklearn.metrics import roc_auc_score

    from ..detect.oof import bootstrap_auc

    scored = table[table.score.notna()]
    long = scored.rename(columns={"name": "source"}).assign(repeat=0)[["source", "label", "score", "repeat"]]
    both = scored.label.nunique() == 2
    halo, other = scored.label == 1, scored.label == 0
    return dict(n_sources=int(len(table)), n_scored=int(len(scored)),
                auc=float(roc_auc_score(scored.label, scored.score)) if both else float("nan"),
                auc_ci=list(bootstrap_auc(long)) if both else [float("nan")] * 2,
                max_abs_difference_from_oof=float(np.nanmax(np.abs(scored.difference)))
                if "difference" in scored and scored.difference.notna().any() else float("nan"),
                halos_found=int((scored.candidate & halo).sum()), n_halos=int(halo.sum()),
                non_halos_above=int((scored.candidate & other).sum()), n_non_halos=int(other.sum()),
                halos_found_paper=int((scored.candidate_paper & halo).sum()),
                non_halos_above_paper=int((scored.candidate_paper & other).sum()))


def write_docs(summary: dict, name: str) -> Path:
    """``docs/results/<name>.md``: the numbers of one notebook-06 run that the README quotes, with its command."""
    command = (f"papermill notebooks/06_catalogue_search.ipynb out.ipynb -p profile {summary['profile']} "
               f"-p source {summary['source']} -p model {summary['model']} -p seed {summary['seed']} "
               f"-p search {summary['search']} -p write_docs True")
    rows = [("clusters searched", summary["n_searched"]), ("scored", summary["n_scored"]),
            ("flagged", summary["n_flagged"]), ("operating threshold (out-of-fold FPR "
                                                 f"{summary['cv_threshold']['target_fpr']:.0%})", f"{summary['threshold']:.3f}"),
            ("candidates at it", summary["n_candidates"]), ("candidates at 0.95", summary["n_candidates_paper"]),
            ("throughput, clusters per second (cached images)", f"{summary['clusters_per_second']:.2f}")]
    if "completeness" in summary:
        rows += [("per-cluster AUC of the scores against the truth [95 % CI]",
                  f"{summary['auc']:.3f} [{summary['auc_ci'][0]:.3f}, {summary['auc_ci'][1]:.3f}]"),
                 ("completeness", f"{summary['completeness']:.3f} ({summary['n_true_found']} of "
                                  f"{summary['n_true_halos']} halos)"), ("purity", f"{summary['purity']:.3f}")]
    if summary.get("corruption"):
        c = summary["corruption"]
        rows += [("corrupted clusters, all flagged by name", f"{c['n_corrupted']}, {c['corrupted_flagged']}"),
                 ("other clusters changed by the corruption", f"{c['n_others_changed']} of {c['n_others']}")]
    if summary.get("rediscovery"):
        r = summary["rediscovery"]
        rows += [("rediscovery: per-source AUC [95 % CI]", f"{r['auc']:.3f} [{r['auc_ci'][0]:.3f}, {r['auc_ci'][1]:.3f}]"),
                 ("rediscovery: halos above the threshold", f"{r['halos_found']} of {r['n_halos']}"),
                 ("rediscovery: non-halos above the threshold", f"{r['non_halos_above']} of {r['n_non_halos']}"),
                 ("rediscovery: halos / non-halos at 0.95", f"{r['halos_found_paper']} / {r['non_halos_above_paper']}"),
                 ("rediscovery: largest difference from the out-of-fold scores", f"{r['max_abs_difference_from_oof']:.2g}")]
    text = "\n".join([f"Made by `{command}` (detector: {summary['detector_model']}, trained on {summary['source']}).",
                      "", "| quantity | value |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows]]) + "\n"
    path = paths.docs_results(f"{name}.md")
    return paths.atomic_write(path, lambda tmp: Path(tmp).write_text(text))
