"""Cluster catalogues to search, in one table: name, RA, Dec, z, M500 where given, catalogue.

Each catalogue comes from VizieR (astroquery, with a local cache, a timeout and a clear offline
error) or from local files (CDS ``ReadMe`` + data file, ECSV, CSV, FITS). Column names differ
between catalogues and between VizieR and the CDS files, so each column is looked up among a few
candidate names; when none matches, the error lists the columns the table has.

=========== ======================= =========================================================
name        VizieR                  what
=========== ======================= =========================================================
psz2        J/A+A/594/A27/psz2      Planck PSZ2 SZ clusters (Planck Collab. 2016), 1653
mcxc        J/A+A/534/A109/mcxc     MCXC X-ray clusters (Piffaretti et al. 2011), 1743
mgcls       J/A+A/657/A56           MeerKAT Galaxy Cluster Legacy Survey (Knowles et al. 2022)
cosmos_g11  J/ApJ/742/125           COSMOS X-ray groups (George et al. 2011)
cosmos_g19  J/MNRAS/483/3545        COSMOS XMM+Chandra groups (Gozaliasl et al. 2019)
lotss_psz2  J/A+A/660/A78           LoTSS-DR2 PSZ2 clusters, with their diffuse-emission class
                                    (Botteon et al. 2022): known-halo labels
=========== ======================= =========================================================

The GLEAM sky is south of Dec +30 deg: :func:`standard` cuts there.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from .. import paths
from ..data.images import DataError

__all__ = ["CATALOGUES", "CatalogueError", "read_local", "fetch", "standard", "catalogue", "GLEAM_DEC_MAX"]

GLEAM_DEC_MAX = 30.0  # degrees: GLEAM covers the sky south of Dec +30


class CatalogueError(DataError):
    """A catalogue could not be fetched or read; the message names it and says what to do."""


@dataclasses.dataclass(frozen=True)
class Spec:
    """Where a catalogue lives and which of its columns mean what (candidates, first match wins)."""

    vizier: str  # VizieR catalogue (or table) identifier
    reference: str
    name: tuple = ("Name", "PSZ2", "MCXC", "Cluster", "ID", "Seq", "Group")
    z: tuple = ("z", "zspec", "Redshift", "zph", "zp", "REDSHIFT")
    m500: tuple = ("MSZ", "M500", "M500c", "M200")
    label: tuple = ()  # a column that says what diffuse emission is known (lotss_psz2)
    table: str = ""  # the table of a multi-table catalogue to use ('' = the first with positions)


_RA = ("_RAJ2000", "RAJ2000", "RAdeg", "RA_deg", "RA", "ra")
_DEC = ("_DEJ2000", "DEJ2000", "DEdeg", "DE_deg", "DEC", "Dec", "dec")

CATALOGUES = {
    "psz2": Spec("J/A+A/594/A27/psz2", "Planck Collaboration 2016, A&A 594, A27"),
    "mcxc": Spec("J/A+A/534/A109/mcxc", "Piffaretti et al. 2011, A&A 534, A109", name=("MCXC", "Name", "OName")),
    "mgcls": Spec("J/A+A/657/A56", "Knowles et al. 2022, A&A 657, A56", name=("Name", "Cluster", "Target", "Field"),
                  table="table1"),  # the cluster list (table1.dat); the other tables are not clusters
    "cosmos_g11": Spec("J/ApJ/742/125", "George et al. 2011, ApJ 742, 125", name=("ID", "Group", "Seq"),
                       table="xgroups"),  # xgroups.dat; xgal.dat lists the member galaxies, with positions too
    "cosmos_g19": Spec("J/MNRAS/483/3545", "Gozaliasl et al. 2019, MNRAS 483, 3545", name=("ID", "XID", "Group")),
    "lotss_psz2": Spec("J/A+A/660/A78", "Botteon et al. 2022, A&A 660, A78", label=("Class", "Type", "Diffuse", "RH")),
}


def _spec(name: str) -> Spec:
    if name not in CATALOGUES:
        raise CatalogueError(f"unknown catalogue {name!r}; choose one of {sorted(CATALOGUES)} or give a file")
    return CATALOGUES[name]


def cache_path(name: str) -> Path:
    """Where a fetched catalogue is kept: ``data/catalogues/cache/<name>.ecsv`` (git-ignored)."""
    return paths.data_dir() / "catalogues" / "cache" / f"{name}.ecsv"


def read_local(path):
    """An astropy Table from local files: a folder with a CDS ``ReadMe`` and one data file, or an ECSV/CSV/FITS file."""
    from astropy.io import ascii
    from astropy.table import Table

    path = Path(path)
    try:
        if path.is_dir():
            data = [p for p in sorted(path.iterdir()) if p.name != "ReadMe" and p.suffix in (".dat", ".txt", "")]
            if not (path / "ReadMe").exists() or not data:
                raise CatalogueError(f"{path}: a CDS folder needs a ReadMe and a data file (e.g. psz2.dat)")
            return ascii.read(data[0], readme=str(path / "ReadMe"), format="cds")
        if path.suffix == ".ecsv":
            return Table.read(path, format="ascii.ecsv")
        if path.suffix == ".csv":
            return Table.read(path, format="ascii.csv")
        return Table.read(path)
    except CatalogueError:
        raise
    except (OSError, ValueError, KeyError) as err:
        raise CatalogueError(f"{path}: not a readable catalogue ({err.__class__.__name__}: {err})") from err


def fetch(name: str, vizier=None, timeout: float = 60.0, refresh: bool = False, retries: int = 3,
          backoff: float = 2.0, sleep=time.sleep):
    """A catalogue from VizieR, cached in :func:`cache_path` (a second call reads the cache).

    ``vizier``: an object with ``get_catalogs(id)`` (astroquery's ``Vizier`` by default; tests
    substitute one that reads local files). A failed query (HTTP error, lost connection, time-out, an
    answer that is not a VOTable or holds no table) is tried ``retries`` times, ``backoff`` x 2^n seconds
    apart, with astroquery's own cache off (it would hand back a broken answer on every try, and for a week);
    then a :class:`CatalogueError` names the catalogue and the last error and says how to give the catalogue
    as a file instead. Nothing is written unless a table with positions arrived.
    """
    spec, cache = _spec(name), cache_path(name)
    if cache.exists() and not refresh:
        return read_local(cache)
    if vizier is None:
        from astroquery.vizier import Vizier

        vizier = Vizier(columns=["**", "_RAJ2000", "_DEJ2000"], row_limit=-1, timeout=timeout)
    last = None
    for attempt in range(retries):
        try:
            table = _pick_table(name, spec, _query(vizier, spec.vizier))
            break
        except _Layout as err:  # the catalogue arrived but is not what the reader expects: no use asking again
            raise CatalogueError(str(err)) from None
        except Exception as err:  # network errors come in many classes (requests, OSError, timeouts, parse errors)
            last = err
            if attempt + 1 < retries:
                sleep(backoff * 2 ** attempt)
    else:
        raise CatalogueError(f"could not fetch {name} ({spec.vizier}) from VizieR after {retries} tries "
                             f"({last.__class__.__name__}: {last}). Offline? Download it once where there is "
                             f"network, or pass its CDS files: --catalogue-file DIR (ReadMe + data file)") from last
    cache.parent.mkdir(parents=True, exist_ok=True)
    paths.atomic_write(cache, lambda tmp: table.write(tmp, format="ascii.ecsv", overwrite=True))
    return table


class _Layout(CatalogueError):
    """VizieR sent the catalogue, but no table of it has positions."""


def _query(vizier, identifier: str):
    """``vizier.get_catalogs(identifier)`` with astroquery's response cache off."""
    try:
        from astroquery import cache_conf
    except ImportError:  # a stand-in client without astroquery installed
        return vizier.get_catalogs(identifier)
    with cache_conf.set_temp("cache_active", False):
        return vizier.get_catalogs(identifier)


