"""The mock GLEAM sky: layout, determinism, instrument, photometry and noise recovery."""

import dataclasses
import hashlib

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from halo_utils.constants import BAND_CENTRES_MHZ, BAND_KEYS
from halo_utils.data import read_dataset
from halo_utils.data.catalogue import read_source_table
from halo_utils.prep.dataset import dataset_root
from halo_utils.prep.noise import noise_table, recovery
from halo_utils.sky import instrument, mock, photometry

SMALL = mock.SkyConfig(n_fields=(2, 1, 1, 1))


def digest(root):
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_same_seed_writes_identical_files_other_seed_differs(tmp_path):
    a = digest(mock.write_sky(tmp_path / "a", seed=5, config=SMALL))
    b = digest(mock.write_sky(tmp_path / "b", seed=5, config=SMALL))
    c = digest(mock.write_sky(tmp_path / "c", seed=6, config=SMALL))
    assert a == b
    assert len(a) == 5 * 4 + 4  # 5 fields x 4 bands + truth.csv, fields.csv, sources.csv, config.json
    assert not {v for k, v in a.items() if k.endswith(".fits")} & set(c.values())


def test_layout_reads_like_the_published_dataset(mock_sky):
    sources = read_dataset(mock_sky)
    counts = {k: sum((s.split, s.label) == k for s in sources) for k in [("train", 1), ("train", 0), ("test", 1), ("test", 0)]}
    assert list(counts.values()) == list(mock.SkyConfig().n_fields)
    assert all(s.cube.shape == (300, 300, 4) and not any(s.flags.values()) for s in sources)
    fields = mock.read_fields(mock_sky)
    labels = {s.name: s.label for s in sources}
    assert set(fields.index) == set(labels) and all(fields.label[n] == labels[n] for n in labels)
    # names say nothing about the class: halo and non-halo names interleave
    ordered = [labels[n] for n in sorted(labels)]
    assert 0 < sum(a != b for a, b in zip(ordered, ordered[1:]))


def test_headers_carry_wcs_frequency_and_a_beam_that_scales_with_wavelength(mock_sky):
    files = sorted((mock_sky / "TRAIN_DATA_1").glob("*.fits"))[:4]
    headers = {f.name.split("_Gleam")[1].split("_")[0]: fits.getheader(f) for f in files}
    assert set(headers) == set(BAND_KEYS)
    lo, hi = headers["72-103"], headers["170-231"]
    assert WCS(lo).wcs.ctype[0] == "RA---TAN" and lo["CDELT2"] == pytest.approx(0.012222)
    assert lo["BUNIT"] == "JY/BEAM" and lo["FREQ"] == pytest.approx(87.5e6)
    assert lo["BMIN"] / hi["BMIN"] == pytest.approx(200.5 / 87.5)
    assert hi["BMIN"] * 60 == pytest.approx(2.0 * 200 / 200.5)
    assert lo["BMAJ"] >= lo["BMIN"]


def test_point_source_and_halo_conserve_flux():
    beams = [(4.0, 3.0, 30.0), (2.0, 2.0, 0.0)]
    point = mock.Component("f", "compact", 100.3, 120.7, 2.0, -0.7)
    halo = mock.Component("f", "halo", 150.0, 150.0, 1.5, -1.3, size=8.0, axis_ratio=0.8, angle=40.0)
    for c in (point, halo):
        image = instrument.render([c], beams, (300, 300), 0.012222)
        for b, (bmaj, bmin, _) in enumerate(beams):
            total = image[b].sum() / instrument.beam_area_px(bmaj, bmin, 0.012222)
            assert total == pytest.approx(c.flux(BAND_CENTRES_MHZ[b]), rel=2e-3)
    centred = dataclasses.replace(point, x=100.0, y=120.0)
    peak = instrument.render([centred], [(2.0, 2.0, 0.0)], (300, 300), 0.012222)[0]
    assert peak.max() == pytest.approx(centred.flux(87.5), rel=1e-6)  # a point source peaks at its flux in Jy/beam


def test_noise_has_the_requested_rms_and_beam_correlation():
    kernel = instrument.beam_kernel(6.0, 6.0, 0.0)
    noise = instrument.correlated_noise(np.random.default_rng(0), 0.02, kernel, (300, 300))
    assert noise.std() == pytest.approx(0.02, rel=0.1)
    lag = lambda d: np.corrcoef(noise[:, :-d].ravel(), noise[:, d:].ravel())[0, 1]  # noqa: E731
    assert lag(3) > 0.5 and abs(lag(30)) < 0.1  # correlated on the beam scale (FWHM 6 px), not beyond


