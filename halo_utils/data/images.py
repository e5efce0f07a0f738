"""Reading the GLEAM halo dataset: file names, FITS images, 4-band cubes, quality flags.

The published dataset (Mishra et al. 2024, "GLEAM-Data") has four folders
``TRAIN_DATA_1``, ``TRAIN_DATA_0``, ``TEST_DATA_1``, ``TEST_DATA_0`` (split, label)
holding one 300x300 FITS image (Jy/beam) per source and band, with inconsistent
file names. Bad input raises a :class:`DataError` naming the file, source or band,
or is recorded as a quality flag on the :class:`Source`.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_scales

from ..constants import BAND_KEYS

__all__ = [
    "BAND_KEYS", "FOLDERS", "IMAGE_SHAPE", "DataError", "Source",
    "band_key", "band_indices", "parse_filename", "read_image", "stack_bands", "load_source", "read_dataset", "Sources",
    "zero_region",
]

"""Band identifiers ``'72-103'`` ... ``'170-231'`` in frequency order."""

FOLDERS = {"TRAIN_DATA_1": ("train", 1), "TRAIN_DATA_0": ("train", 0),
           "TEST_DATA_1": ("test", 1), "TEST_DATA_0": ("test", 0)}
"""Published folder name -> (split, label); label 1 = halo class."""

IMAGE_SHAPE = (300, 300)

_NAME = re.compile(
    r"^(?P<source>.+?)[ _]*gleam[ _]*(?P<lo>\d{2,3}) *- *(?P<hi>\d{2,3})(?:[ _]*mhz)?(?:[ _]*clipped)?\.fits$",
    re.IGNORECASE,
)


class DataError(ValueError):
    """Unusable input; the message names the file, source or band."""


@dataclasses.dataclass
class Source:
    """One source: a (300, 300, 4) cube in Jy/beam ordered by frequency, with its metadata."""

    name: str  # source name as published (e.g. 'abell_2744', 'orc 1')
    cube: np.ndarray  # (300, 300, n_bands) float32, Jy/beam; NaNs replaced by 0 and flagged
    wcs: WCS  # celestial TAN WCS of the images
    label: int  # 1 = halo class, 0 = non-halo
    split: str  # 'train' or 'test' (the published split)
    files: dict  # band key -> Path
    flags: dict = dataclasses.field(default_factory=dict)  # band key -> list of quality flags
    pixel_deg: tuple = ()  # pixel size per band, degrees (the published bands differ: 0.93' ... 0.47')
    band_wcs: tuple = ()  # celestial WCS of each band (the bands share a centre, not a pixel size)
    grids: dict = dataclasses.field(default_factory=dict, init=False, repr=False, compare=False)
    """(pixel_arcmin, size) -> (hash of the cube, the cube on that common grid): :func:`halo_utils.data.grid.regrid`
    fills it and regrids again when the cube has changed."""

    @property
    def radec(self) -> tuple:
        """(RA, Dec) of the image centre in degrees."""
        ra, dec = self.wcs.wcs.crval
        return float(ra), float(dec)


def band_key(lo: int, hi: int) -> str:
    key = f"{int(lo)}-{int(hi)}"
    if key not in BAND_KEYS:
        raise DataError(f"band {key} MHz is not one of the GLEAM bands {BAND_KEYS}")
    return key


def band_indices(bands) -> list:
    """Band indices (0 = 72-103 MHz) from a list of ints or a string such as ``"[2]"`` or ``"0,1"``.

    Papermill's ``-p bands "[2]"`` passes a string; both forms are accepted and checked.
    """
    items = re.findall(r"[^\s,\[\]()]+", bands) if isinstance(bands, str) else list(np.atleast_1d(bands))
    try:
        out = [int(b) for b in items]
    except (TypeError, ValueError):
        raise DataError(f"bands {bands!r}: give band indices 0-{len(BAND_KEYS) - 1}, e.g. [2] or [0, 1, 2, 3]") from None
    bad = [b for b in out if not 0 <= b < len(BAND_KEYS)]
    if not out or bad or len(set(out)) != len(out):
        raise DataError(f"bands {bands!r}: need distinct indices 0-{len(BAND_KEYS) - 1} ({', '.join(BAND_KEYS)} MHz)")
    return out


def parse_filename(name: str) -> tuple:
    """Map a published file name to ``(source, band_key)``.

    Handles ``abell_0122_Gleam72-103_clipped.fits``, ``abell_s1063Gleam72-103_clipped.fits``
    and ``orc 1_GLEAM_72-103MHz_clipped.fits``.
    """
    match = _NAME.match(Path(name).name)
    if not match:
        raise DataError(f"file name {name!r} does not look like '<source>_Gleam<lo>-<hi>[MHz][_clipped].fits'")
    return match["source"].strip(" _"), band_key(match["lo"], match["hi"])


def zero_region(image: np.ndarray, min_rows: int = 3) -> str | None:
    """Describe a block of whole zero rows/columns at an image edge (a truncated image), else None.

    Only meaningful for images that were not clipped (clipped images are mostly zeros).
    """
    for axis, name in ((1, "rows"), (0, "columns")):
        empty = np.all(image == 0, axis=axis)
        for edge, run in (("first", empty), ("last", empty[::-1])):
            n = int(np.argmin(run)) if not run.all() else run.size
            if n >= min_rows:
                return f"{n} {edge} {name} are zero"
    return None


def _open_primary(path: Path):
    try:
        with warnings.catch_warnings(record=True) as caught, fits.open(path, memmap=False) as hdul:
            warnings.simplefilter("always")
            hdul.verify("silentfix")
            data = hdul[0].data
            header = hdul[0].header.copy()
            data = None if data is None else np.array(data, dtype=np.float32)
        truncated = [str(w.message) for w in caught if "truncated" in str(w.message)]
        if truncated:
            raise OSError(truncated[0])
    except (OSError, TypeError, ValueError, IndexError) as err:
        raise DataError(f"{path}: not a readable FITS file ({err.__class__.__name__}: {err})") from err
    if data is None:
        raise DataError(f"{path}: the primary HDU holds no image")
    return data, header


_WCS_KEYS = ("CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CDELT1", "CDELT2", "CD1_1", "CD2_2")
_UNITS = {"jy/beam": 1.0, "jy/bm": 1.0, "mjy/beam": 1e-3, "mjy/bm": 1e-3}
"""Accepted BUNIT values (case and spaces ignored) -> factor to Jy/beam; a missing BUNIT is taken as Jy/beam."""


def _unit_factor(path: Path, header) -> float:
    """Factor from the image's BUNIT to Jy/beam; a DataError for any other unit (K, Jy/pixel, ...)."""
    unit = str(header.get("BUNIT", "Jy/beam")).replace(" ", "").lower()
    if unit not in _UNITS:
        raise DataError(f"{path}: BUNIT = {header['BUNIT']!r}; expected Jy/beam (or mJy/beam)")
    return _UNITS[unit]


