"""The table of the 46 dataset sources and cluster catalogues (Planck PSZ2).

The committed table ``data/catalogues/gleam_halo_sources.csv`` is made by
:func:`source_table` from the dataset folder (positions from the FITS headers, the
published split) and the Planck PSZ2 catalogue (redshift where a cluster matches).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..paths import project_root
from .images import DataError

__all__ = ["SOURCE_TABLE", "source_kind", "read_psz2", "fetch_psz2", "source_table", "read_source_table", "DATASET_TABLE",
           "match_psz2"]

TABLE_COLUMNS = ("source", "label", "split")  # what every source table must hold
DATASET_TABLE = "sources.csv"  # a dataset folder's own source table (the mock sky writes one)
SOURCE_TABLE = "data/catalogues/gleam_halo_sources.csv"
PSZ2_VIZIER = "J/A+A/594/A27/psz2"


def source_kind(name: str, label: int) -> str:
    """A short description of what the source is, from its name and class."""
    lower = name.lower()
    if label == 1:
        return "halo class (halo / mini-halo / candidate)"
    if lower.startswith("orc"):
        return "odd radio circle"
    if re.match(r"^(3c|ngc|pks)\b", lower):
        return "radio galaxy"
    return "cluster without reported diffuse emission"


def read_psz2(folder):
    """Read the PSZ2 table from a folder with ``psz2.dat`` + ``ReadMe`` (CDS format)."""
    from astropy.io import ascii

    folder = Path(folder)
    return ascii.read(folder / "psz2.dat", readme=str(folder / "ReadMe"), format="cds")


def fetch_psz2(vizier=None):
    """Download PSZ2 from VizieR (all 1653 rows). ``vizier`` may be substituted in tests."""
    if vizier is None:
        from astroquery.vizier import Vizier

        vizier = Vizier(row_limit=-1, columns=["Name", "RAdeg", "DEdeg", "SNR", "z", "MSZ"])
    tables = vizier.get_catalogs(PSZ2_VIZIER)
    if len(tables) == 0:
        raise RuntimeError(f"VizieR returned no table for {PSZ2_VIZIER}")
    return tables[0]


def match_psz2(ra, dec, psz2, radius_arcmin: float = 6.0):
    """Nearest PSZ2 entry within ``radius_arcmin`` of each (ra, dec) in degrees.

    Returns (index or -1, separation in arcmin) arrays.
    """
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    mine = SkyCoord(np.atleast_1d(ra) * u.deg, np.atleast_1d(dec) * u.deg)
    theirs = SkyCoord(np.asarray(psz2["RAdeg"], float) * u.deg, np.asarray(psz2["DEdeg"], float) * u.deg)
    idx, sep, _ = mine.match_to_catalog_sky(theirs)
    sep = sep.to_value(u.arcmin)
    return np.where(sep <= radius_arcmin, idx, -1), sep


def source_table(sources, psz2=None, radius_arcmin: float = 6.0):
    """One row per source: name, label, split, kind, RA/Dec (deg, J2000, image centre), PSZ2 match, its z and its
    SZ mass ``m500`` (PSZ2's MSZ, 1e14 Msun; blank where PSZ2 gives none).

    Parameters
    ----------
    sources : list of :class:`halo_utils.data.Source`
    psz2 : optional PSZ2 table (see :func:`read_psz2`)
    """
    import pandas as pd

    rows = [dict(source=s.name, label=s.label, split=s.split, kind=source_kind(s.name, s.label),
                 ra_deg=round(s.radec[0], 4), dec_deg=round(s.radec[1], 4)) for s in sources]
    table = pd.DataFrame(rows)
    table["psz2_name"], table["psz2_sep_arcmin"], table["z"], table["z_ref"], table["m500"] = "", np.nan, np.nan, "", np.nan
    if psz2 is not None:
        idx, sep = match_psz2(table.ra_deg, table.dec_deg, psz2, radius_arcmin)
        for i, j in enumerate(idx):
            if j < 0:
                continue
            z = psz2["z"][j]
            table.loc[i, ["psz2_name", "psz2_sep_arcmin"]] = [str(psz2["Name"][j]), round(float(sep[i]), 2)]
            if np.ma.is_masked(z) or not float(z) > 0:
                continue
            table.loc[i, ["z", "z_ref"]] = [float(z), "Planck PSZ2 (2016A&A...594A..27P)"]
            mass = psz2["MSZ"][j]
            if not np.ma.is_masked(mass) and float(mass) > 0:
                table.loc[i, "m500"] = round(float(mass), 3)
    return table.sort_values(["split", "label", "source"], ascending=[False, False, True]).reset_index(drop=True)


def read_source_table(root=None):
    """The source table of the dataset in folder ``root`` (a pandas DataFrame, one row per source).

    A dataset folder may carry its own table, ``sources.csv`` (the mock sky writes one); otherwise,
    and without ``root``, this is the committed table of the published images. Columns: source,
    label, split, kind, ra_deg, dec_deg, z and what else the table holds.
    """
    import pandas as pd

    path = Path(root) / DATASET_TABLE if root is not None else None
    if path is None or not path.exists():
        path = project_root() / SOURCE_TABLE
    try:
        table = pd.read_csv(path, keep_default_na=True, dtype={"psz2_name": str})
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise DataError(f"{path}: not a readable source table ({err.__class__.__name__}: {err})") from err
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{path}: the source table lacks column(s) {', '.join(missing)} "
                        f"(needs {', '.join(TABLE_COLUMNS)})")
    return table
