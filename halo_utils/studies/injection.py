"""Mock halos injected into the real GLEAM fields: does the mock-trained detector find halos in real skies?

The mock-trained detector finds the halos of held-out mock fields but ranks the 46 real clusters no
better than chance. Two explanations predict different things:

* the real fields (their noise, compact sources, artefacts, the authors' clipping) are unlike the mock
  fields, so the detector misses halos in them; or
* the detector works on real fields, and the labelled real halos do not look, at GLEAM's resolution and
  depth, like the halos it learnt.

Injection, the test radio astronomers use for upper limits (Bonafede et al. 2017; Bruno et al. 2023),
tells them apart. Halos of the training population (:mod:`halo_utils.sky.population`, a mock seed the
detector never saw) are added to the images of the real clusters without a halo, rendered in each band on
that image's own pixel grid with the mock sky's beam. The images are then clipped again where the authors
clipped them, and scored by the same chain as the real clusters (:class:`halo_utils.search.score.Scorer`).
Completeness on real hosts near the mock test fields' points to the second explanation; far below, the first.

Where an image was clipped, the noise under the clip is unknown. It is drawn again (beam-correlated, at
the image's RMS) and held inside the clip, so the host image comes back unchanged when the halo is left
out. A halo pixel then rises above the clip with the noise as it would have.

    python -m halo_utils.studies.injection --profile cpu --seeds 0 1 --fields 25000 --fresh-views --per-host 20

writes ``docs/results/injection_<profile>[_fields<N>][_freshviews].md``: per seed and detector (mock fields
unclipped with no pipeline clip; clipped like the published with a 4-sigma clip), completeness by the halo's peak
S/N per beam on real hosts beside the mock test fields', and score quartiles beside the labelled halos'; each
injection's row goes to ``data/results/injection/<detector>_perhost<n>.csv``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .. import cli
from ..config import seeded
from ..constants import BAND_KEYS
from ..data.images import FOLDERS
from ..prep.dataset import rms_with_fallback
from ..prep.injected import refilled
from ..prep.mockset import PEAK_BAND, mock_sky_config
from ..prep.noise import band_noise
from ..sky.instrument import beam, beam_kernel, correlated_noise, render
from ..sky.mock import simulate_field
from . import report, workflow
from .report import markdown

__all__ = ["DRAW_SEED", "PER_HOST", "halo_draws", "halo_image", "host_noise", "inject", "injections",
           "completeness_table", "summary_row", "summary", "main"]

DRAW_SEED = 1000  # mock seed of the injected halos: training uses 3s .. 3s + 2 for run seed s
STAMP = 121  # pixels per side of the rendering around the field centre
PER_HOST = {"smoke": 1, "cpu": 20, "paper": 100}  # halos injected into each host cluster, per profile


def halo_draws(n: int, seed: int, sky) -> list:
    """``n`` halos of the mock population (:class:`~halo_utils.sky.mock.Component`, in the mock grid's pixels of
    ``sky.pixel_deg``), from halo fields of mock seed ``DRAW_SEED + seed``."""
    out = []
    for i in range(n):
        components = simulate_field(DRAW_SEED + seed, i, f"injected{seed}_{i:04d}", 1, sky)["components"]
        out.append(next(c for c in components if c.kind in ("halo", "mini-halo")))
    return out


def halo_image(halo, sky, image_shape: tuple, wcs, radec: tuple, band: int) -> np.ndarray:
    """The noise-free halo (H, W) in Jy/beam of band ``band`` on an image's grid (``wcs``), centred as it was
    on its mock field (offset included) about ``radec``, convolved with the mock sky's beam at that declination."""
    pixel_deg = _pixel_deg(wcs)
    scale = sky.pixel_deg / pixel_deg
    mock_centre = (sky.size - 1) / 2
    x0, y0 = (float(v) for v in wcs.world_to_pixel_values(*radec))
    half = STAMP // 2
    cx, cy = int(round(x0)), int(round(y0))
    local = dataclasses.replace(halo, x=half + (x0 - cx) + (halo.x - mock_centre) * scale,
                                y=half + (y0 - cy) + (halo.y - mock_centre) * scale, size=halo.size * scale)
    beams = [beam(b, radec[1], sky) for b in range(band + 1)]
    stamp = render([local], beams, (STAMP, STAMP), pixel_deg)[band]
    out = np.zeros(image_shape, np.float32)
    ys, xs = slice(max(cy - half, 0), min(cy + half + 1, image_shape[0])), slice(max(cx - half, 0),
                                                                                 min(cx + half + 1, image_shape[1]))
    out[ys, xs] = stamp[ys.start - (cy - half):ys.stop - (cy - half), xs.start - (cx - half):xs.stop - (cx - half)]
    return out


