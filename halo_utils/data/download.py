"""Download GLEAM images from SkyView into the published folder layout.

Survey names are SkyView's: ``GLEAM 72-103 MHz`` ... ``GLEAM 170-231 MHz``. Every file
is written atomically (temporary file, then rename), so an interrupted download never
leaves a half-written FITS in the cache. Network calls retry with exponential back-off
and time out; when SkyView cannot be reached a :class:`DownloadError` says what to do.

Command line::

    python -m halo_utils.data.download --out data/gleam --name "Abell 2744" --folder TEST_DATA_1
    python -m halo_utils.data.download --out data/gleam --table data/catalogues/gleam_halo_sources.csv
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from astropy import units as u
from astropy.io import fits

from .. import cli
from ..constants import BAND_KEYS, PIXEL_DEG
from ..paths import atomic_write
from .images import FOLDERS, read_image

__all__ = ["SURVEYS", "DownloadError", "BadImage", "checked", "fetch_images", "skyview_images", "download_source", "file_name",
           "write_fits"]

SURVEYS = {band: f"GLEAM {band} MHz" for band in BAND_KEYS}
PIXELS = 300


class DownloadError(RuntimeError):
    """SkyView could not deliver an image; the message names the source and band."""


def file_name(source: str, band: str) -> str:
    """The file name this project writes: ``<source>_GLEAM_<band>MHz.fits``."""
    return f"{source}_GLEAM_{band}MHz.fits"


def skyview_images(position, survey, pixels, width, timeout):
    """astroquery's ``SkyView.get_images``, with one client per thread (parallel downloads share no session)."""
    from astroquery.skyview import SkyViewClass

    client = getattr(_clients, "skyview", None)
    if client is None:
        client = _clients.skyview = SkyViewClass()
    client.TIMEOUT = timeout
    return client.get_images(position=position, survey=survey, pixels=pixels, width=width, height=width)


_clients = threading.local()


def fetch_images(position, bands=BAND_KEYS, get_images=None, retries: int = 3, backoff: float = 2.0,
                 timeout: float = 120.0, sleep=time.sleep) -> dict:
    """Fetch one 300x300 image per band around ``position`` (a name or "ra dec" in degrees).

    ``get_images(position, survey, pixels, width, timeout)`` returns a list of HDULists
    (astroquery's ``SkyView.get_images`` by default; tests substitute local files).

    Returns
    -------
    dict band -> HDUList
    """
    get_images = get_images or skyview_images
    out = {}
    for band in bands:
        last = None
        for attempt in range(retries):
            try:
                hduls = get_images(position, [SURVEYS[band]], PIXELS, PIXELS * PIXEL_DEG * u.deg, timeout)
                if not hduls:
                    raise DownloadError(f"SkyView returned no image for {position!r} in {SURVEYS[band]!r}")
                out[band] = checked(hduls[0], band)
                break
            except DownloadError:
                raise
            except Exception as err:  # network errors come in many classes (requests, OSError, timeouts)
                last = err if isinstance(err, (OSError, BadImage)) else BadImage(  # what astroquery made of a non-FITS
                    f"SkyView's answer could not be read as a FITS image ({err.__class__.__name__}: {err})")
                if attempt + 1 < retries:
                    sleep(backoff * 2 ** attempt)
        else:
            raise DownloadError(
                f"could not fetch {SURVEYS[band]!r} for {position!r} after {retries} tries "
                f"({last.__class__.__name__}: {last})." + _hint(last)) from last
    return out


def _hint(error: Exception) -> str:
    """What a user can do about the last error of a download."""
    if isinstance(error, BadImage):
        return ""
    if getattr(error, "response", None) is not None:  # SkyView answered, with an HTTP error
        return " SkyView is answering with errors: try again later."
    return " Offline? Point HALO_GLEAM_DIR at a local copy of the published dataset instead."


class BadImage(ValueError):
    """What SkyView sent is not the image asked for (cut short, another size, another survey): tried again."""


def checked(hdul, band: str):
    """``hdul`` if its primary image reads whole, is PIXELS x PIXELS and (where its header says) lies in ``band``
    (MHz, e.g. '72-103'); else a :class:`BadImage` naming what is wrong."""
    try:
        data = hdul[0].data
    except (TypeError, ValueError, OSError) as err:  # astropy's words for a file cut short
        raise BadImage(f"the FITS file is cut short or unreadable ({err})") from err
    if data is None or data.shape[-2:] != (PIXELS, PIXELS):
        raise BadImage(f"the image is {None if data is None else data.shape}, not {PIXELS} x {PIXELS}")
    low, high = (float(f) * 1e6 for f in band.split("-"))
    freq = hdul[0].header.get("FREQ", hdul[0].header.get("CRVAL3") if hdul[0].header.get("CTYPE3") == "FREQ" else None)
    if freq is not None and not low <= float(freq) <= high:
        raise BadImage(f"the image is at {float(freq) / 1e6:.1f} MHz, outside the {band} MHz band asked for")
    return hdul


def write_fits(hdul, path: Path):
    """Write the primary image of ``hdul`` to ``path`` atomically; it must read back as a valid band image."""
    def write(tmp):
        fits.HDUList([fits.PrimaryHDU(data=hdul[0].data, header=hdul[0].header)]).writeto(tmp, overwrite=True)
        read_image(tmp)  # the file must read back as a valid image before it replaces anything

    return atomic_write(path, write)


def download_source(source: str, out, folder: str, position=None, overwrite: bool = False, **fetch_kw) -> dict:
    """Download the four bands of one source into ``out/<folder>/`` (published layout).

    Parameters
    ----------
    source : name used in the file names (e.g. 'abell_2744')
    out : dataset root folder
    folder : one of TRAIN_DATA_1, TRAIN_DATA_0, TEST_DATA_1, TEST_DATA_0
    position : what SkyView resolves (name or "ra dec"); default ``source``
    overwrite : re-fetch bands already on disk
    """
    if folder not in FOLDERS:
        raise ValueError(f"folder must be one of {list(FOLDERS)}, not {folder!r}")
    target = Path(out) / folder
    paths = {band: target / file_name(source, band) for band in BAND_KEYS}
    todo = [b for b, p in paths.items() if overwrite or not p.exists()]
    if todo:
        images = fetch_images(position or source, bands=todo, **fetch_kw)
        for band in todo:
            write_fits(images[band], paths[band])
    return paths


def main(argv=None):
    parser = cli.parser(__spec__.name, __doc__)
    parser.add_argument("--out", required=True, help="dataset root folder to write into")
    parser.add_argument("--name", help="one source: a name SkyView resolves")
    parser.add_argument("--folder", default="TRAIN_DATA_1", choices=list(FOLDERS),
                        help="with --name: the folder (split and class) to write it into")
    parser.add_argument("--table", help="every source of a CSV with columns source, split, label, ra_deg, dec_deg")
    args = parser.parse_args(argv)
    if args.table:
        import pandas as pd
        from tqdm import tqdm

        for row in tqdm(pd.read_csv(args.table).itertuples(), desc="sources"):
            folder = f"{row.split.upper()}_DATA_{row.label}"
            download_source(row.source, args.out, folder, position=f"{row.ra_deg} {row.dec_deg}")
    elif args.name:
        download_source(args.name.replace(" ", "_").lower(), args.out, args.folder, position=args.name)
    else:
        parser.error("give --name or --table")


if __name__ == "__main__":
    main()
