"""The balanced mock population and training sets drawn from it: no shortcut, the stated relations, caching."""

import numpy as np
import pytest
from scipy.stats import ks_2samp

from halo_utils import config
from halo_utils.constants import cosmology
from halo_utils.prep import mockset
from halo_utils.sky import population
from halo_utils.sky.mock import SkyConfig, draw_components


def _shortcut_features(mocks):
    """Per field at 139-170 MHz: central S/N (peak within 3 px), summed S/N and filled fraction within 15'."""
    snr = np.asarray(mocks.fields)[..., 2] / mocks.rms[:, 2, None, None]
    half = snr.shape[1] // 2
    yy, xx = np.mgrid[:snr.shape[1], :snr.shape[2]] - half
    r = np.hypot(yy, xx) * 0.733  # arcmin
    central = snr[:, r <= 3 * 0.733].max(axis=1)
    inner = snr[:, r <= 15]
    return dict(central=central, total=np.where(inner > 0, inner, 0).sum(axis=1), filled=(inner > 0).mean(axis=1))


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    import os

    os.environ["HALO_ROOT"] = str(tmp_path_factory.mktemp("root"))
    settings = config.data_config("smoke")
    out = {pop: mockset.build(800, 5, settings, mockset.mock_sky_config(settings, population=pop), progress=False)
           for pop in ("classic", "balanced")}
    del os.environ["HALO_ROOT"]
    return out


def test_the_balanced_population_has_no_brightness_shortcut(samples):
    features = _shortcut_features(samples["balanced"])
    label = samples["balanced"].table.label.to_numpy()
    for name, values in features.items():
        assert ks_2samp(values[label == 1], values[label == 0]).pvalue > 0.01, name


def test_the_classic_population_has_one_and_the_test_sees_it(samples):
    features = _shortcut_features(samples["classic"])
    label = samples["classic"].table.label.to_numpy()
    assert ks_2samp(features["total"][label == 1], features["total"][label == 0]).pvalue < 0.01


def test_both_classes_share_the_central_content(samples):
    table = samples["balanced"].table
    shares = table.groupby("label").central.value_counts(normalize=True).unstack()
    assert np.allclose(shares.loc[0], shares.loc[1], atol=0.08)
    assert set(table[table.label == 0].kind) == {"group", "ring"} and set(table[table.label == 1].kind) == {"halo"}


def test_halo_power_follows_the_stated_relation():
    sky = SkyConfig(population="balanced", p150_relation=(25.0, 3.5, 0.0))
    rng = np.random.default_rng(0)
    masses = np.exp(rng.uniform(np.log(3), np.log(15), 50))
    logp = np.array([population.halo_power(m, rng, sky) for m in masses])
    assert np.polyfit(np.log10(masses / 6.0), logp, 1) == pytest.approx([3.5, 25.0])
    # S = P (1 + z)^(1 + alpha) / (4 pi D_L^2), in Jy
    d_l = cosmology().luminosity_distance(0.1).to_value("m")
    assert population.flux_density(25.0, 0.1, -1.3) == pytest.approx(1e25 * 1.1 ** -0.3 / (4 * np.pi * d_l ** 2) / 1e-26)


def test_a_halo_carries_the_drawn_flux_and_a_decoy_a_fixed_share_of_it():
    sky = SkyConfig(population="balanced", size=93, pixel_deg=0.733 / 60)
    for label in (0, 1):
        for i in range(20):
            comps, z, cluster = draw_components(np.random.default_rng([label, i]), "f", label, sky)
            extra = [c for c in comps if c.kind in ("halo", "group", "ring")]
            expected = cluster["drawn_flux_150"] * (1 if label else sky.decoy_flux_scale)
            assert sum(c.flux_150 for c in extra) == pytest.approx(expected, rel=1e-9)


def test_training_sets_are_cached_and_reproducible(tmp_path, monkeypatch):
    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    settings = config.data_config("smoke")
    sky = mockset.mock_sky_config(settings)
    first = mockset.build(30, 1, settings, sky, shard=20, progress=False)
    assert len(list((tmp_path / "data" / "mockset").rglob("shard*.json"))) == 2
    again = mockset.build(30, 1, settings, sky, shard=20, progress=False)
    np.testing.assert_array_equal(first.fields, again.fields)
    assert first.fields.shape == (30, 93, 93, 4) and first.table.label.tolist() == [i % 2 for i in range(30)]
    halos = first.table[first.table.label == 1]
    assert (halos.peak_snr > 0).all() and (first.table[first.table.label == 0].peak_snr == 0).all()
    assert np.asarray(first.fields).min() == 0  # clipped at 4 sigma: no negative pixel survives
    unclipped = mockset.build(4, 1, config.data_config("smoke", clip_sigma=None), sky, progress=False)
    assert np.asarray(unclipped.fields).min() < 0  # noise left as it is
    x, index = mockset.views(first, 3, seed=0)
    assert x.shape == (90, 64, 64, 4) and index.tolist() == sorted(list(range(30)) * 3)


def test_fields_stay_on_disk_and_views_are_made_when_read(tmp_path, monkeypatch):
    """Fields are read from their shard files only when indexed, across shard boundaries; a view read alone is the
    same image as in the whole set; a shard that is not float32 fields is refused, naming the file."""
    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    settings = config.data_config("smoke")
    mocks = mockset.build(30, 1, settings, mockset.mock_sky_config(settings), shard=20, progress=False)
    whole = np.asarray(mocks.fields)
    assert isinstance(mocks.fields, mockset.Fields) and len(mocks.fields) == 30 and mocks.fields.nbytes == whole.nbytes
    np.testing.assert_array_equal(mocks.fields[19], whole[19])
    np.testing.assert_array_equal(mocks.fields[18:23], whole[18:23])  # the boundary of the two shards
    np.testing.assert_array_equal(mocks.fields[np.array([29, 0, 20])], whole[[29, 0, 20]])
    with pytest.raises(IndexError):
        mocks.fields[30]
    lazy = mockset.Views(mocks.fields, 2, seed=4)
    x, index = mockset.views(mocks, 2, seed=4)
    rows = np.array([59, 3, 40, 3])
    np.testing.assert_array_equal(lazy[rows], x[rows])
    np.testing.assert_array_equal(lazy.index, index)
    assert mocks.fields.fingerprint() == mockset.build(30, 1, settings, mockset.mock_sky_config(settings), shard=20,
                                                       progress=False).fields.fingerprint()
    bad = tmp_path / "bad.npy"
    np.save(bad, whole[:2].astype(np.float64))
    with pytest.raises(ValueError, match="bad.npy"):
        mockset.Fields([bad], [2])
