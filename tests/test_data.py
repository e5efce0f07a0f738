import numpy as np
import pytest
from astropy.io import fits
from conftest import gleam_header, noise_image, write_fits

from halo_utils import data
from halo_utils.constants import BAND_KEYS
from halo_utils.data import DataError, load_source, parse_filename, read_dataset, read_image, stack_bands


@pytest.mark.parametrize("name, source, band", [
    ("abell_0122_Gleam72-103_clipped.fits", "abell_0122", "72-103"),
    ("abell_s1063Gleam72-103_clipped.fits", "abell_s1063", "72-103"),
    ("orc 1_GLEAM_72-103MHz_clipped.fits", "orc 1", "72-103"),
    ("plck G287.0+32.9_Gleam170-231_clipped.fits", "plck G287.0+32.9", "170-231"),
    ("gmbcg j357.91841-08.97978_Gleam139-170_clipped.fits", "gmbcg j357.91841-08.97978", "139-170"),
    ("abell_2744_GLEAM_103-134MHz.fits", "abell_2744", "103-134"),
    ("abell_0141_Gleam 72-103 MHz_clipped.fits", "abell_0141", "72-103"),
    ("abell_0141_Gleam 72 - 103MHz clipped.fits", "abell_0141", "72-103"),
])
def test_parse_filename_variants(name, source, band):
    assert parse_filename(name) == (source, band)


@pytest.mark.parametrize("name", ["abell_0122_Gleam72-100_clipped.fits", "readme.txt", "abell_0122.fits"])
def test_parse_filename_rejects_unknown(name):
    with pytest.raises(DataError, match="GLEAM bands|does not look like"):
        parse_filename(name)


def test_read_fake_dataset_layout(fake_dataset):
    sources = read_dataset(fake_dataset)
    assert len(sources) == 8
    assert {(s.split, s.label) for s in sources} == {("train", 1), ("train", 0), ("test", 1), ("test", 0)}
    src = next(s for s in sources if s.name == "abell_s0002")
    assert src.cube.shape == (300, 300, 4)
    # bands are ordered by frequency: each plane equals the file of that band
    for i, band in enumerate(BAND_KEYS):
        np.testing.assert_array_equal(src.cube[..., i], fits.getdata(src.files[band]))


def test_real_dataset_counts(real_sources):
    counts = {}
    for s in real_sources:
        counts[(s.split, s.label)] = counts.get((s.split, s.label), 0) + 1
        assert s.cube.shape == (300, 300, 4) and s.cube.dtype == np.float32
        assert np.isfinite(s.cube).all()
    assert counts == {("train", 1): 18, ("train", 0): 18, ("test", 1): 5, ("test", 0): 5}


# ---- bad input: a named error or a recorded flag, never a crash deep inside numpy -----------------

def _four_bands(tmp_path, name="src"):
    return {b: write_fits(tmp_path / f"{name}_Gleam{b}_clipped.fits", noise_image(i)) for i, b in enumerate(BAND_KEYS)}


def test_missing_band_names_source_and_band(tmp_path):
    files = _four_bands(tmp_path)
    del files["139-170"]
    with pytest.raises(DataError, match=r"'src'.*139-170"):
        load_source("src", files, 1, "train")


def test_nan_pixels_are_flagged_and_zeroed(tmp_path):
    image = noise_image()
    image[10:12, 10:15] = np.nan
    data, _, flags = read_image(write_fits(tmp_path / "a.fits", image))
    assert "nan_pixels:10" in flags and np.isfinite(data).all()


def test_zero_filled_region_is_flagged(tmp_path):
    image = noise_image()
    image[-40:] = 0.0  # a truncated download
    _, _, flags = read_image(write_fits(tmp_path / "a.fits", image))
    assert any(f.startswith("zero_region:40 last rows") for f in flags)


def test_clean_image_has_no_flags(tmp_path):
    assert read_image(write_fits(tmp_path / "a.fits", noise_image()))[2] == []


def test_not_fits(tmp_path):
    path = tmp_path / "x_Gleam72-103_clipped.fits"
    path.write_text("this is not a FITS file\n" * 100)
    with pytest.raises(DataError, match="x_Gleam72-103_clipped.fits.*not a readable FITS"):
        read_image(path)


def test_truncated_file(tmp_path):
    path = write_fits(tmp_path / "t.fits", noise_image())
    path.write_bytes(path.read_bytes()[: 2880 + 1000])
    with pytest.raises(DataError, match="t.fits"):
        read_image(path)


def test_wrong_shape(tmp_path):
    with pytest.raises(DataError, match=r"shape \(200, 300\)"):
        read_image(write_fits(tmp_path / "s.fits", noise_image(shape=(200, 300)), gleam_header(shape=(200, 300))))