def _pixel_deg(wcs) -> float:
    """Mean pixel side of a celestial WCS, degrees."""
    from astropy.wcs.utils import proj_plane_pixel_scales

    return float(np.mean(proj_plane_pixel_scales(wcs)[:2]))


def _refilled(image: np.ndarray, threshold: float, rms: float, kernel: np.ndarray, rng) -> np.ndarray:
    """``image`` with its clipped pixels (exact zeros) given beam-correlated noise of ``rms`` held inside
    (-threshold, threshold) (:func:`halo_utils.prep.injected.refilled`)."""
    return refilled(image, threshold, correlated_noise(rng, rms, kernel, image.shape).astype(np.float32))


def host_noise(field, fallback_rms) -> list:
    """(rms, clip threshold) of every band of a field, Jy/beam: its own noise, ``fallback_rms`` (B,) where that
    cannot be measured; the threshold NaN where the image was not clipped."""
    out = []
    for b, band in enumerate(BAND_KEYS):
        noise = band_noise(field.images[band][0], [f.split(":")[0] for f in field.flags if f.split(":")[1:2] == [band]])
        rms = float(rms_with_fallback([noise["rms"]], [noise["threshold"]], [fallback_rms[b]])[0][0])
        out.append((rms, noise["threshold"]))
    return out


def inject(field, halo, sky, rng, fallback_rms, noise=None) -> tuple:
    """A copy of a :class:`~halo_utils.search.fields.Field` with ``halo`` added to every band (clipped again
    where the image was clipped) and the halo's peak S/N per beam at 139-170 MHz against the image's noise
    (``fallback_rms`` (B,) where that cannot be measured; ``noise``: the field's :func:`host_noise`, if known)."""
    images, peak = {}, np.nan
    for b, ((rms, threshold), band) in enumerate(zip(noise or host_noise(field, fallback_rms), BAND_KEYS)):
        image, wcs = field.images[band]
        model = halo_image(halo, sky, image.shape, wcs, field.radec, b)
        if np.isfinite(threshold) and threshold > 0:
            px = _pixel_deg(wcs) * 60
            bmaj, bmin, bpa = beam(b, field.radec[1], sky)
            kernel = beam_kernel(bmaj / px, bmin / px, bpa)
            sum_ = _refilled(image, threshold, rms, kernel, rng) + model
            sum_[np.abs(sum_) < np.float32(threshold)] = 0.0
        else:
            sum_ = image + model
        images[band] = (sum_.astype(np.float32), wcs)
        if b == PEAK_BAND:
            peak = float(model.max() / rms)
    return dataclasses.replace(field, images=images), peak


