"""Catalogue searches: catalogues, manifests, saved detectors, scoring with flags, broken files (all offline)."""

import json

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table
from conftest import gleam_header, noise_image, write_fits

from halo_utils import config
from halo_utils.constants import BAND_KEYS
from halo_utils.data import read_dataset
from halo_utils.data.images import DataError
from halo_utils.detect import artefact, classify, crossval
from halo_utils.search import catalogues, fields, mockcat, run, score
from halo_utils.search.__main__ import main as search_main

# ----------------------------------------------------------------------------- catalogues

def test_psz2_from_the_cds_files_is_cut_to_the_gleam_sky(psz2_dir):
    raw = catalogues.read_local(psz2_dir)
    table = catalogues.standard(raw, "psz2")
    assert len(raw) == 1653
    assert len(table) == int(np.sum(np.asarray(raw["DEdeg"]) < 30)) and table.dec_deg.max() < 30
    assert list(table.columns[:6]) == ["name", "ra_deg", "dec_deg", "z", "m500", "catalogue"]
    row = table[table.name == str(raw["Name"][np.argmin(np.asarray(raw["DEdeg"]))])].iloc[0]
    assert row.dec_deg == pytest.approx(float(np.min(raw["DEdeg"])))
    known = np.asarray(raw["z"], float) > 0
    assert table.z.notna().sum() == int(np.sum(known & (np.asarray(raw["DEdeg"]) < 30))) and (table.z.dropna() > 0).all()
    assert table.m500.notna().any() and (table.m500.dropna() > 0).all()


class LocalVizier:
    """A stand-in for astroquery's Vizier: serves local tables, counts calls, or fails like a dead network."""

    def __init__(self, tables=None, error=None):
        self.tables, self.error, self.calls = tables, error, []

    def get_catalogs(self, name):
        self.calls.append(name)
        if self.error:
            raise self.error
        return self.tables


def _mcxc_like():
    return Table(dict(MCXC=["J0000.1-1234", "J0100.0+4500", "J0200.0-0500"], RAdeg=[0.04, 15.0, 30.0],
                      DEdeg=[-12.5, 45.0, -5.0], z=[0.1, 0.2, 0.3], M500=[3.1, 2.0, 5.5]))


def test_fetch_caches_the_vizier_table_and_reads_the_cache_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    online = LocalVizier([_mcxc_like()])
    first = catalogues.catalogue("mcxc", vizier=online)
    offline = LocalVizier(error=ConnectionError("no network"))
    again = catalogues.catalogue("mcxc", vizier=offline)
    assert online.calls == ["J/A+A/534/A109/mcxc"] and offline.calls == []  # the second came from the cache
    assert list(first.name) == ["J0000.1-1234", "J0200.0-0500"]  # Dec +45 is outside GLEAM
    pd.testing.assert_frame_equal(first, again)
    assert first.m500.tolist() == [3.1, 5.5]


def test_offline_without_a_cache_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    with pytest.raises(catalogues.CatalogueError, match=r"psz2 .*Offline\? .*--catalogue-file"):
        catalogues.fetch("psz2", vizier=LocalVizier(error=TimeoutError("timed out")), backoff=0)


def test_sexagesimal_cds_positions_and_unknown_columns(tmp_path):
    table = Table({"Name": ["a", "b"], "RAh": [1, 23], "RAm": [30, 0], "RAs": [0.0, 36.0], "DE-": ["-", "+"],
                   "DEd": [10, 5], "DEm": [30, 0], "DEs": [0.0, 0.0]})
    out = catalogues.standard(table, "mgcls")
    assert out.ra_deg.tolist() == pytest.approx([22.5, 345.15]) and out.dec_deg.tolist() == pytest.approx([-10.5, 5.0])
    with pytest.raises(catalogues.CatalogueError, match="no RA/Dec columns among"):
        catalogues.standard(Table({"Name": ["a"], "x": [1.0]}), "mgcls")
    with pytest.raises(catalogues.CatalogueError, match="unknown catalogue"):
        catalogues.fetch("nope")


# ----------------------------------------------------------------------------- manifests and fields

@pytest.mark.parametrize("value, band", [("154.5", "139-170"), ("139-170", "139-170"), (88, "72-103"),
                                         ("200 MHz", "170-231")])
def test_band_of_a_manifest_entry(value, band):
    assert fields.band_of(value) == band


@pytest.mark.parametrize("value", ["300", "136", "band two"])
def test_band_outside_gleam_is_refused(value):
    with pytest.raises(DataError, match="band"):
        fields.band_of(value)