def _celestial_wcs(path: Path, header) -> WCS:
    for key in _WCS_KEYS:  # e.g. 'NAN' written by another program: astropy would read it as a string
        value = header.get(key)
        if key in header and not (isinstance(value, (int, float)) and np.isfinite(value)):
            raise DataError(f"{path}: header keyword {key} = {value!r} is not a finite number")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(header).celestial
    if wcs.naxis != 2 or not wcs.has_celestial or not all(wcs.wcs.ctype):
        raise DataError(f"{path}: no celestial WCS in the header (CTYPE1/2, CRVAL, CDELT needed)")
    return wcs


def read_image(path, shape=IMAGE_SHAPE) -> tuple:
    """Read one band image.

    Returns
    -------
    image : (300, 300) float32 array (any 2-D shape with ``shape=None``), Jy/beam, NaNs replaced by 0
    wcs : astropy WCS (celestial)
    flags : list of str quality flags (``nan_pixels:N``, ``zero_region:...``, ``negative_median``,
        ``unit:mJy/beam``)

    Raises a :class:`DataError` naming the file for an image that holds no sky: unreadable,
    wrong shape, no celestial WCS or a non-finite WCS keyword, a unit other than (m)Jy/beam,
    more than half the pixels blank (NaN/inf), constant, or without a single positive pixel.
    """
    path = Path(path)
    data, header = _open_primary(path)
    data = np.squeeze(data)
    if shape is not None and data.shape != tuple(shape):
        raise DataError(f"{path}: image shape {data.shape}, expected {tuple(shape)}")
    if data.ndim != 2 or min(data.shape) < 2:
        raise DataError(f"{path}: image shape {data.shape}: not one 2-D image (one band per file)")
    wcs = _celestial_wcs(path, header)
    factor = _unit_factor(path, header)
    flags = [] if factor == 1.0 else [f"unit:{header['BUNIT']}"]
    bad = ~np.isfinite(data)
    if bad.mean() > 0.5:
        raise DataError(f"{path}: {bad.mean():.0%} of the pixels are NaN or infinite (a blank image)")
    if bad.any():
        flags.append(f"nan_pixels:{int(bad.sum())}")
        data = np.where(bad, np.float32(0), data)
    data = data * np.float32(factor)
    if np.ptp(data) == 0:
        raise DataError(f"{path}: every pixel is {float(data.flat[0]):g}: a constant image holds no sky")
    if data.max() <= 0:
        raise DataError(f"{path}: no positive pixel (max {float(data.max()):.3g} Jy/beam): not a radio image")
    if (data < 0).mean() > 0.2:  # not clipped: a zero block means truncation
        region = zero_region(data)
        if region:
            flags.append(f"zero_region:{region}")
        median = float(np.median(data))
        if median < -0.5 * 1.4826 * float(np.median(np.abs(data - median))):
            flags.append("negative_median")  # a negative offset of half a sigma or more (a sidelobe bowl)
    return data, wcs, flags


