"""Mock GLEAM sky: 4-band images whose content is known, in the published folder layout.

:func:`write_sky` writes ``TRAIN_DATA_1`` ... ``TEST_DATA_0`` with one 300x300 FITS image
(Jy/beam, TAN WCS, BMAJ/BMIN/BPA, FREQ) per field and band, plus two tables:

* ``truth.csv``: one row per injected component (halo, mini-halo, central galaxy,
  compact source, radio-galaxy core/lobe/wing, ring) with its position, 150 MHz flux
  density, spectral index and size; halo rows also carry the ``halo_*`` columns below;
* ``fields.csv``: one row per field with its class, redshift, noise and beam per band and
  the halo's flux density, e-folding radius and central surface brightness (the hook for
  completeness curves).

Every component has a spectrum S = S_150 (nu / 150 MHz)^alpha, is painted on the pixel
grid in Jy/pixel and convolved with the band's elliptical Gaussian beam (peak 1, so the
result is in Jy/beam). Noise is white noise convolved with the same beam and scaled to
the drawn per-band RMS. Images are then clipped (|x| < k * rms set to 0) as the
published ones were. The same seed writes byte-identical files.

Command line::

    python -m halo_utils.sky.mock --out data/mock/seed0 --seed 0
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from astropy.io import fits

from .. import cli, paths
from ..config import seeded
from ..constants import BAND_CENTRES_MHZ, BANDS_MHZ, BEAM_ARCMIN_200, PIXEL_DEG, cosmology
from ..data.catalogue import DATASET_TABLE
from ..data.images import FOLDERS
from ..paths import atomic_write
from .components import Component, draw_components, log_uniform
from .instrument import beam, beam_kernel, correlated_noise, render

__all__ = ["SkyConfig", "Component", "draw_components", "simulate_field", "write_sky", "read_truth", "read_fields",
           "sky_dir", "sky_root"]


@dataclasses.dataclass(frozen=True)
class SkyConfig:
    """Everything the mock sky draws from. Ranges are (low, high), drawn uniformly unless noted."""

    n_fields: tuple = (18, 18, 5, 5)  # (train halo, train non-halo, test halo, test non-halo)
    size: int = 300  # pixels per side
    pixel_deg: float = PIXEL_DEG  # pixel size, as SkyView's GLEAM cut-outs
    beam_arcmin_200: float = BEAM_ARCMIN_200  # beam FWHM (minor axis) at 200 MHz; scales as 1/frequency
    beam_arcmin: tuple | None = None  # per-band minor-axis FWHM instead (e.g. (3.6, 3.3, 3.3, 3.3), as measured)
    rms_median_jy: tuple = (0.054, 0.023, 0.0146, 0.0085)  # per band: the medians 01_noise measures
    rms_factor: tuple = (0.7, 2.2)  # field noise factor, log-uniform (real 10-90 % range / median)
    rms_band_jitter: float = 0.1  # extra log-normal scatter per band
    clip_k: tuple | None = (2.0, 3.5)  # zero |x| < k * rms per image (published: k ~ 2-3.8); None = no clipping
    dec_range: tuple = (-70.0, 20.0)  # field centres, degrees
    z: tuple = (0.03, 0.35)  # cluster / radio-galaxy redshift
    halo_flux_jy: tuple = (0.05, 2.0)  # 150 MHz flux density, log-uniform
    halo_re_kpc: tuple = (80.0, 300.0)  # e-folding radius of a giant halo
    halo_alpha: tuple = (-1.6, -1.1)  # steep spectra
    halo_axis_ratio: tuple = (0.7, 1.0)
    halo_offset_px: float = 2.0  # scatter of the halo centre about the image centre
    mini_halo_fraction: float = 0.25  # of halo-class fields
    mini_halo_re_kpc: tuple = (20.0, 80.0)
    bcg_flux_jy: tuple = (0.05, 1.0)  # central galaxy of a mini-halo, log-uniform
    compact_density_deg2: float = 24.0  # compact sources per square degree above compact_flux_jy[0]
    compact_flux_jy: tuple = (0.02, 10.0)  # dN/dS ~ S^-compact_slope between these
    compact_slope: float = 1.8
    compact_alpha: tuple = (-0.7, 0.3)  # mean, standard deviation (normal)
    radio_galaxy_fraction: float = 0.55  # of non-halo fields: a radio galaxy at the centre
    ring_fraction: float = 0.2  # of non-halo fields: an ORC-like ring at the centre
    radio_galaxy_flux_jy: tuple = (0.2, 5.0)  # log-uniform
    radio_galaxy_size_kpc: tuple = (150.0, 1000.0)
    ring_flux_jy: tuple = (0.05, 0.5)
    ring_radius_arcmin: tuple = (1.5, 4.0)
    population: str = "classic"  # 'classic': class-specific central content; 'balanced': see halo_utils.sky.population
    m500_range: tuple = (3.0, 15.0)  # balanced: cluster mass M500, 1e14 Msun, log-uniform
    p150_relation: tuple = (25.0, 3.5, 0.3)  # balanced: log10 P150 (W/Hz) at 6e14 Msun, slope, scatter (dex); assumed
    halo_re_at_pivot_kpc: float = 200.0  # balanced: e-folding radius at 6e14 Msun, scaling as M500^(1/3)
    bcg_fraction: float = 0.25  # balanced: fields (either class) with a bright central galaxy instead of a radio galaxy
    group_members: tuple = (3, 6)  # balanced: compact sources blended in a non-halo decoy group
    sidelobe_level: float = 0.0  # artefact ripples around compact sources brighter than sidelobe_min_jy in a band:
    # amplitude / the source's peak (0: none; instrument.add_sidelobes; a few % is an assumed, plausible level)
    sidelobe_min_jy: float = 1.0
    decoy_flux_scale: float = 0.55  # balanced: a decoy's flux density / a halo's drawn the same way (measured to
    # equalise the central S/N and the clipped flux within 15' of the two classes; tests/test_population.py)

    @property
    def field_deg2(self) -> float:
        return (self.size * self.pixel_deg) ** 2

    def to_dict(self) -> dict:
        """The settings; without the sidelobe ones while they are off, so skies (and every cache named after its
        config) made before the option keep their names."""
        out = dataclasses.asdict(self)
        if not self.sidelobe_level:
            del out["sidelobe_level"], out["sidelobe_min_jy"]
        return out


# ----------------------------------------------------------------------------- fields and files

def _field_kind(components) -> str:
    kinds = {c.kind for c in components}
    for kind in ("halo", "mini-halo", "ring", "group", "lobe"):
        if kind in kinds:
            return "radio-galaxy" if kind == "lobe" else kind
    return "none"


def simulate_field(seed: int, index: int, name: str, label: int, config: SkyConfig) -> dict:
    """Draw and image one field.

    Returns
    -------
    dict with ``cube`` (n_bands, H, W) float32 Jy/beam, ``components`` (list of
    :class:`Component`) and ``field`` (the ``fields.csv`` row).
    """
    rng = seeded(seed, index)
    ra, dec = float(rng.uniform(0, 360)), float(np.degrees(np.arcsin(rng.uniform(*np.sin(np.radians(config.dec_range))))))
    components, z, cluster = draw_components(rng, name, label, config)
    beams = [beam(b, dec, config) for b in range(len(BANDS_MHZ))]
    shape = (config.size, config.size)
    phase = float(seeded(seed, index, 1).uniform(0, np.pi / 3))  # own stream: noise draws stay
    cube = render(components, beams, shape, config.pixel_deg, (config.sidelobe_level, config.sidelobe_min_jy, phase))
    factor = log_uniform(rng, config.rms_factor)
    field = dict(field=name, label=label, kind=_field_kind(components), ra=ra, dec=dec, z=z,
                 n_compact=sum(c.kind == "compact" for c in components), **cluster)
    px_arcmin = config.pixel_deg * 60
    for b, (lo, hi) in enumerate(BANDS_MHZ):
        rms = config.rms_median_jy[b] * factor * float(np.exp(rng.normal(0, config.rms_band_jitter)))
        kernel = beam_kernel(beams[b][0] / px_arcmin, beams[b][1] / px_arcmin, beams[b][2])
        cube[b] += correlated_noise(rng, rms, kernel, shape)
        k = float(rng.uniform(*config.clip_k)) if config.clip_k else 0.0
        cube[b][np.abs(cube[b]) < k * rms] = 0.0
        field.update({f"rms_{lo}-{hi}": rms, f"clip_k_{lo}-{hi}": k, f"bmaj_{lo}-{hi}": beams[b][0],
                      f"bmin_{lo}-{hi}": beams[b][1]})
    field.update(_halo_columns(components, config))
    return dict(cube=cube.astype(np.float32), components=components, field=field)


def _halo_columns(components, config: SkyConfig) -> dict:
    """Halo flux density (Jy, 150 MHz), e-folding radius (kpc, arcmin) and central brightness (uJy/arcsec^2)."""
    halo = next((c for c in components if c.kind in ("halo", "mini-halo")), None)
    if halo is None:
        return dict(halo_flux_150=0.0, halo_alpha=np.nan, halo_re_arcmin=np.nan, halo_re_kpc=np.nan,
                    halo_i0_ujy_arcsec2=0.0)
    re_arcsec = halo.size * config.pixel_deg * 3600
    i0 = halo.flux_150 / (2 * np.pi * re_arcsec ** 2 * halo.axis_ratio) * 1e6
    return dict(halo_flux_150=halo.flux_150, halo_alpha=halo.alpha, halo_re_arcmin=re_arcsec / 60,
                halo_re_kpc=re_arcsec / cosmology().arcsec_per_kpc_proper(halo.z).value,
                halo_i0_ujy_arcsec2=i0)


def _header(field: dict, band: int, config: SkyConfig, seed: int) -> fits.Header:
    lo, hi = BANDS_MHZ[band]
    h = fits.Header()
    centre = config.size / 2 + 0.5
    for key, value in (("CTYPE1", "RA---TAN"), ("CTYPE2", "DEC--TAN"), ("CRPIX1", centre), ("CRPIX2", centre),
                       ("CRVAL1", field["ra"]), ("CRVAL2", field["dec"]), ("CDELT1", -config.pixel_deg),
                       ("CDELT2", config.pixel_deg), ("CUNIT1", "deg"), ("CUNIT2", "deg"),
                       ("RADESYS", "FK5"), ("EQUINOX", 2000.0)):
        h[key] = value
    h["BUNIT"] = ("JY/BEAM", "surface brightness")
    h["FREQ"] = (BAND_CENTRES_MHZ[band] * 1e6, "[Hz] band centre")
    h["BMAJ"] = (field[f"bmaj_{lo}-{hi}"] / 60, "[deg] beam major axis FWHM")
    h["BMIN"] = (field[f"bmin_{lo}-{hi}"] / 60, "[deg] beam minor axis FWHM")
    h["BPA"] = (0.0, "[deg] beam position angle")
    h["OBJECT"] = field["field"]
    h["ORIGIN"] = ("halo_utils.sky.mock", f"mock GLEAM sky, seed {seed}")
    return h


def _field_names(config: SkyConfig, seed: int) -> list:
    """(name, split, label) per field; names are shuffled so they do not reveal the class."""
    classes = [("train", 1), ("train", 0), ("test", 1), ("test", 0)]
    labels = [c for c, n in zip(classes, config.n_fields) for _ in range(n)]
    order = seeded(seed, 10**6).permutation(len(labels))
    return [(f"mock_{i:04d}", *labels[j]) for i, j in enumerate(order)]


def write_sky(out, seed: int = 0, config: SkyConfig | None = None, overwrite: bool = False) -> Path:
    """Write a mock sky into ``out`` (published layout + truth.csv + fields.csv); returns ``out``.

    Files are written into a temporary folder first and moved into place at the end, so an
    interrupted run leaves no half-written sky.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    config = config or SkyConfig()
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass overwrite=True (--overwrite) to replace it")
    folder_of = {v: k for k, v in FOLDERS.items()}
    truth, fields = [], []
    with paths.atomic_folder(out) as tmp:
        for index, (name, split, label) in enumerate(tqdm(_field_names(config, seed), desc="mock fields")):
            sim = simulate_field(seed, index, name, label, config)
            folder = tmp / folder_of[(split, label)]
            folder.mkdir(exist_ok=True)
            suffix = "_clipped" if config.clip_k else ""
            for b, (lo, hi) in enumerate(BANDS_MHZ):
                fits.PrimaryHDU(sim["cube"][b], _header(sim["field"], b, config, seed)).writeto(
                    folder / f"{name}_Gleam{lo}-{hi}{suffix}.fits")
            fields.append(dict(sim["field"], split=split))
            halo = {k: v for k, v in sim["field"].items() if k.startswith("halo_")}
            truth += [dict(dataclasses.asdict(c), shape=c.shape, split=split, label=label,
                           **(halo if c.kind in ("halo", "mini-halo") else {})) for c in sim["components"]]
        pd.DataFrame(truth).to_csv(tmp / "truth.csv", index=False, float_format="%.6g")
        pd.DataFrame(fields).to_csv(tmp / "fields.csv", index=False, float_format="%.6g")
        _write_source_table(tmp)
        (tmp / "config.json").write_text(_config_json(config, seed))
    return out


