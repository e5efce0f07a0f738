"""Search a cluster catalogue or a folder of FITS images for halo candidates with a saved detector.

    python -m halo_utils.search --catalogue psz2 --out data/results/06_catalogue_search/psz2
    python -m halo_utils.search --catalogue psz2 --catalogue-file ../shared/data/catalogues/psz2 --out DIR
    python -m halo_utils.search --folder my_images --manifest my_images/manifest.csv --out DIR
    python -m halo_utils.search --draft-manifest my_images        # writes my_images/manifest_draft.csv to check
    python -m halo_utils.search --mock 200 --out DIR                # a mock catalogue with known halos

The detector: ``--detector DIR`` (a folder with detector.json); ``--injected``: for each set of bands the images
have, the detector trained on halos injected into the published fields on exactly those bands (trained first, once,
if it does not exist); else the ``kfold`` run of 05_classifier for ``--profile/--seed/--source/--model``.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import cli, paths
from ..config import default_profile
from ..detect import artefact
from . import run as search_run
from .catalogues import CATALOGUES
from .detector import ByBands, ensure_detector
from .fields import RATE, WORKERS, draft_manifest
from .mockcat import mock_catalogue


def main(argv=None):
    parser = cli.parser(__spec__.name, __doc__)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--catalogue", choices=sorted(CATALOGUES), help="a cluster catalogue (VizieR, cached)")
    what.add_argument("--folder", help="a folder of FITS images (published naming, or give --manifest)")
    what.add_argument("--draft-manifest", metavar="FOLDER", help="write FOLDER/manifest_draft.csv and stop")
    what.add_argument("--mock", type=int, metavar="N", help="a mock catalogue of N clusters (truth known)")
    parser.add_argument("--catalogue-file", help="the catalogue from local files (CDS folder, ECSV, CSV, FITS)")
    parser.add_argument("--manifest", help="CSV: file, source, band_mhz [, ra_deg, dec_deg]")
    parser.add_argument("--cache", help="where SkyView images are kept (default data/gleam_cache)")
    parser.add_argument("--workers", type=int, default=WORKERS,
                        help=f"clusters fetched from SkyView at once (default {WORKERS})")
    parser.add_argument("--rate", type=float, default=RATE,
                        help=f"SkyView image queries started per second, at most (default {RATE:g}; 0: no limit)")
    parser.add_argument("--detector", help="a saved detector folder")
    parser.add_argument("--injected", action="store_true",
                        help="score each cluster with the injection-trained detector of exactly the bands it has "
                             "(trained on first use from $HALO_GLEAM_DIR)")
    parser.add_argument("--profile", default=None, help="the detector's profile (default $HALO_PROFILE, else cpu)")
    parser.add_argument("--seed", type=int, default=0, help="the detector's seed (default 0)")
    parser.add_argument("--source", default="gleam", choices=["gleam", "mock"], help="what the detector trained on")
    parser.add_argument("--model", default="I", choices=["I", "A", "D"], help="the detector's network (default I)")
    parser.add_argument("--threshold", default="cv", help="'cv' (the detector's, at its stated FPR), 'paper' or a number")
    parser.add_argument("--exclude-seen", action="store_true", help="score each source only with members that never saw it")
    parser.add_argument("--limits", type=int, default=0, metavar="N",
                        help="upper limits for clusters below the threshold: N injected halos per flux density "
                             "(0: none; 20 is what the real-sky runs use; about 1 s per cluster)")
    parser.add_argument("--download-only", action="store_true",
                        help="with --catalogue: fetch the images into the cache and stop (score later from the cache)")
    parser.add_argument("--out", help="output folder (default data/results/06_catalogue_search/<what>)")
    args = parser.parse_args(argv)
    if args.draft_manifest:
        path = Path(args.draft_manifest) / "manifest_draft.csv"
        table = draft_manifest(args.draft_manifest)
        paths.atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
        print(f"{len(table)} files -> {path}; check source and band_mhz, then pass it as --manifest")
        return
    truth = None
    if args.mock:
        _, manifest, catalogue = mock_catalogue(args.mock, args.seed + 1000)
        failures, truth, name = {}, "truth", f"mock{args.mock}"
    else:
        manifest, catalogue, failures = search_run.inputs(args.catalogue, args.catalogue_file, args.folder,
                                                          args.manifest, args.cache, workers=args.workers,
                                                          rate=args.rate)
        name = args.catalogue or Path(args.folder).name
    if args.download_only:
        print(f"{manifest.source.nunique()} clusters with images in the cache ({len(manifest)} files); "
              f"{len(failures)} failed" + "".join(f"\n  {k}: {v}" for k, v in list(failures.items())[:10]))
        return
    profile = default_profile(args.profile)
    if args.detector:
        detector = artefact.load(args.detector)
    elif args.injected:
        detector = ByBands(profile, args.seed, args.model)
    else:
        detector = ensure_detector(profile, args.seed, args.source, args.model)
    out = Path(args.out) if args.out else paths.results_dir("06_catalogue_search") / name
    result = search_run.run(detector, manifest, out, catalogue, failures, _threshold(args.threshold), truth,
                            exclude_seen=args.exclude_seen, limit_draws=args.limits)
    print(json.dumps({k: v for k, v in result["summary"].items() if not isinstance(v, dict)}, indent=1, default=str))
    gallery = search_run.gallery(result, detector, out)
    print(f"candidate table: {result['files']['csv']} (and .fits); summary: {result['files']['summary']}; "
          f"gallery: {gallery}")


def _threshold(text: str):
    return text if text in ("cv", "paper") else float(text)


if __name__ == "__main__":
    main()
