"""A corpus of bad inputs: each gets a DataError naming the file, source or band, or a recorded flag.

Every case starts from a good source (four noise images in the published layout) and breaks
one thing. ``expect`` is a regular expression the DataError must match (it must also name
the file or the source) or, for cases that are read with a flag, the flag's prefix.
"""

import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from conftest import gleam_header, noise_image, write_fits

from halo_utils.constants import BAND_KEYS
from halo_utils.data import DataError, read_dataset
from halo_utils.data.catalogue import read_source_table

SOURCE = "abell_0001"


def good_source(root: Path, name: str = SOURCE, folder: str = "TRAIN_DATA_1") -> dict:
    """Write four good band images of ``name``; return band -> path."""
    return {b: write_fits(root / folder / f"{name}_Gleam{b}_clipped.fits", noise_image(i)) for i, b in enumerate(BAND_KEYS)}


def rewrite(path: Path, data=None, **header):
    """Overwrite a FITS file with new data and/or header keywords (None deletes a keyword)."""
    with fits.open(path) as hdul:
        old, h = hdul[0].data.copy(), hdul[0].header.copy()
    for key, value in header.items():
        if value is None:
            h.remove(key, ignore_missing=True)
        else:
            h[key] = value
    path.unlink()
    fits.PrimaryHDU(old if data is None else np.asarray(data, np.float32), header=h).writeto(path)


def patch_card(path: Path, key: str, text: str):
    """Write ``text`` as the raw value of header card ``key`` (astropy refuses to write NaN or inf itself)."""
    raw = path.read_bytes()
    at = raw.index(f"{key:<8}= ".encode())
    path.write_bytes(raw[:at] + f"{key:<8}= {text:>20}".ljust(80).encode() + raw[at + 80:])


def _bowl(seed):
    y, x = np.mgrid[:300, :300]
    return noise_image(seed) - 0.2 * np.exp(-((x - 150) ** 2 + (y - 150) ** 2) / 2e4)