def _pick_table(name: str, spec: Spec, tables):
    if tables is None or not hasattr(tables, "__len__") or isinstance(tables, (str, bytes)):
        raise CatalogueError(f"VizieR's answer for {name} ({spec.vizier}) is not a VOTable")
    if len(tables) == 0:
        raise CatalogueError(f"VizieR returned no table for {name} ({spec.vizier})")
    keys = list(tables.keys()) if hasattr(tables, "keys") else [str(i) for i in range(len(tables))]
    for key, table in zip(keys, tables):
        if (not spec.table or key.endswith(spec.table)) and _find(table.colnames, _RA) and _find(table.colnames, _DEC):
            return table
    raise _Layout(f"{name} ({spec.vizier}): no table with positions among {keys}")


def _find(columns, candidates) -> str | None:
    lower = {c.lower(): c for c in columns}
    return next((lower[c.lower()] for c in candidates if c.lower() in lower), None)


def _positions(table, what: str) -> tuple:
    """(RA, Dec) arrays in degrees: decimal columns, else the CDS sexagesimal parts (RAh RAm RAs DE- DEd DEm DEs)."""
    ra, dec = _find(table.colnames, _RA), _find(table.colnames, _DEC)
    if ra and dec:
        return np.asarray(table[ra], float), np.asarray(table[dec], float)
    parts = ("RAh", "RAm", "RAs", "DE-", "DEd", "DEm", "DEs")
    if all(p in table.colnames for p in parts):
        hours = np.asarray(table["RAh"], float) + np.asarray(table["RAm"], float) / 60 + np.asarray(table["RAs"], float) / 3600
        sign = np.where(np.asarray(table["DE-"]).astype(str) == "-", -1.0, 1.0)
        degrees = np.asarray(table["DEd"], float) + np.asarray(table["DEm"], float) / 60 + np.asarray(table["DEs"], float) / 3600
        return 15 * hours, sign * degrees
    raise CatalogueError(f"{what}: no RA/Dec columns among {table.colnames}")