def test_truth_tables_describe_every_halo(mock_sky):
    fields = mock.read_fields(mock_sky)
    truth = mock.read_truth(mock_sky)
    halos = [c for c in truth if c.kind in ("halo", "mini-halo")]
    assert {c.field for c in halos} == set(fields.index[fields.label == 1])
    assert (fields.halo_flux_150[fields.label == 0] == 0).all()
    assert ((fields.halo_flux_150 > 0) & (fields.halo_i0_ujy_arcsec2 > 0))[fields.label == 1].all()
    for c in halos:
        row = fields.loc[c.field]
        assert row.halo_flux_150 == pytest.approx(c.flux_150, rel=1e-5) and -1.6 <= c.alpha <= -1.1
        # I0 integrates back to the flux density: S = 2 pi I0 re^2 q
        re_arcsec = row.halo_re_arcmin * 60
        assert 2 * np.pi * row.halo_i0_ujy_arcsec2 * 1e-6 * re_arcsec ** 2 * c.axis_ratio == pytest.approx(c.flux_150, rel=1e-4)
    import pandas as pd

    rows = pd.read_csv(mock_sky / "truth.csv").query("kind in ['halo', 'mini-halo']").set_index("field")
    for column in ("halo_flux_150", "halo_re_kpc", "halo_re_arcmin", "halo_i0_ujy_arcsec2"):
        assert np.allclose(rows[column], fields.loc[rows.index, column], rtol=1e-5)
    mini = [c for c in halos if c.kind == "mini-halo"]
    assert all(any(b.kind == "bcg" and b.field == c.field for b in truth) for c in mini)
    compact = [c for c in truth if c.kind == "compact"]
    assert abs(np.mean([c.alpha for c in compact]) + 0.7) < 0.05
    kinds = set(fields.kind[fields.label == 0])
    assert {"radio-galaxy", "ring"} <= kinds


@pytest.mark.parametrize("sky", ["mock_sky", "mock_sky_unclipped"])
def test_noise_estimator_recovers_injected_rms(sky, request):
    root = request.getfixturevalue(sky)
    table = recovery(noise_table(read_dataset(root)), mock.read_fields(root))
    errors = table.rel_error.abs()
    assert errors.isna().mean() <= 0.05, table[errors.isna()]
    assert errors.median() <= 0.05 and errors.max() <= 0.15, errors.describe()


def test_bright_halos_are_steep_spectrum_in_the_images(tmp_path):
    config = mock.SkyConfig(n_fields=(8, 0, 0, 0), halo_flux_jy=(1.5, 4.0), mini_halo_fraction=0.0)
    root = mock.write_sky(tmp_path / "bright", seed=3, config=config)
    fields, truth = mock.read_fields(root), mock.read_truth(root)
    measured = []
    for src in read_dataset(root):
        phot = photometry.halo_photometry(src, truth, fields.loc[src.name])
        if min(phot["snr"][0], phot["snr"][-1]) >= 20:
            measured.append((phot["alpha"], fields.halo_alpha[src.name]))
    assert len(measured) >= 5
    recovered, true = np.array(measured).T
    assert np.abs(recovered - true).max() <= 0.2, measured
    assert (recovered < -1.0).all()


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("stopped")
        return simulate(*args, **kwargs)

    simulate = mock.simulate_field
    monkeypatch.setattr(mock, "simulate_field", broken)
    with pytest.raises(RuntimeError):
        mock.write_sky(tmp_path / "sky", seed=0, config=SMALL)
    assert list(tmp_path.iterdir()) == []


def test_existing_sky_is_not_overwritten_silently(tmp_path):
    mock.write_sky(tmp_path / "sky", seed=0, config=SMALL)
    with pytest.raises(FileExistsError, match="overwrite"):
        mock.write_sky(tmp_path / "sky", seed=1, config=SMALL)


def test_dataset_root_names_the_source(tmp_path, monkeypatch):
    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    with pytest.raises(ValueError, match="'gleam'.*'mock'"):
        dataset_root("real")
    root = mock.sky_root(2, SMALL)
    assert root.parent == tmp_path / "data" / "mock" and (root / "fields.csv").exists()
    stamp = (root / "fields.csv").stat().st_mtime_ns
    assert mock.sky_root(2, SMALL) == root  # reused, not rewritten
    assert (root / "fields.csv").stat().st_mtime_ns == stamp
    assert mock.sky_dir(2) == tmp_path / "data" / "mock" / "seed2" != root  # another config, another folder
    table = read_source_table(root)
    assert list(table.columns[:3]) == ["source", "label", "kind"] and len(table) == sum(SMALL.n_fields)


