"""The central peak S/N an image shows, and the labelled halos found against mock halos that look as bright."""

import numpy as np
import pandas as pd
import pytest

from halo_utils import config
from halo_utils.detect import mocktrain
from halo_utils.studies import brightness
from halo_utils.prep import features, mockset


def test_central_peak_reads_one_band_within_the_radius():
    field = np.zeros((93, 93, 4), np.float32)
    rms = np.array([1.0, 1.0, 0.5, 1.0])
    field[46, 46, 2] = 4.0  # the centre at 139-170 MHz: S/N 8
    field[46, 46, 3] = 100.0  # another band: not read
    field[46, 54, 2] = 6.0  # 8 px = 5.9' from the centre: S/N 12, beyond 3'
    assert features.central_peak_snr(field, rms, 0.733) == pytest.approx(8.0)
    assert features.central_peak_snr(field, rms, 0.733, radius_arcmin=6.0) == pytest.approx(12.0)


def test_the_central_peak_of_a_mock_field_bounds_its_halo_peak_from_above(tmp_path, monkeypatch):
    """The image holds the halo plus compact sources plus noise, so near the centre it is at least as bright as
    the halo alone, up to noise (halos lie up to a few arcmin off the centre: a radius of 8')."""
    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    settings = config.data_config("smoke")
    mocks = mockset.build(120, 5, settings, mockset.mock_sky_config(settings), progress=False)
    observed = features.central_peaks(mocks.fields, mocks.rms, settings.pixel_arcmin, chunk=50, radius_arcmin=8.0)
    halos = mocks.table.assign(observed=observed).query("label == 1 and peak_snr >= 8")
    assert len(halos) >= 15
    assert np.mean(halos.observed >= halos.peak_snr - 3) >= 0.95


def _mock_bins(n_found):
    return [dict(observed_snr_bin=b, n=n, found=f, n_others=10, others_above=1, median_true_snr=float("nan"))
            for b, (n, f) in zip(("[-inf, 5.0)", "[5.0, 10.0)", "[10.0, 20.0)", "[20.0, inf)"), n_found)]


REAL = pd.DataFrame(dict(name=list("abcdef"), label=[1, 1, 1, 1, 0, 0], score=[0.9, 0.1, 0.9, 0.2, 0.9, 0.1],
                         observed_snr=[1.0, 7.0, 7.0, 30.0, 30.0, 2.0],
                         kind=["halo"] * 4 + ["cluster without reported diffuse emission", "radio galaxy"]))


def test_the_expected_count_follows_the_mock_rate_of_each_bin():
    bins = _mock_bins([(10, 0), (10, 5), (10, 10), (10, 10)])  # rates 0, 0.5, 1, 1
    out = brightness.expected_found(bins, REAL, 0.5)
    # halos in bins 0, 1, 1, 3: expected 0 + 0.5 + 0.5 + 1 = 2, variance 0.25 + 0.25
    assert (out["found"], out["n"]) == (2, 4) and out["expected"] == pytest.approx(2.0)
    assert out["range"] == pytest.approx((2 - 1.96 * np.sqrt(0.5), 2 + 1.96 * np.sqrt(0.5)))
    rows = brightness.side_by_side(bins, REAL, 0.5)
    assert rows[3]["labelled halos found"].endswith("(0/1)")  # the bright halo scored 0.2: missed
    assert rows[3]["real clusters without emission above"].endswith("(1/1)")
    assert rows[0]["all 23 real non-halos above"].endswith("(0/1)") and rows[0]["their true peak S/N (median)"] == "-"


def test_a_bin_of_labelled_halos_without_mock_halos_is_an_error():
    with pytest.raises(ValueError, match="no mock halo"):
        brightness.expected_found(_mock_bins([(0, 0), (10, 5), (10, 10), (10, 10)]), REAL, 0.5)


def test_by_observed_counts_halos_and_others_per_bin():
    table = REAL.assign(peak_snr=[0.5, 3.0, 6.0, 25.0, 0.0, 0.0])
    out = mocktrain.by_observed(table, 0.5)
    assert out.n.tolist() == [1, 2, 0, 1] and out.found.tolist() == [1, 1, 0, 0]
    assert out.n_others.tolist() == [1, 0, 0, 1] and out.others_above.tolist() == [0, 0, 0, 1]
    assert out.median_true_snr[1] == pytest.approx(4.5)


def test_the_real_clusters_central_peaks(real_sources):
    from halo_utils.prep.noise import noise_table

    observed = brightness.real_observed(real_sources, config.data_config("cpu"), noise_table(real_sources))
    assert len(observed) == 46 and all(np.isfinite(v) and v >= 0 for v in observed.values())
    # the four 3C / NGC / PKS radio galaxies sit at their images' centres, far above any odd radio circle
    galaxies = [v for k, v in observed.items() if k.startswith(("3c", "ngc", "pks"))]
    rings = [v for k, v in observed.items() if k.startswith("orc")]
    assert len(galaxies) == 4 and len(rings) == 5 and min(galaxies) > 10 * max(max(rings), 1.0)
