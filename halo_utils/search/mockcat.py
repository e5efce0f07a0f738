"""A mock catalogue to measure a search against the truth, and corrupted copies of its files.

:func:`mock_catalogue` writes (once, cached under ``data/mock/``) a mock GLEAM sky of ``n_fields``
clusters, half with a halo, and returns its folder, manifest and catalogue (``truth`` = 1 for a
halo). :func:`corrupt` breaks one band file of a share of the clusters the ways real downloads
break — truncated, all NaN, all zero, wrong shape — writing the broken copies elsewhere and
pointing a copy of the manifest at them, so the originals stay intact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

from ..config import seeded
from ..data.catalogue import read_source_table
from ..sky.mock import SkyConfig, sky_root, write_sky
from .fields import layout_manifest

__all__ = ["CORRUPTIONS", "mock_catalogue", "corrupt", "corruption_check"]

CORRUPTIONS = ("truncated", "nan", "zeros", "shape")


def mock_catalogue(n_fields: int, seed: int, size: int = 300, clipped: bool = True, root=None) -> tuple:
    """A mock sky of ``n_fields`` clusters (``n_fields // 2`` with a halo) as a search input.

    Parameters
    ----------
    size : image side, px (0.733' pixels; the detector's field must fit: 93 px at 0.733')
    clipped : clip the images as the published ones were (False: unclipped, as SkyView delivers)
    root : write the sky there (default: cached under ``data/mock/``, see :func:`~halo_utils.sky.mock.sky_root`)

    Returns (root folder, manifest, catalogue table with name, ra_deg, dec_deg, z, catalogue, truth, kind and
    the halo's 150 MHz flux density (Jy), e-folding radius (arcmin, kpc))
    """
    halos = n_fields // 2
    config = SkyConfig(n_fields=(0, 0, halos, n_fields - halos), size=size,
                       clip_k=SkyConfig.clip_k if clipped else None)
    root = sky_root(seed, config) if root is None else write_sky(root, seed, config)
    table = read_source_table(root)
    columns = ["name", "ra_deg", "dec_deg", "z", "truth", "kind", "halo_flux_150", "halo_re_arcmin", "halo_re_kpc"]
    catalogue = table.rename(columns={"source": "name", "label": "truth"})[columns]
    return root, layout_manifest(root), catalogue.assign(catalogue=f"mock_seed{seed}")


def corrupt(manifest, fraction: float, seed: int, out) -> tuple:
    """Break one band file of ``round(fraction * n_sources)`` sources (kinds in turn: :data:`CORRUPTIONS`).

    The broken files go to ``out``; the returned manifest points at them instead of the originals.
    Returns (manifest, source -> 'kind:band').
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = seeded(seed, 404)
    sources = sorted(manifest.source.unique())
    chosen = rng.choice(len(sources), int(round(fraction * len(sources))), replace=False)
    manifest = manifest.copy()
    broken = {}
    for n, i in enumerate(sorted(chosen)):
        rows = manifest.index[manifest.source == sources[i]]
        row = rows[rng.integers(len(rows))]
        kind = CORRUPTIONS[n % len(CORRUPTIONS)]
        target = out / Path(manifest.at[row, "file"]).name
        _break(Path(manifest.at[row, "file"]), target, kind)
        manifest.at[row, "file"] = str(target)
        broken[sources[i]] = f"{kind}:{manifest.at[row, 'band']}"
    return manifest, broken


def _break(source: Path, target: Path, kind: str):
    """Write a broken copy of the FITS file ``source`` to ``target``."""
    if kind == "truncated":
        data = source.read_bytes()
        target.write_bytes(data[: len(data) // 2])
        return
    with fits.open(source) as hdul:
        header, image = hdul[0].header.copy(), hdul[0].data.astype(np.float32)
    if kind == "nan":
        image[:] = np.nan
    elif kind == "zeros":
        image[:] = 0
    elif kind == "shape":
        image = np.stack([image, image])  # two planes where one band was expected
    else:
        raise ValueError(f"unknown corruption {kind!r}; choose one of {CORRUPTIONS}")
    fits.PrimaryHDU(image, header).writeto(target, overwrite=True)


def corruption_check(clean, broken_table, broken: dict) -> dict:
    """Compare a search of intact files (``clean``) with one where ``broken`` (source -> kind) files were corrupted.

    Returns dict(n_corrupted, corrupted_flagged: every corrupted cluster carries a flag naming the broken band,
    missed: those that do not, n_others_changed: other clusters whose score or flags differ, max_score_change).
    """
    a, b = clean.set_index("name"), broken_table.set_index("name")
    missed = [name for name, what in broken.items()
              if f":{what.split(':', 1)[1]}" not in str(b.at[name, "flags"]) or not b.at[name, "n_flags"]]
    others = a.index.difference(list(broken))
    score_a, score_b = a.loc[others, "score"], b.loc[others, "score"]
    same_score = np.isclose(score_a, score_b, rtol=0, atol=1e-6) | (score_a.isna() & score_b.isna())
    changed = others[~(same_score.to_numpy() & (a.loc[others, "flags"] == b.loc[others, "flags"]).to_numpy())]
    return dict(n_corrupted=len(broken), corrupted=broken, corrupted_flagged=not missed, missed=missed,
                n_others=int(len(others)), n_others_changed=int(len(changed)), others_changed=list(changed),
                max_score_change=float(np.nanmax(np.abs(score_a - score_b))) if len(others) else 0.0)