def _own_images(folder, n=6, pixel_deg=0.009, size=200, seed=0):
    """Single-band 200x200 images at 154 MHz, 0.54' pixels, named cluster<i>_154MHz.fits (not the published naming)."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        header = gleam_header(ra=float(rng.uniform(0, 360)), dec=float(rng.uniform(-60, 10)), shape=(size, size))
        header["CDELT1"], header["CDELT2"] = -pixel_deg, pixel_deg
        header["FREQ"] = 154.0e6
        write_fits(folder / f"cluster{i}_154MHz.fits", noise_image(100 + i, 0.015, (size, size)), header)
    return folder


def test_draft_manifest_reads_bands_from_headers_and_names(tmp_path):
    _own_images(tmp_path, n=2)
    header = gleam_header()
    header["CTYPE3"], header["CRVAL3"] = "FREQ", 88.0e6
    write_fits(tmp_path / "sub" / "other_field.fits", noise_image(5)[None], header)
    write_fits(tmp_path / "abell_0001_Gleam170-231_clipped.fits", noise_image(6))
    write_fits(tmp_path / "mystery.fits", noise_image(7))
    draft = fields.draft_manifest(tmp_path).set_index("file")
    assert draft.loc["cluster0_154MHz.fits", "band_mhz"] == "154" and draft.loc["cluster0_154MHz.fits", "source"] == "cluster0"
    assert draft.loc["sub/other_field.fits", "band_mhz"] == "88"
    assert tuple(draft.loc["abell_0001_Gleam170-231_clipped.fits", ["source", "band_mhz"]]) == ("abell_0001", "170-231")
    assert draft.loc["mystery.fits", "band_mhz"] == "" and "fill in" in draft.loc["mystery.fits", "note"]


def test_manifest_errors_name_the_row(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("file,source\na.fits,x\n")
    with pytest.raises(DataError, match="lacks column"):
        fields.read_manifest(path)
    path.write_text("file,source,band_mhz\na.fits,x,154\nb.fits,x,300\n")
    with pytest.raises(DataError, match=r"row 3 \(b.fits\)"):
        fields.read_manifest(path)
    path.write_text("file,source,band_mhz\na.fits,x,154\nb.fits,x,139-170\n")
    with pytest.raises(DataError, match="has 2 files for band 139-170"):
        fields.read_manifest(path)


def test_download_fields_resumes_and_records_failures(tmp_path):
    from test_download import local_skyview

    images = {b: noise_image(i) for i, b in enumerate(BAND_KEYS)}
    table = pd.DataFrame(dict(name=["PSZ2 G1+2", "bad one"], ra_deg=[10.0, 20.0], dec_deg=[-30.0, -40.0]))
    calls = []
    serve = local_skyview(images, calls)

    def get_images(position, survey, pixels, width, timeout):
        if position.startswith("20.0"):
            raise ConnectionError("refused")
        return serve(position, survey, pixels, width, timeout)

    quick = dict(get_images=get_images, progress=False, sleep=lambda s: None, rate=0)  # no waits (rate: test_network)
    found, failures = fields.download_fields(table, tmp_path, **quick)
    assert sorted(found.source.unique()) == ["PSZ2 G1+2"] and len(found) == 4
    assert list(failures) == ["bad one"] and "refused" in failures["bad one"]
    n = len(calls)
    again, _ = fields.download_fields(table, tmp_path, **quick)
    assert len(calls) == n and len(again) == 4  # cached: nothing fetched twice
    assert all((tmp_path / "PSZ2_G1+2").glob("*.fits"))


# ----------------------------------------------------------------------------- saved detectors

def _train(sources, workdir, bands=(0, 1, 2, 3), model="D", seed=0):
    settings = config.data_config("smoke")
    training = classify.train_config("smoke", bands=bands, baseline_permutations=0)
    config.deterministic(seed)
    cv = crossval.run(sources, model, settings, training, seed, workdir, progress=False)
    folder = artefact.save(workdir / "detector", workdir, model, settings, training, cv["scores"], seed,
                           {s.name: s.label for s in sources}, artefact.sources_fingerprint(sources), source="mock")
    return artefact.load(folder), cv


@pytest.fixture(scope="module")
def trained(mock_sky, tmp_path_factory):
    sources = read_dataset(mock_sky)
    return _train(sources, tmp_path_factory.mktemp("det4"))


@pytest.fixture(scope="module")
def single_band(mock_sky, tmp_path_factory):
    return _train(read_dataset(mock_sky), tmp_path_factory.mktemp("det1"), bands=(2,))[0]


def test_the_saved_detector_describes_itself(trained):
    det, cv = trained
    meta = json.loads((det.folder / artefact.DETECTOR).read_text())
    assert meta["bands"] == list(BAND_KEYS) and meta["cutout"] == 64 and meta["pixel_arcmin"] == 0.733
    assert len(meta["members"]) == classify.train_config("smoke").folds and len(meta["fingerprint"]) == 40
    assert meta["package_version"] and meta["data_config"]["clip_sigma"] == 4.0
    for member in meta["members"]:
        assert (det.folder / member["weights"]).exists() and len(member["seen"]) > 20
    cv_threshold = meta["thresholds"]["cv"]
    assert cv_threshold["fpr"] <= 0.05 and meta["thresholds"]["paper"] == 0.95


def test_operating_threshold_is_the_lowest_with_the_stated_fpr():
    rng = np.random.default_rng(1)
    scores = pd.DataFrame(dict(source=[f"s{i}" for i in range(60)], label=[i % 2 for i in range(60)],
                               score=rng.uniform(size=60)))
    out = artefact.operating_threshold(scores, fpr=0.1)
    other = scores[scores.label == 0].score.to_numpy()
    assert np.mean(other >= out["threshold"]) <= 0.1 < np.mean(other >= np.max(other[other < out["threshold"]]))


def test_the_search_reproduces_the_out_of_fold_scores(trained, mock_sky):
    """Each source scored by the members that never saw it = its out-of-fold score of the run that made the detector."""
    det, cv = trained
    table, _, _ = score.search(fields.manifest_fields(fields.layout_manifest(mock_sky)), det, progress=False,
                               exclude_seen=True)
    oof = cv["scores"].groupby("source").score.mean()
    got = table.set_index("name").score.loc[oof.index]
    np.testing.assert_allclose(got, oof, atol=1e-5)
    assert (table.n_members == 1).all()  # smoke: one repeat, so one unseen member per source
    everyone, _, _ = score.search(fields.manifest_fields(fields.layout_manifest(mock_sky)), det, progress=False)
    assert (everyone.n_members == classify.train_config("smoke").folds).all()  # every member scores every source
    assert not np.allclose(everyone.set_index("name").score.loc[oof.index], oof)


def test_a_four_band_detector_refuses_a_single_band_folder(trained):
    det, _ = trained
    with pytest.raises(artefact.DetectorMismatch, match=r"needs \['72-103'.*missing.*bands only"):
        det.require(["139-170"], "the folder")


def test_a_single_band_folder_with_other_names_and_pixels_is_scored_through_a_manifest(single_band, tmp_path):
    folder = _own_images(tmp_path / "images")
    draft = fields.draft_manifest(folder)
    draft.drop(columns="note").to_csv(folder / "manifest.csv", index=False)
    found = fields.read_manifest(folder / "manifest.csv")
    single_band.require(found.band.unique(), "the folder")
    table, previews, _ = score.search(fields.manifest_fields(found), single_band, progress=False)
    assert table.scored.all() and len(table) == 6 and table.score.between(0, 1).all()
    assert all(p.shape == (64, 64, 1) for p in previews.values())
    assert all("missing_band:72-103" in f for f in table["flags"])  # the bands it does not need are reported, not fatal


def test_flags_missing_band_edge_and_noise(trained, tmp_path):
    det, _ = trained
    typical = {b: 10 ** np.median([m["log_rms"][b][0] for m in det.members]) for b in BAND_KEYS}  # the training skies'
    files = {b: write_fits(tmp_path / f"x_{b}.fits", noise_image(i, typical[b])) for i, b in enumerate(BAND_KEYS)}
    small = gleam_header(shape=(60, 60))
    files_edge = dict(files, **{"139-170": write_fits(tmp_path / "small.fits", noise_image(9, 0.05, (60, 60)), small)})
    loud = dict(files, **{"170-231": write_fits(tmp_path / "loud.fits", noise_image(8, 50.0))})
    scorer = score.Scorer(det)
    row, _ = scorer(fields.read_field("one_band_less", {b: p for b, p in files.items() if b != "72-103"}))
    assert not row["scored"] and "missing_band:72-103" in row["flags"]
    row, _ = scorer(fields.read_field("edge", files_edge))
    assert not row["scored"] and any(f.startswith("image_edge:139-170") for f in row["flags"])
    row, _ = scorer(fields.read_field("loud", loud))
    assert row["scored"] and any(f.startswith("noise_outlier:170-231") for f in row["flags"])
    row, _ = scorer(fields.read_field("plain", files))
    assert row["scored"], row["flags"]
    assert not any(f.startswith(("noise_outlier", "image_edge", "missing")) for f in row["flags"]), row["flags"]


def test_broken_files_are_flagged_by_name_and_change_nothing_else(trained, tmp_path):
    det, _ = trained
    _, manifest, catalogue = mockcat.mock_catalogue(40, 7, size=120, root=tmp_path / "sky")
    clean = run.run(det, manifest, tmp_path / "clean", catalogue, truth="truth", progress=False)
    broken_manifest, broken = mockcat.corrupt(manifest, 0.1, 0, tmp_path / "broken")
    assert sorted(k.split(":")[0] for k in broken.values()) == sorted(mockcat.CORRUPTIONS)
    second = run.run(det, broken_manifest, tmp_path / "second", catalogue, truth="truth", progress=False)
    check = mockcat.corruption_check(clean["table"], second["table"], broken)
    assert check["corrupted_flagged"] and check["n_others_changed"] == 0 and check["n_others"] == 36
    rows = second["table"].set_index("name").loc[list(broken)]
    assert not rows.scored.any() and all("unreadable" in f for f in rows["flags"])
    summary = json.loads((tmp_path / "second" / "summary.json").read_text())
    for key in ("n_searched", "n_scored", "n_flagged", "n_candidates", "threshold", "completeness", "purity", "auc"):
        assert key in summary
    assert summary["n_searched"] == 40 and summary["n_scored"] == 36
    assert Table.read(tmp_path / "second" / "candidates.fits").colnames[:3] == ["name", "ra_deg", "dec_deg"]


def test_the_command_line_drafts_a_manifest_and_searches_a_folder(single_band, tmp_path, capsys):
    folder = _own_images(tmp_path / "images", n=3)
    search_main(["--draft-manifest", str(folder)])
    assert (folder / "manifest_draft.csv").exists()
    search_main(["--folder", str(folder), "--manifest", str(folder / "manifest_draft.csv"),
                 "--detector", str(single_band.folder), "--out", str(tmp_path / "out"), "--threshold", "0.5"])
    table = pd.read_csv(tmp_path / "out" / "candidates.csv")
    assert len(table) == 3 and table.scored.all()
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["threshold"] == 0.5
    assert "candidate table" in capsys.readouterr().out


def test_a_bad_detector_folder_says_what_it_is(tmp_path):
    with pytest.raises(FileNotFoundError, match="no detector.json; make a detector with notebook 05_classifier"):
        artefact.load(tmp_path)
    (tmp_path / "detector.json").write_text(json.dumps(dict(format=99)))
    with pytest.raises(artefact.DetectorMismatch, match="format 99"):
        artefact.load(tmp_path)


@pytest.mark.parametrize("workers", [1, 4])
def test_offline_downloads_give_up_quickly_and_record_every_cluster(tmp_path, workers):
    calls = []

    def dead(position, survey, pixels, width, timeout):
        calls.append(position)
        raise ConnectionError("network unreachable")

    table = pd.DataFrame(dict(name=[f"c{i}" for i in range(40)], ra_deg=np.arange(40.0), dec_deg=np.full(40, -20.0)))
    found, failures = fields.download_fields(table, tmp_path, get_images=dead, progress=False, sleep=lambda s: None,
                                             workers=workers, rate=0)
    assert len(found) == 0 and sorted(failures) == sorted(table.name)
    # five clusters fail in a row (three attempts each), the others are recorded as not tried; with parallel
    # workers, up to workers - 1 more are already under way when the fifth failure lands
    assert 5 * 3 <= len(calls) <= (5 + workers - 1) * 3 and (workers > 1 or len(calls) == 15)
    assert "not tried" in failures["c39"] and "network unreachable" in failures["c0"]


def test_clusters_the_detector_trained_on_are_flagged(trained, mock_sky):
    det, _ = trained
    manifest = fields.layout_manifest(mock_sky)
    one = manifest[manifest.source == manifest.source.iloc[0]]
    row, _ = score.Scorer(det)(next(fields.manifest_fields(one)))
    assert f"training_source:{one.source.iloc[0]}" in row["flags"]


def test_a_catalogue_search_offline_keeps_every_cluster_with_its_columns(trained, tmp_path, psz2_dir):
    det, _ = trained
    table = catalogues.catalogue("psz2", psz2_dir).head(8)

    def dead(*args):
        raise ConnectionError("Failed to resolve 'skyview.gsfc.nasa.gov'")

    manifest, failures = fields.download_fields(table, tmp_path / "cache", get_images=dead, progress=False,
                                                sleep=lambda s: None, rate=0)  # no throttle: rate is tested elsewhere
    out = run.run(det, manifest, tmp_path / "out", table, failures, progress=False)
    got = out["table"].set_index("name").loc[table.name]
    assert not got.scored.any() and got["flags"].str.startswith("download_failed").all()
    np.testing.assert_allclose(got.ra_deg, table.ra_deg)
    np.testing.assert_allclose(got.z, table.z)
    assert np.isnan(out["summary"]["clusters_per_second"]) and out["summary"]["n_searched"] == 8