def test_missing_wcs(tmp_path):
    with pytest.raises(DataError, match="no celestial WCS"):
        read_image(write_fits(tmp_path / "w.fits", noise_image(), fits.Header()))


def test_wrong_number_of_bands():
    with pytest.raises(DataError, match="missing.*170-231"):
        stack_bands({b: np.zeros((4, 4)) for b in BAND_KEYS[:3]}, "src")


def test_bands_pointing_elsewhere(tmp_path):
    files = _four_bands(tmp_path)
    write_fits(files["170-231"].with_name("moved.fits"), noise_image(), gleam_header(ra=11.0))
    files["170-231"] = files["170-231"].with_name("moved.fits")
    with pytest.raises(DataError, match="band 170-231 is centred"):
        load_source("src", files, 0, "test")


def test_duplicate_band_file(fake_dataset):
    folder = fake_dataset / "TRAIN_DATA_0"
    write_fits(folder / "orc 9_Gleam72-103_clipped.fits", noise_image()) if not (folder / "orc 9_Gleam72-103_clipped.fits").exists() \
        else write_fits(folder / "orc 9_GLEAM_72-103MHz_clipped.fits", noise_image())
    with pytest.raises(DataError, match="two files for source 'orc 9' band 72-103"):
        read_dataset(fake_dataset)


def test_source_in_two_folders(fake_dataset):
    write_fits(fake_dataset / "TEST_DATA_0" / "orc 9_Gleam72-103_clipped.fits", noise_image())
    for b in BAND_KEYS[1:]:
        write_fits(fake_dataset / "TEST_DATA_0" / f"orc 9_Gleam{b}_clipped.fits", noise_image())
    with pytest.raises(DataError, match="'orc 9' appears in both"):
        read_dataset(fake_dataset)


def test_empty_folder(tmp_path):
    with pytest.raises(DataError, match="none of the folders"):
        read_dataset(tmp_path)


def test_published_bands_have_their_own_pixels_and_a_wavelength_scaled_beam(real_sources):
    from halo_utils.sky.photometry import source_fwhm_arcmin

    for src in real_sources:
        np.testing.assert_allclose(np.array(src.pixel_deg) * 60, [0.933, 0.733, 0.567, 0.467], atol=1e-3)
    fwhm = source_fwhm_arcmin(real_sources)
    assert 1.8 < fwhm[0] / fwhm[3] < 2.6  # the GLEAM beam scales with wavelength: 200.5 / 87.5 = 2.3


@pytest.mark.parametrize("given, expected", [([2], [2]), ("[2]", [2]), ("2", [2]), ("0, 1,2,3", [0, 1, 2, 3]),
                                             ((3, 0), [3, 0])])
def test_band_indices_accept_lists_and_papermill_strings(given, expected):
    assert data.band_indices(given) == expected


@pytest.mark.parametrize("given", ["[4]", [-1], "x", [], [1, 1]])
def test_band_indices_reject_bad_bands(given):
    with pytest.raises(data.DataError, match="bands"):
        data.band_indices(given)


def test_hidden_files_beside_the_images_are_ignored(fake_dataset):
    first = sorted((fake_dataset / "TRAIN_DATA_1").glob("*.fits"))[0]
    (fake_dataset / "TRAIN_DATA_1" / f"._{first.name}").write_bytes(b"\x00\x05\x16\x07 resource fork")
    (fake_dataset / "TRAIN_DATA_1" / ".DS_Store.fits").write_bytes(b"Bud1")
    assert sorted(s.name for s in read_dataset(fake_dataset)) == sorted(
        ["abell_0001", "abell_s0002", "orc 9", "ngc 1", "abell_0003", "rxc j0000.0-0000", "abell_0004", "pks 0000-00"])


def test_no_gleam_folder_names_the_three_ways(tmp_path, monkeypatch):
    from halo_utils import paths

    monkeypatch.delenv("HALO_GLEAM_DIR", raising=False)
    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    with pytest.raises(paths.MissingDataError, match="gleam_dir.*HALO_GLEAM_DIR.*download.*-p source mock"):
        paths.gleam_dir()
    (tmp_path / "data" / "gleam").mkdir(parents=True)  # a downloaded copy is used when nothing else is given
    assert paths.gleam_dir() == (tmp_path / "data" / "gleam").resolve()
    monkeypatch.setenv("HALO_GLEAM_DIR", str(tmp_path / "elsewhere"))
    with pytest.raises(paths.MissingDataError, match="elsewhere.*from \\$HALO_GLEAM_DIR"):
        paths.gleam_dir()
