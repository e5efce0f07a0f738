"""The images a search scores: one :class:`Field` per cluster, from any folder of FITS files or from SkyView.

A **manifest** (CSV: ``file``, ``source``, ``band_mhz``; optional ``ra_deg``, ``dec_deg``) says which
file is which cluster and band, so files may have any name, size and pixel scale, one band or four.
``band_mhz`` is a frequency inside a GLEAM band (e.g. 154.5) or a band name (``139-170``).
:func:`draft_manifest` writes a draft from the headers (``FREQ``, or ``CRVAL3`` of a ``FREQ`` axis;
``OBJECT``) and the file names, for the user to check; :func:`layout_manifest` describes a folder in
the published layout (the GLEAM halo dataset, a mock sky). :func:`download_fields` fetches the
four GLEAM bands of each catalogue cluster from SkyView into a cache and returns their manifest.

Reading never stops a batch: a file that cannot be used becomes a quality flag of its field.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..constants import BAND_KEYS, BANDS_MHZ
from ..data.download import (
    DownloadError,
    fetch_images,
    file_name,
    skyview_images,
    write_fits,
)
from ..data.images import DataError, parse_filename, read_image

__all__ = ["Field", "MANIFEST_COLUMNS", "band_of", "read_field", "draft_manifest", "read_manifest", "layout_manifest",
           "manifest_fields", "download_fields", "Throttle", "WORKERS", "RATE"]

MANIFEST_COLUMNS = ("file", "source", "band_mhz")
WORKERS = 4  # clusters fetched from SkyView at once
RATE = 2.0  # SkyView image queries started per second, at most


@dataclasses.dataclass
class Field:
    """One cluster to score: its band images (each with its own grid) and what went wrong reading them."""

    name: str
    radec: tuple  # (RA, Dec) in degrees: where the detector looks
    images: dict  # band key -> (image (H, W) float32 Jy/beam, celestial WCS)
    flags: list  # quality flags, e.g. 'missing_band:72-103', 'unreadable:139-170: <reason>', 'nan_pixels:170-231:12'
    meta: dict = dataclasses.field(default_factory=dict)  # the catalogue row, when there is one

    @property
    def bands(self) -> list:
        return [b for b in BAND_KEYS if b in self.images]


def band_of(value) -> str:
    """The GLEAM band key of a manifest entry: a band name ('139-170') or a frequency in MHz inside one band."""
    text = str(value).strip().lower().removesuffix("mhz").strip()
    if text in BAND_KEYS:
        return text
    try:
        mhz = float(text)
    except ValueError:
        raise DataError(f"band {value!r}: give a frequency in MHz or one of {BAND_KEYS}") from None
    for key, (lo, hi) in zip(BAND_KEYS, BANDS_MHZ):
        if lo <= mhz <= hi:
            return key
    raise DataError(f"band {value!r}: {mhz:g} MHz is in none of the GLEAM bands {BAND_KEYS} MHz")


def read_field(name: str, files: dict, radec=None, meta=None) -> Field:
    """Read the band files {band key: path} of one cluster; unusable files become flags, never errors.

    ``radec`` defaults to the centre of the first readable band's image.
    """
    images, flags = {}, []
    for band in BAND_KEYS:
        if band not in files:
            flags.append(f"missing_band:{band}")
            continue
        try:
            image, wcs, band_flags = read_image(files[band], shape=None)
        except DataError as err:
            flags.append(f"unreadable:{band}: {err}")
            continue
        images[band] = (image, wcs)
        flags += [f"{flag.split(':')[0]}:{band}" + (f":{flag.split(':', 1)[1]}" if ":" in flag else "") for flag in band_flags]
    if radec is None and images:
        image, wcs = images[next(iter(images))]
        centre = wcs.pixel_to_world_values((image.shape[1] - 1) / 2, (image.shape[0] - 1) / 2)
        radec = (float(centre[0]), float(centre[1]))
    return Field(name, radec, images, flags, dict(meta or {}))


_FREQ_IN_NAME = re.compile(r"(?<![\d.])(\d{2,3}(?:\.\d+)?)\s*mhz", re.IGNORECASE)


def _header_mhz(header) -> float | None:
    if "FREQ" in header:
        return float(header["FREQ"]) / 1e6
    for axis in (3, 4):
        if str(header.get(f"CTYPE{axis}", "")).upper().startswith("FREQ"):
            return float(header[f"CRVAL{axis}"]) / 1e6
    return None


def draft_manifest(folder, pattern: str = "*.fits"):
    """A draft manifest of the FITS files under ``folder`` (pandas; write it with ``to_csv`` and check it).

    Band: the header's ``FREQ`` or ``CRVAL3``/``CRVAL4`` of a ``FREQ`` axis, else a published file
    name, else "<number> MHz" in the name. Source: a published file name, else ``OBJECT``, else the
    file name without its frequency. ``note`` says where each value came from, or what is missing.
    """
    import pandas as pd
    from astropy.io import fits

    folder = Path(folder)
    rows = []
    for path in sorted(folder.rglob(pattern)):
        if path.name.startswith("."):
            continue
        row = dict(file=str(path.relative_to(folder)), source="", band_mhz="", note="")
        try:
            header = fits.getheader(path)
        except (OSError, ValueError) as err:
            rows.append(dict(row, note=f"unreadable header ({err.__class__.__name__})"))
            continue
        mhz = _header_mhz(header)
        try:
            source, band = parse_filename(path.name)
            row.update(source=source, band_mhz=band, note="from the published file name")
        except DataError:
            match = _FREQ_IN_NAME.search(path.stem)
            row["source"] = str(header.get("OBJECT", "")).strip() or _FREQ_IN_NAME.sub("", path.stem).strip(" _-.")
            if match:
                row.update(band_mhz=match[1], note="band from the file name")
        if mhz is not None:
            row.update(band_mhz=f"{mhz:g}", note="band from the header")
        if not row["band_mhz"]:
            row["note"] = "no frequency found: fill in band_mhz"
        rows.append(row)
    return pd.DataFrame(rows, columns=[*MANIFEST_COLUMNS, "note"])


def read_manifest(path):
    """Read and check a manifest CSV; ``file`` paths become absolute (relative ones are under the manifest's folder).

    Raises a :class:`DataError` naming the manifest and the row for a missing column, an unknown band,
    or two files for one (source, band).
    """
    import pandas as pd

    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not a readable manifest ({err.__class__.__name__}: {err})") from err
    missing = [c for c in MANIFEST_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{path}: the manifest lacks column(s) {missing} (needs {list(MANIFEST_COLUMNS)})")
    bands = []
    for i, row in table.iterrows():
        try:
            bands.append(band_of(row.band_mhz))
        except DataError as err:
            raise DataError(f"{path}, row {i + 2} ({row.file}): {err}") from None
    table = table.assign(band=bands, file=[str(Path(f) if Path(f).is_absolute() else path.parent / f) for f in table.file])
    twice = table[table.duplicated(["source", "band"], keep=False)]
    if len(twice):
        first = twice.iloc[0]
        raise DataError(f"{path}: source {first.source!r} has {len(twice[twice.source == first.source])} files for band "
                        f"{first.band} MHz")
    return table


def layout_manifest(root):
    """The manifest of a folder in the published layout (TRAIN_DATA_1 ...; any folder of published file names)."""
    import pandas as pd

    rows = []
    for path in sorted(Path(root).rglob("*.fits")):
        if path.name.startswith("."):
            continue
        source, band = parse_filename(path.name)
        rows.append(dict(file=str(path), source=source, band_mhz=band, band=band))
    return pd.DataFrame(rows, columns=[*MANIFEST_COLUMNS, "band"])


def manifest_fields(manifest, catalogue=None):
    """Yield one :class:`Field` per source of a manifest (read lazily: one field in memory at a time).

    ``catalogue`` (optional, pandas with ``name``, ``ra_deg``, ``dec_deg``): positions and columns
    of the clusters; a source without a row is scored at its image centre.
    """
    rows = {} if catalogue is None else {str(r["name"]): r for r in catalogue.to_dict("records")}
    for source, files in manifest.groupby("source", sort=True):
        meta = rows.get(str(source), {})
        radec = None
        if {"ra_deg", "dec_deg"} <= set(files.columns) and str(files.ra_deg.iloc[0]).strip():
            radec = (float(files.ra_deg.iloc[0]), float(files.dec_deg.iloc[0]))
        elif meta:
            radec = (float(meta["ra_deg"]), float(meta["dec_deg"]))
        yield read_field(str(source), dict(zip(files.band, files.file)), radec, meta)


def _safe(name: str) -> str:
    """A folder name for a cluster name (letters, digits, '+', '-', '.', '_')."""
    return re.sub(r"[^A-Za-z0-9+\-._]", "_", str(name).strip())


def download_fields(table, cache, bands=BAND_KEYS, get_images=None, progress: bool = True, give_up_after: int = 5,
                    workers: int = WORKERS, rate: float = RATE, **fetch_kw) -> tuple:
    """Fetch the GLEAM bands of every cluster of a search table from SkyView into ``cache/<name>/``.

    Files already in the cache are kept (a stopped batch resumes); every file is written atomically, and the
    temporary files of a batch that was killed while writing are removed first (one batch per cache at a time);
    a cluster whose download fails is recorded and the batch goes on. After ``give_up_after`` failures
    in a row SkyView is taken as unreachable: the clusters still missing are recorded as not tried
    (their cached files, if any, are still used), so an offline run ends in seconds, not hours.

    ``workers`` clusters are fetched at once, and at most ``rate`` image queries start per second (retries
    included): SkyView renders every image on request, so a batch should not hold more than a few of its
    renders at a time. The result does not depend on either setting.

    Returns (manifest of the files now in the cache, with ``ra_deg``/``dec_deg``; failures: name -> reason),
    both in the order of ``table``.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    records = table.to_dict("records")
    for stale in Path(cache).glob("*/.*.part"):  # left by a batch that was killed while writing (one batch per cache)
        stale.unlink(missing_ok=True)
    batch = _Batch(give_up_after)
    polite = Throttle(rate).wrap(get_images or skyview_images)

    def fetch(row) -> str | None:
        folder = Path(cache) / _safe(row["name"])
        todo = [b for b in bands if not (folder / file_name(_safe(row["name"]), b)).exists()]
        if not todo:
            return None
        if batch.unreachable():
            return f"not tried: SkyView failed for {batch.in_a_row} clusters in a row (offline?)"
        try:
            images = fetch_images(f"{row['ra_deg']} {row['dec_deg']}", bands=todo, get_images=polite, **fetch_kw)
            for band in todo:
                write_fits(images[band], folder / file_name(_safe(row["name"]), band))
        except (DownloadError, DataError) as err:
            batch.failed()
            return str(err)
        batch.succeeded()
        return None

    with ThreadPoolExecutor(max(1, int(workers))) as pool:
        reasons = list(tqdm(pool.map(fetch, records), total=len(records), desc="SkyView", disable=not progress))
    failures = {row["name"]: why for row, why in zip(records, reasons) if why}
    rows = []
    for row in records:
        folder = Path(cache) / _safe(row["name"])
        rows += [dict(file=str(path), source=row["name"], band_mhz=b, band=b, ra_deg=row["ra_deg"], dec_deg=row["dec_deg"])
                 for b in bands if (path := folder / file_name(_safe(row["name"]), b)).exists()]
    return pd.DataFrame(rows, columns=[*MANIFEST_COLUMNS, "band", "ra_deg", "dec_deg"]), failures


class _Batch:
    """Failures in a row across the workers of one download batch (SkyView unreachable after ``limit``)."""

    def __init__(self, limit: int):
        self.limit, self.in_a_row, self._lock = limit, 0, threading.Lock()

    def unreachable(self) -> bool:
        with self._lock:
            return self.in_a_row >= self.limit

    def failed(self):
        with self._lock:
            self.in_a_row += 1

    def succeeded(self):
        with self._lock:
            self.in_a_row = 0


class Throttle:
    """At most ``rate`` calls start per second, whatever the number of threads calling (``rate`` <= 0: no limit)."""

    def __init__(self, rate: float, clock=time.monotonic, sleep=time.sleep):
        self.gap, self.clock, self.sleep = (1.0 / rate if rate > 0 else 0.0), clock, sleep
        self._next, self._lock = 0.0, threading.Lock()

    def wait(self):
        with self._lock:
            now = self.clock()
            start = max(now, self._next)
            self._next = start + self.gap
        if start > now:
            self.sleep(start - now)

    def wrap(self, function):
        def throttled(*args, **kwargs):
            self.wait()
            return function(*args, **kwargs)

        return throttled