def _column(table, candidates, default=np.nan):
    key = _find(table.colnames, candidates)
    if key is None:
        return np.full(len(table), default, dtype=object if isinstance(default, str) else float)
    values = table[key]
    if getattr(values, "mask", None) is not None and np.any(values.mask):
        filled = values.filled("" if values.dtype.kind in "US" else np.nan)
        return np.asarray(filled)
    return np.asarray(values)


def standard(table, name: str, dec_max: float = GLEAM_DEC_MAX):
    """A catalogue as the search table (pandas): name, ra_deg, dec_deg, z, m500 (1e14 Msun), catalogue, label.

    z and m500 are NaN where the catalogue gives none (or a placeholder <= 0).

    Rows north of ``dec_max`` (outside GLEAM) and rows without a position are dropped; ``label`` is
    the known diffuse-emission class where the catalogue gives one (else empty).
    """
    import pandas as pd

    spec = CATALOGUES.get(name, Spec("", "a user catalogue"))
    ra, dec = _positions(table, name)
    names = _column(table, spec.name, default="")
    out = pd.DataFrame(dict(name=[str(n).strip() or f"{name}_{i}" for i, n in enumerate(names)], ra_deg=ra, dec_deg=dec,
                            z=pd.to_numeric(_column(table, spec.z), errors="coerce"),
                            m500=pd.to_numeric(_column(table, spec.m500), errors="coerce"),
                            catalogue=name, label=[str(v) for v in _column(table, spec.label, default="")]))
    for column in ("z", "m500"):  # catalogues mark an unknown value with -1 or 0 (PSZ2: z = -1, MSZ = 0)
        out[column] = out[column].where(out[column] > 0)
    keep = np.isfinite(out.ra_deg) & np.isfinite(out.dec_deg) & (out.dec_deg < dec_max)
    return out[keep].reset_index(drop=True)


def catalogue(name: str, path=None, vizier=None, dec_max: float = GLEAM_DEC_MAX):
    """The search table of catalogue ``name`` from local files ``path`` or from VizieR (cached)."""
    table = read_local(path) if path is not None else fetch(name, vizier)
    return standard(table, name, dec_max)
