import re
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from conftest import gleam_header, noise_image

from halo_utils.constants import BAND_KEYS
from halo_utils.data import read_dataset
from halo_utils.data.download import SURVEYS, DownloadError, download_source, fetch_images


def local_skyview(images, calls=None, fail_first=0):
    """A stand-in for SkyView.get_images serving HDULists built from local arrays."""
    state = {"failures": fail_first}

    def get_images(position, survey, pixels, width, timeout):
        if calls is not None:
            calls.append((position, tuple(survey), pixels, round(width.to_value("deg"), 4), timeout))
        if state["failures"] > 0:
            state["failures"] -= 1
            raise ConnectionError("connection refused")
        match = re.fullmatch(r"GLEAM (\d+-\d+) MHz", survey[0])  # SkyView's names of the four GLEAM surveys
        if match is None or match.group(1) not in images:
            raise ValueError(f"{survey[0]!r} is not a SkyView survey")  # astroquery's answer to an unknown survey
        band = match.group(1)
        return [fits.HDUList([fits.PrimaryHDU(images[band], header=gleam_header())])]

    return get_images


@pytest.fixture
def images():
    return {b: noise_image(i) for i, b in enumerate(BAND_KEYS)}


def test_download_writes_the_published_layout(tmp_path, images):
    calls = []
    paths = download_source("abell_2744", tmp_path, "TEST_DATA_1", position="Abell 2744",
                            get_images=local_skyview(images, calls))
    assert [c[1][0] for c in calls] == list(SURVEYS.values())  # one request per band, each band's own survey
    assert all(c[0] == "Abell 2744" and c[2] == 300 and c[3] == pytest.approx(3.6666, abs=1e-3) for c in calls)
    for band, path in paths.items():
        np.testing.assert_array_equal(fits.getdata(path), images[band])
    # the folder reads back with the project's reader
    src = read_dataset(tmp_path)[0]
    assert (src.name, src.split, src.label) == ("abell_2744", "test", 1)
    assert not list(Path(tmp_path).rglob("*.part"))


def test_cached_files_are_not_fetched_again(tmp_path, images):
    download_source("a", tmp_path, "TRAIN_DATA_0", get_images=local_skyview(images))
    calls = []
    download_source("a", tmp_path, "TRAIN_DATA_0", get_images=local_skyview(images, calls))
    assert calls == []


def test_retries_with_backoff(images):
    sleeps = []
    out = fetch_images("x", bands=["72-103"], get_images=local_skyview(images, fail_first=2),
                       retries=3, backoff=1.5, sleep=sleeps.append)
    assert sleeps == [1.5, 3.0] and "72-103" in out


def test_offline_gives_a_clear_error(images):
    with pytest.raises(DownloadError, match=r"GLEAM 72-103 MHz.*'Abell 2744'.*3 tries.*Offline\?"):
        fetch_images("Abell 2744", get_images=local_skyview(images, fail_first=99), sleep=lambda s: None)


def test_a_bad_image_never_lands_in_the_cache(tmp_path, images):
    images["139-170"] = np.zeros((10, 10), np.float32)  # SkyView sent something wrong
    with pytest.raises(DownloadError, match=r"139-170 MHz.*3 tries.*not 300 x 300\)\.$"):
        download_source("b", tmp_path, "TRAIN_DATA_1", get_images=local_skyview(images), sleep=lambda s: None)
    assert not list(tmp_path.rglob("*.fits*"))  # every band is checked before any is written: no partial source


def test_download_from_real_files(tmp_path, gleam_dir):
    """Feed the downloader the published files as if SkyView had served them."""
    real = {b: fits.getdata(next((gleam_dir / "TEST_DATA_1").glob(f"abell_2744_Gleam{b}_clipped.fits"))) for b in BAND_KEYS}
    download_source("abell_2744", tmp_path, "TEST_DATA_1", get_images=local_skyview(real))
    src = read_dataset(tmp_path)[0]
    for i, b in enumerate(BAND_KEYS):
        np.testing.assert_array_equal(src.cube[..., i], real[b])