def injections(detector, root, per_host: int = 20, seed: int = 0, hosts: int = 0, progress: bool = True):
    """Inject ``per_host`` halos into each real cluster of class ``hosts`` (0: the clusters without a halo) of the
    published folder ``root``, one halo at a time, and score each with ``detector``.

    Returns a table (pandas), one row per injection: ``host``, the halo's ``halo_flux_150`` (Jy), ``halo_re_arcmin``,
    ``halo_re_kpc``, ``z``, ``peak_snr`` (per beam, 139-170 MHz, against the host's noise), ``score``, the host's own
    ``host_score`` and ``candidate`` (score at or above the detector's threshold).
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from ..search.fields import layout_manifest, manifest_fields
    from ..search.score import Scorer
    from ..sky.components import _kpc_to_px

    sky = mock_sky_config(detector.config, clipped=False)
    scorer = Scorer(detector)
    fallback = np.median([m["rms_fallback"] for m in detector.members], axis=0)
    threshold = detector.meta["thresholds"]["cv"]["threshold"]
    manifest = layout_manifest(root)
    label = {s: FOLDERS[Path(f).parent.name][1] for s, f in zip(manifest.source, manifest.file)}
    fields = [f for f in manifest_fields(manifest) if label[f.name] == hosts]
    halos = halo_draws(per_host * len(fields), seed, sky)
    rows = []
    bar = tqdm(total=len(halos), desc="injected halos", disable=not progress)
    for h, field in enumerate(fields):
        host_score, noise = scorer(field)[0]["score"], host_noise(field, fallback)
        rng = seeded(seed, h)
        for j in range(per_host):
            halo = halos[h * per_host + j]
            injected, peak = inject(field, halo, sky, rng, fallback, noise)
            row = scorer(injected)[0]
            re_arcmin = halo.size * sky.pixel_deg * 60
            rows.append(dict(host=field.name, draw=h * per_host + j, kind=halo.kind, z=halo.z,
                             halo_flux_150=halo.flux_150, halo_re_arcmin=re_arcmin,
                             halo_re_kpc=halo.size / _kpc_to_px(1.0, halo.z, sky.pixel_deg), peak_snr=peak,
                             score=row["score"], host_score=host_score))
            bar.update()
    bar.close()
    table = pd.DataFrame(rows)
    return table.assign(label=1, candidate=table.score >= threshold)


def completeness_table(table, threshold: float, mock: dict | None = None):
    """Completeness of the injected halos (score at or above ``threshold``) by peak S/N per beam, with a Wilson
    interval, beside the mock test fields' of the same detector (``mock``: the ``mock`` summary of its 05_classifier
    run) when given: a pandas table, one row per bin of :data:`~halo_utils.detect.mocktrain.SNR_BINS`."""
    import pandas as pd

    from ..detect.mocktrain import SNR_BINS, completeness
    from .pretraining import completeness_text

    out = completeness(table, threshold)
    out["real_hosts"] = [completeness_text(f, n) for f, n in zip(out.found, out.n)]
    scores = table.groupby(pd.cut(table.peak_snr, list(SNR_BINS), right=False), observed=False).score
    out["score_quartiles_real_hosts"] = [_quartiles(s) for _, s in scores]
    if mock is not None:
        by_bin = {r["peak_snr_bin"]: r for r in mock["completeness"]}
        out["mock_test_fields"] = [completeness_text(by_bin[b]["found"], by_bin[b]["n"]) if b in by_bin else "-"
                                   for b in out.peak_snr_bin]
    columns = ("peak_snr_bin", "real_hosts", "mock_test_fields", "score_quartiles_real_hosts")
    return out[[c for c in columns if c in out]]


def _quartiles(scores) -> str:
    """'0.30 / 0.42 / 0.56': the 25th, 50th and 75th percentiles of some scores ('-' if none)."""
    return " / ".join(f"{q:.2f}" for q in np.percentile(scores, [25, 50, 75])) if len(scores) else "-"


def _detector_runs(profile: str, seed: int, model: str, overrides: dict | None):
    """(label, detector folder, 05_classifier result or None) of each mock setting of :mod:`mockbaseline`."""
    from .. import config, paths
    from ..detect.classify import run_tag
    from ..detect.mocktrain import run_tag as mock_tag
    from .mockbaseline import SETTINGS
    from .pretraining import load_result

    for clipped, clip in SETTINGS:
        folder = paths.data_dir() / "models" / "mock_detector" / config.run_name(
            profile, seed, tag=mock_tag(model, clipped, clip, None, overrides)) / "detector"
        label = ("clipped like the published" if clipped else "unclipped",
                 "none" if clip is None else f"{clip:g} sigma")
        yield label, folder, load_result(profile, seed, "gleam", run_tag(model, "kfold", "mock", clip, clipped,
                                                                         overrides=overrides))


def summary_row(table, threshold: float, result: dict | None) -> dict:
    """One detector's injection figures: real hosts above the threshold without a halo and their score quartiles,
    completeness of the injected halos of peak S/N >= 5 (and of the mock test fields'), how often a halo raised its
    host's score, and, from the run's ``result``, the real clusters' AUC and the labelled halos' score quartiles (to
    set beside those of the injected halos per S/N bin in :func:`completeness_table`)."""
    from .pretraining import completeness_text

    bright = table[table.peak_snr >= 5]
    hosts = table.groupby("host").host_score.first()
    row = dict(threshold=f"{threshold:.3f}", hosts_above_threshold=f"{int((hosts >= threshold).sum())}/{len(hosts)}",
               score_quartiles_hosts=_quartiles(hosts),
               completeness_snr5_real_hosts=completeness_text(int(bright.candidate.sum()), len(bright)),
               score_raised_snr5=f"{(bright.score > bright.host_score).mean():.2f}")
    if result is not None:
        mock, real = result["mock"], result["transfer"]
        row["completeness_snr5_mock_test"] = completeness_text(round(mock["completeness_snr5"] * mock["n_halos_snr5"]),
                                                               mock["n_halos_snr5"])
        row["real_clusters_auc"] = f"{real['auc']:.3f} [{real['auc_ci'][0]:.3f}, {real['auc_ci'][1]:.3f}]"
        halos = [r["score"] for r in result.get("real_scores") or [] if r["label"] == 1]
        row["score_quartiles_labelled_halos"] = _quartiles(halos)
    return row


def summary(table, threshold: float) -> dict:
    """The JSON-able injection figures of a run (for a notebook's summary): :func:`summary_row`, the number of hosts
    and halos per host, and the completeness by peak S/N (``n``, ``found``, ``completeness`` per bin)."""
    from ..detect.mocktrain import completeness

    return dict(summary_row(table, threshold, None), n_hosts=int(table.host.nunique()),
                per_host=int(table.groupby("host").size().max()),
                completeness=completeness(table, threshold).to_dict("records"))


def main(argv=None):
    import sys

    from .. import paths
    from ..detect.artefact import load
    from ..prep.dataset import dataset_root
    from .pretraining import mock_overrides, mock_run


    parser = cli.parser(__spec__.name, __doc__)
    cli.add_study_options(parser, [0])
    parser.add_argument("--fields", type=int, default=None, help="the detectors of this mock_fields override")
    parser.add_argument("--fresh-views", action="store_true", help="the detectors trained with mock_fresh_views")
    parser.add_argument("--per-host", type=int, default=20, help="halos injected into each real non-halo cluster")
    parser.add_argument("--gleam-dir", default=None, help="published dataset folder; default $HALO_GLEAM_DIR")
    args = parser.parse_args(argv)
    argv = argv if argv is not None else sys.argv[1:]
    overrides = mock_overrides(args.fields, args.fresh_views)
    name = f"injection_{args.profile}" + ("" if args.fields is None else f"_fields{args.fields}") \
        + ("_freshviews" if args.fresh_views else "")
    if args.plan:
        from .mockbaseline import SETTINGS

        runs = [mock_run(args.profile, s, args.model, c, clip, overrides) for s in args.seeds for c, clip in SETTINGS]
        return workflow.study_plan(args.plan, __spec__.name, cli.without_plan(argv), runs, [report.path(f"{name}.md")])
    command = "python -m halo_utils.studies.injection " + " ".join(argv)
    root = dataset_root("gleam", args.gleam_dir)
    rows, parts = [], []
    for seed in args.seeds:
        for (images, clip), folder, result in _detector_runs(args.profile, seed, args.model, overrides):
            if not folder.exists():
                print(f"skipped: no detector in {folder}")
                continue
            detector = load(folder)
            threshold = detector.meta["thresholds"]["cv"]["threshold"]
            table = injections(detector, root, args.per_host, seed)
            out = paths.results_dir("injection") / f"{folder.parent.name}_perhost{args.per_host}.csv"
            paths.atomic_write(out, lambda tmp: table.to_csv(tmp, index=False))
            rows.append(dict(seed=seed, mock_images=images, pipeline_clip=clip,
                             **summary_row(table, threshold, result)))
            parts.append(f"\n### Seed {seed}, mock images {images}, pipeline clip {clip}: completeness by peak S/N per "
                         "beam\n\n" + markdown(completeness_table(table, threshold, None if result is None else
                                                                   result["mock"]).to_dict("records")))
    text = (f"Made by `{command}`: halos of the mock population (mock seed {DRAW_SEED} + seed, never seen in training) "
            f"injected one at a time into the images of the 23 real clusters without a halo, {args.per_host} per "
            "cluster, clipped again where the authors clipped, and scored by the mock-trained detector "
            f"(model {args.model}) as the real clusters are. Peak S/N: the halo's noise-free peak per beam at "
            "139-170 MHz over the host image's noise. Intervals: Wilson 95 %. Score quartiles: 25th / 50th / 75th "
            "percentile.\n\n" + markdown(rows) + "".join(parts))
    report.write(f"{name}.md", text)


if __name__ == "__main__":
    main()