def test_command_line(tmp_path, capsys):
    mock.main(["--out", str(tmp_path / "sky"), "--seed", "1", "--n-fields", "1", "1", "0", "0", "--no-clip"])
    assert str(tmp_path / "sky") in capsys.readouterr().out
    sources = read_dataset(tmp_path / "sky")
    assert len(sources) == 2 and all((s.cube < 0).mean() > 0.2 for s in sources)  # not clipped
    assert all((s.cube == 0).mean() < 0.01 for s in sources)
    mock.main(["--out", str(tmp_path / "clipped"), "--seed", "1", "--n-fields", "1", "1", "0", "0"])
    clipped = read_dataset(tmp_path / "clipped")
    assert all((s.cube == 0).mean() > 0.5 for s in clipped)  # the default sky is clipped like the published images


def test_source_fwhm_measures_the_beam(mock_sky):
    fields = mock.read_fields(mock_sky)
    fwhm = photometry.source_fwhm_arcmin(read_dataset(mock_sky))
    beams = [np.sqrt(fields[f"bmaj_{b}"] * fields[f"bmin_{b}"]).median() for b in BAND_KEYS]
    assert np.all(np.abs(np.array(fwhm) / beams - 1) < 0.25), (fwhm, beams)
    assert fwhm[0] > 1.5 * fwhm[-1]  # the beam shrinks with frequency


def test_sidelobes_ripple_around_bright_sources_only():
    """``add_sidelobes``: positive and negative rings of the stated level, beyond the beam, only around sources above
    the threshold; off by default, so the default sky is unchanged."""
    beams = [(3.0, 3.0, 0.0)]
    bright = mock.Component("f", "compact", 100.0, 100.0, 2.0, 0.0)
    faint = mock.Component("f", "compact", 220.0, 220.0, 0.5, 0.0)
    plain = instrument.render([bright, faint], beams, (300, 300), 0.012222)[0]
    rippled = instrument.render([bright, faint], beams, (300, 300), 0.012222, sidelobes=(0.05, 1.0, 0.3))[0]
    artefact = rippled - plain
    y, x = np.mgrid[:300, :300]
    reach = 24 * 3.0 / (0.012222 * 60)  # 24 beams
    near_bright, near_faint = np.hypot(x - 100, y - 100) <= reach, np.hypot(x - 220, y - 220) < 60
    assert not artefact[~near_bright].any() and not artefact[near_faint].any()
    assert 0.5 * 0.05 * 2.0 < artefact.max() <= 0.05 * 2.0 and artefact.min() < -0.25 * 0.05 * 2.0  # both signs
    assert not artefact[np.hypot(x - 100, y - 100) <= 3.0 / (0.012222 * 60)].any()  # the beam itself untouched
    assert "sidelobe_level" not in mock.SkyConfig().to_dict()  # off: the config (and cache names) as before


def test_a_field_with_sidelobes_differs_only_near_its_bright_sources():
    clean = mock.SkyConfig(clip_k=None)
    rippled = dataclasses.replace(clean, sidelobe_level=0.03, sidelobe_min_jy=0.5)
    index = next(i for i in range(20) if any(c.kind == "compact" and c.flux(154.5) > 1.0 for c in
                                             mock.simulate_field(1, i, "f", 0, clean)["components"]))
    a, b = (mock.simulate_field(1, index, "f", 0, c) for c in (clean, rippled))
    assert a["components"] == b["components"] and a["field"]["rms_139-170"] == b["field"]["rms_139-170"]
    bright = [c for c in a["components"] if c.shape == "point" and c.flux(154.5) > 0.5]
    y, x = np.mgrid[:300, :300]
    reach = 24 * a["field"]["bmaj_139-170"] / (mock.SkyConfig().pixel_deg * 60)  # 24 beams
    near = np.any([np.hypot(x - c.x, y - c.y) <= reach + 1 for c in bright], axis=0)
    diff = np.abs(b["cube"][2] - a["cube"][2])
    assert diff[near].max() > 0.01 * max(c.flux(154.5) for c in bright)  # ripples where the bright sources are
    assert not diff[~near].any()  # the same noise elsewhere: the phase has its own random stream