def stack_bands(images: dict, source: str = "?") -> np.ndarray:
    """Stack band images {band_key: (H, W)} into an (H, W, 4) cube in frequency order."""
    missing = [b for b in BAND_KEYS if b not in images]
    extra = [b for b in images if b not in BAND_KEYS]
    if missing or extra or len(images) != len(BAND_KEYS):
        raise DataError(f"source {source!r}: need bands {BAND_KEYS}, missing {missing}, unexpected {extra}")
    shapes = {images[b].shape for b in BAND_KEYS}
    if len(shapes) != 1:
        raise DataError(f"source {source!r}: band images differ in shape {sorted(shapes)}")
    return np.stack([images[b] for b in BAND_KEYS], axis=-1).astype(np.float32)


def _check_same_pointing(source: str, wcses: dict, tol_pix: float = 1.0):
    ref_band = BAND_KEYS[0]
    ref = wcses[ref_band]
    scale = abs(ref.wcs.cdelt[1]) if ref.wcs.cdelt[1] else 1.0
    for band, wcs in wcses.items():
        offset = np.hypot(*(np.asarray(wcs.wcs.crval) - ref.wcs.crval)) / scale
        if offset > tol_pix:
            raise DataError(f"source {source!r}: band {band} is centred {offset:.1f} px away from band {ref_band}")


def load_source(name: str, files: dict, label: int, split: str) -> Source:
    """Read the four band files {band_key: path} of one source into a :class:`Source`."""
    missing = [b for b in BAND_KEYS if b not in files]
    if missing:
        raise DataError(f"source {name!r} ({split}, label {label}): missing band(s) {missing} MHz")
    images, wcses, flags = {}, {}, {}
    for band in BAND_KEYS:
        images[band], wcses[band], flags[band] = read_image(files[band])
    _check_same_pointing(name, wcses)
    cube = stack_bands(images, name)
    pixel_deg = tuple(float(np.mean(np.abs(proj_plane_pixel_scales(wcses[b])))) for b in BAND_KEYS)
    return Source(name, cube, wcses[BAND_KEYS[0]], label, split, dict(files), flags, pixel_deg,
                  tuple(wcses[b] for b in BAND_KEYS))


class Sources(list):
    """The :class:`Source` list that :func:`read_dataset` returns, with ``skipped``: one dict per
    source (or file) left out under ``on_error='skip'`` (``source``, ``folder``, ``reason``)."""

    def __init__(self, sources=(), skipped=()):
        super().__init__(sources)
        self.skipped = list(skipped)

    def flagged(self) -> dict:
        """source -> band -> quality flags, for the sources that carry any (for summaries)."""
        return {s.name: {b: f for b, f in s.flags.items() if f} for s in self if any(s.flags.values())}

    def report(self) -> str:
        """One line per skipped source, or a line saying none was."""
        if not self.skipped:
            return f"read {len(self)} sources, skipped none"
        lines = [f"read {len(self)} sources, skipped {len(self.skipped)}:"]
        return "\n".join(lines + [f"  {s['source']} ({s['folder']}): {s['reason']}" for s in self.skipped])


def _scan_folder(folder: Path, fail) -> dict:
    """source -> {band: path} of the FITS files in ``folder``; ``fail(source, reason)`` handles bad files."""
    found, bad = {}, set()
    for path in sorted(folder.glob("*.fits")):
        if path.name.startswith("."):  # macOS resource forks (._name.fits) and other hidden files
            continue
        try:
            source, band = parse_filename(path.name)
        except DataError as err:
            fail(path.name, str(err))
            continue
        if band in found.setdefault(source, {}):
            fail(source, f"{folder}: two files for source {source!r} band {band}: "
                         f"{found[source][band].name!r} and {path.name!r}")
            bad.add(source)
        found[source][band] = path
    return {k: v for k, v in found.items() if k not in bad}


def read_dataset(root, sources=None, on_error: str = "raise") -> Sources:
    """Read every source of a folder in the published layout.

    Parameters
    ----------
    root : folder holding ``TRAIN_DATA_1``, ``TRAIN_DATA_0``, ``TEST_DATA_1``, ``TEST_DATA_0``
    sources : optional iterable of source names to keep
    on_error : 'raise' (default): the first bad file or source raises a :class:`DataError`;
        'skip': bad sources (and files whose names say no source) are left out and listed in
        the result's ``skipped`` (see :meth:`Sources.report`)

    Returns
    -------
    :class:`Sources` (a list of :class:`Source`, sorted by (split, -label, name))
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
    root = Path(root)
    present = [f for f in FOLDERS if (root / f).is_dir()]
    if not present:
        raise DataError(f"{root}: none of the folders {list(FOLDERS)} is there")
    wanted = None if sources is None else set(sources)
    out, seen, skipped = [], {}, []
    for folder in present:
        split, label = FOLDERS[folder]

        def fail(name, reason):
            if on_error == "raise":
                raise DataError(reason)
            skipped.append(dict(source=name, folder=folder, reason=reason))

        for name, files in _scan_folder(root / folder, fail).items():
            if wanted is not None and name not in wanted:
                continue
            if name in seen:
                fail(name, f"source {name!r} appears in both {seen[name]} and {folder}")
                continue
            seen[name] = folder
            try:
                out.append(load_source(name, files, label, split))
            except DataError as err:
                fail(name, str(err))
    return Sources(sorted(out, key=lambda s: (s.split != "train", -s.label, s.name)), skipped)