CASES = {
    # kind: (break the files, expected error pattern or flag prefix, 'error' | 'flag')
    "garbage bytes": (lambda f, r: f["72-103"].write_bytes(b"not a fits file" * 100), "not a readable FITS", "error"),
    "truncated file": (lambda f, r: f["72-103"].write_bytes(f["72-103"].read_bytes()[:50000]), "not a readable FITS", "error"),
    "header only": (lambda f, r: (f["72-103"].unlink(), fits.PrimaryHDU(header=gleam_header()).writeto(f["72-103"])),
                    "holds no image", "error"),
    "wrong shape": (lambda f, r: rewrite(f["103-134"], noise_image(1, shape=(200, 200))), r"shape \(200, 200\)", "error"),
    "no sky coordinates": (lambda f, r: rewrite(f["139-170"], CTYPE1=None, CTYPE2=None), "no celestial WCS", "error"),
    "NaN in header": (lambda f, r: patch_card(f["139-170"], "CDELT1", "NAN"), "CDELT1 = 'NAN' is not a finite", "error"),
    "infinite in header": (lambda f, r: patch_card(f["139-170"], "CRVAL2", "INF"), "CRVAL2 = 'INF'", "error"),
    "all-NaN band": (lambda f, r: rewrite(f["170-231"], np.full((300, 300), np.nan)), "100% of the pixels are NaN", "error"),
    "mostly blank band": (lambda f, r: rewrite(f["170-231"], np.where(np.arange(300)[:, None] < 200, np.nan, noise_image(3))),
                          "67% of the pixels", "error"),
    "all-zero band": (lambda f, r: rewrite(f["72-103"], np.zeros((300, 300))), "every pixel is 0", "error"),
    "constant band": (lambda f, r: rewrite(f["72-103"], np.full((300, 300), 0.3)), "every pixel is 0.3", "error"),
    "negative everywhere": (lambda f, r: rewrite(f["72-103"], -np.abs(noise_image(5)) - 0.01), "no positive pixel", "error"),
    "wrong unit": (lambda f, r: rewrite(f["103-134"], BUNIT="K"), "BUNIT = 'K'", "error"),
    "Jy per pixel": (lambda f, r: rewrite(f["103-134"], BUNIT="Jy/pixel"), "expected Jy/beam", "error"),
    "missing band": (lambda f, r: f["170-231"].unlink(), r"missing band\(s\) \['170-231'\]", "error"),
    "bands not aligned": (lambda f, r: rewrite(f["170-231"], CRVAL1=11.0), "centred .* px away", "error"),
    "two files for one band": (lambda f, r: shutil.copy(f["72-103"], f["72-103"].parent / f"{SOURCE}_GLEAM_72-103MHz.fits"),
                               "two files for source 'abell_0001' band 72-103", "error"),
    "source in two folders": (lambda f, r: good_source(r, SOURCE, "TEST_DATA_0"), "appears in both", "error"),
    "file name without a band": (lambda f, r: write_fits(r / "TRAIN_DATA_1" / "abell_0001.fits", noise_image(9)),
                                 "does not look like", "error"),
    "no published folders": (lambda f, r: [d.rename(r / d.name.lower()) for d in list(r.iterdir())],
                             "none of the folders", "error"),
    "some NaN pixels": (lambda f, r: rewrite(f["72-103"], np.where(np.arange(300)[:, None] < 3, np.nan, noise_image(4))),
                        "nan_pixels:900", "flag"),
    "truncated image (zero block)": (lambda f, r: rewrite(f["72-103"], np.where(np.arange(300)[:, None] < 20, 0, noise_image(6))),
                                     "zero_region:20 first rows", "flag"),
    "negative bowl": (lambda f, r: rewrite(f["72-103"], _bowl(7)), "negative_median", "flag"),
    "milli-Jansky": (lambda f, r: rewrite(f["72-103"], BUNIT="mJy/beam"), "unit:mJy/beam", "flag"),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_each_bad_input_is_named_or_flagged(kind, tmp_path):
    files = good_source(tmp_path)
    good_source(tmp_path, "orc 9", "TRAIN_DATA_0")
    breaking, expect, outcome = CASES[kind]
    breaking(files, tmp_path)
    if outcome == "error":
        with pytest.raises(DataError, match=expect) as caught:
            read_dataset(tmp_path)
        assert SOURCE in str(caught.value) or str(tmp_path) in str(caught.value)
    else:
        sources = {s.name: s for s in read_dataset(tmp_path)}
        flags = [f for band in sources[SOURCE].flags.values() for f in band]
        assert any(f.startswith(expect) for f in flags), flags
        assert np.isfinite(sources[SOURCE].cube).all()


def test_the_unbroken_sources_read_clean(tmp_path):
    """What every case breaks reads without a flag or an error before it is broken, so each flag or error above comes
    from the breaking."""
    good_source(tmp_path)
    good_source(tmp_path, "orc 9", "TRAIN_DATA_0")
    sources = read_dataset(tmp_path)
    assert sorted(s.name for s in sources) == sorted([SOURCE, "orc 9"])
    assert all(not flags for s in sources for flags in s.flags.values())


def test_milli_jansky_images_are_converted(tmp_path):
    files = good_source(tmp_path)
    before = read_dataset(tmp_path)[0].cube[..., 0].copy()
    rewrite(files["72-103"], BUNIT="mJy/beam")
    after = read_dataset(tmp_path)[0].cube[..., 0]
    np.testing.assert_allclose(after, before * 1e-3, rtol=1e-6)


def test_skip_mode_reads_the_good_sources_and_names_the_bad(mock_sky, tmp_path):
    root = shutil.copytree(mock_sky, tmp_path / "sky")
    everything = read_dataset(root)
    assert len(everything) == 46
    victims = [everything[0], everything[20], everything[-1]]
    rewrite(victims[0].files["72-103"], np.full((300, 300), np.nan))
    victims[1].files["139-170"].unlink()
    victims[2].files["170-231"].write_bytes(b"garbage")
    with pytest.raises(DataError):
        read_dataset(root)  # the default stays strict
    sources = read_dataset(root, on_error="skip")
    assert len(sources) == 43 and {s["source"] for s in sources.skipped} == {v.name for v in victims}
    report = sources.report()
    assert all(v.name in report for v in victims) and "skipped 3" in report
    with pytest.raises(ValueError, match="'raise' or 'skip'"):
        read_dataset(root, on_error="ignore")


def test_a_source_table_without_its_columns_is_named(tmp_path):
    (tmp_path / "sources.csv").write_text("name,cls\nabell_0001,1\n")
    with pytest.raises(DataError, match="sources.csv.*source, label, split"):
        read_source_table(tmp_path)


def test_a_flagged_band_falls_back_to_the_training_noise(tmp_path):
    """The noise table does not trust a truncated band's own RMS; the fallback is used and recorded."""
    from halo_utils.prep.dataset import source_rms
    from halo_utils.prep.noise import noise_table

    files = good_source(tmp_path)
    good_source(tmp_path, "orc 9", "TRAIN_DATA_0")
    rewrite(files["72-103"], np.where(np.arange(300)[:, None] < 20, 0, noise_image(6)))
    sources = read_dataset(tmp_path)
    table = noise_table(sources).set_index(["source", "band"])
    assert table.loc[(SOURCE, "72-103"), "method"] == "flagged:zero_region"
    assert np.isnan(table.loc[(SOURCE, "72-103"), "rms"]) and np.isfinite(table.loc[(SOURCE, "103-134"), "rms"])
    rms, used = source_rms(noise_table(sources), {s.name: "train" for s in sources})
    assert used[SOURCE] == ["72-103"] and rms[SOURCE][0] == pytest.approx(table.loc[("orc 9", "72-103"), "rms"])


def test_settings_parameters_take_dicts_or_json_text_and_name_themselves_when_wrong():
    from halo_utils.config import as_mapping

    assert as_mapping('{"sidelobe_level": 0.03}', "mock_sky") == {"sidelobe_level": 0.03}  # papermill -p gives text
    assert as_mapping({"repeats": 1}, "training_overrides") == {"repeats": 1}
    assert as_mapping(None, "mock_sky") == {} and as_mapping("", "mock_sky") == {}
    for bad in ("sidelobe_level=0.03", "[1, 2]", 3):
        with pytest.raises(ValueError, match="parameter mock_sky"):
            as_mapping(bad, "mock_sky")