def _config_json(config: SkyConfig, seed: int) -> str:
    import json
    return json.dumps(dict(seed=seed, **config.to_dict()), indent=1, sort_keys=True) + "\n"


def read_truth(root) -> list:
    """The components of ``truth.csv`` under ``root`` as :class:`Component` objects."""
    import pandas as pd

    names = [f.name for f in dataclasses.fields(Component)]
    table = pd.read_csv(Path(root) / "truth.csv")
    return [Component(**{k: row[k] for k in names}) for row in table.to_dict("records")]


def read_fields(root):
    """``fields.csv`` under ``root`` as a DataFrame indexed by field name."""
    import pandas as pd

    path = Path(root) / "fields.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path}: not a mock sky (no fields.csv); make one with python -m halo_utils.sky.mock")
    return pd.read_csv(path).set_index("field")


def sky_dir(seed: int = 0, config: SkyConfig | None = None) -> Path:
    """``data/mock/seed<seed>`` for the default sky, ``data/mock/seed<seed>-<hash>`` for any other config."""
    import hashlib

    config = config or SkyConfig()
    name = f"seed{seed}"
    if config != SkyConfig():
        name += "-" + hashlib.sha1(_config_json(config, seed).encode()).hexdigest()[:8]
    return paths.data_dir() / "mock" / name


def sky_root(seed: int = 0, config: SkyConfig | None = None) -> Path:
    """The mock sky of ``seed`` (and ``config``) in :func:`sky_dir`, written there on first use."""
    root = sky_dir(seed, config)
    if not (root / "fields.csv").exists():
        print(f"writing a mock GLEAM sky (seed {seed}) to {root}")
        write_sky(root, seed, config, overwrite=root.exists())
    if not (root / DATASET_TABLE).exists():  # a sky written before skies carried their source table
        _write_source_table(root)
    return root


def _write_source_table(root):
    """Write ``sources.csv``: the fields in the layout of the committed source table (source, label, split, kind, z, ...)."""
    fields = read_fields(root).reset_index().rename(columns={"field": "source", "ra": "ra_deg", "dec": "dec_deg"})
    table = fields.sort_values(["split", "label", "source"], ascending=[False, False, True])
    atomic_write(Path(root) / DATASET_TABLE, lambda f: table.to_csv(f, index=False, float_format="%.6g"))


def main(argv=None):
    parser = cli.parser(__spec__.name, "Write a mock GLEAM sky in the published folder layout.\n\n" + (__doc__ or ""))
    parser.add_argument("--out", required=True, help="output folder (TRAIN_DATA_1 ... + truth.csv + fields.csv)")
    parser.add_argument("--seed", type=int, default=0, help="the sky's seed (default 0)")
    parser.add_argument("--n-fields", type=int, nargs=4, metavar=("TRAIN_H", "TRAIN_N", "TEST_H", "TEST_N"),
                        default=SkyConfig.n_fields, help="fields per split and class (default 18 18 5 5)")
    parser.add_argument("--no-clip", action="store_true", help="do not clip the images")
    parser.add_argument("--beam-arcmin", type=float, nargs=4, default=None,
                        help="minor-axis beam FWHM per band (default: 2 arcmin x 200 MHz / nu)")
    parser.add_argument("--sidelobes", type=float, default=0.0, metavar="LEVEL",
                        help="artefact ripples around compact sources above 1 Jy, LEVEL x their peak (default 0: none)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing sky in --out")
    args = parser.parse_args(argv)
    config = SkyConfig(n_fields=tuple(args.n_fields), clip_k=None if args.no_clip else SkyConfig.clip_k,
                       beam_arcmin=tuple(args.beam_arcmin) if args.beam_arcmin else None, sidelobe_level=args.sidelobes)
    print(write_sky(args.out, args.seed, config, overwrite=args.overwrite))


if __name__ == "__main__":
    main()
