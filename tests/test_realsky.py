"""Halos in real skies: the background bank, injection into real cut-outs, the injection-trained detector, upper limits."""

import dataclasses

import numpy as np
import pytest

from halo_utils.config import data_config
from halo_utils.constants import BAND_KEYS, PEAK_BAND
from halo_utils.data.grid import sky_grid
from halo_utils.detect import limits
from halo_utils.prep.backgrounds import Bank, build_bank, exclusion_arcmin, field_extent_deg
from halo_utils.prep.injected import Injected
from halo_utils.prep.mockset import mock_sky_config
from halo_utils.sky.instrument import beam, render

SETTINGS = data_config("smoke")


@pytest.fixture(scope="module")
def fold(real_sources):
    """A fold of the published sources: ten held out (among them sources whose fields neighbour others), the rest
    training, with the noise and redshifts the bank needs."""
    from halo_utils.data.catalogue import read_source_table
    from halo_utils.detect.realsky import _noise
    from halo_utils.prep.dataset import source_rms

    names = sorted(s.name for s in real_sources)
    held = set(names[::5]) | {"orc 1", "orc 4"}
    split = {n: "test" if n in held else "train" for n in names}
    noise, thresholds = _noise(real_sources)
    rms, _ = source_rms(noise, split, SETTINGS.clip_sigma)
    table = read_source_table(None)
    return dict(split=split, rms=rms, thresholds=thresholds, z=dict(zip(table.source, table.z)),
                kinds=dict(zip(table.source, table.kind)))


@pytest.fixture(scope="module")
def train_bank(real_sources, fold):
    return _bank(real_sources, fold)


def _bank(real_sources, fold, part="train", keep_out=True):
    names = [n for n, p in fold["split"].items() if p == part]
    return build_bank(real_sources, names, SETTINGS, fold["rms"], fold["thresholds"], fold["z"], fold["kinds"],
                      keep_out=keep_out)


def test_the_bank_never_yields_a_pixel_of_a_held_out_field(real_sources, fold, train_bank):
    """Allowed training cut-outs (the rim of each, every pixel: two squares overlap only if one's rim enters the
    other) lie outside the square field of every held-out source; the rule can fail: without keep_out, some cut-outs
    of the same fields do reach into held-out fields."""
    held = [s for s in real_sources if fold["split"][s.name] == "test"]

    def reaching(bank) -> int:
        hits = 0
        for i, allowed in enumerate(bank.allowed):
            ys, xs = np.nonzero(allowed)
            side = allowed.shape[0]
            wcs = sky_grid(*bank.radec[i], bank.pixel_arcmin, side)
            if not len(ys):
                continue
            h = bank.size // 2
            edge = np.arange(-h, bank.size - h)
            rim = np.concatenate([np.c_[edge, np.full_like(edge, e)] for e in (-h, bank.size - h - 1)]
                                 + [np.c_[np.full_like(edge, e), edge] for e in (-h, bank.size - h - 1)])
            pick = np.random.default_rng(i).choice(len(ys), min(len(ys), 300), replace=False)
            points = np.concatenate([rim + [xs[j], ys[j]] for j in pick])  # the rim of 300 allowed cut-outs, every pixel
            ra, dec = wcs.pixel_to_world_values(points[:, 0], points[:, 1])
            for src in held:
                extent = field_extent_deg(src, bank.pixel_arcmin)
                px = extent * 60 / bank.pixel_arcmin
                other = sky_grid(*src.radec, bank.pixel_arcmin, int(round(px)))
                cx, cy = other.world_to_pixel_values(ra, dec)
                hits += int(np.sum((cx > -0.5) & (cx < px - 0.5) & (cy > -0.5) & (cy < px - 0.5)))
        return hits

    assert reaching(train_bank) == 0
    assert reaching(_bank(real_sources, fold, keep_out=False)) > 0


def test_the_bank_keeps_clear_of_halo_sources_and_counts_its_cut_outs(real_sources, fold, train_bank):
    bank = train_bank
    halos = [s for s in real_sources if s.label == 1]
    view = bank.size / np.sqrt(2) * bank.pixel_arcmin
    for _ in range(200):
        field, y, x = bank.draw(np.random.default_rng(_))
        ra, dec = bank.world(field, y, x)
        for src in halos:
            sep = np.degrees(np.arccos(np.clip(np.sin(np.radians(dec)) * np.sin(np.radians(src.radec[1])) + np.cos(
                np.radians(dec)) * np.cos(np.radians(src.radec[1])) * np.cos(np.radians(ra - src.radec[0])), -1, 1)))
            assert sep * 60 > exclusion_arcmin(fold["z"].get(src.name)) + view
    assert 0 < bank.independent() < bank.n_allowed
    assert bank.hard and all(fold["kinds"][bank.names[f]] == "cluster without reported diffuse emission"
                             for f, _, _ in bank.hard)


def test_exclusion_radius_follows_redshift():
    assert exclusion_arcmin(0.05) > exclusion_arcmin(0.2) > exclusion_arcmin(0.4) > 0
    assert exclusion_arcmin(float("nan")) == exclusion_arcmin(None) == 30.0
    assert 12 < exclusion_arcmin(0.1) < 15  # 1.5 Mpc at z = 0.1, about 110 kpc per arcmin


def test_pairs_differ_only_by_what_was_injected(train_bank):
    """Both images of a pair are the same real cut-out; where nothing clipped, they differ by the rendered halo."""
    bank = train_bank
    images = Injected(bank, 40, seed=3, config=dataclasses.replace(SETTINGS, clip_sigma=None), decoy_share=0.0)
    x, truth = images.make(slice(None))
    assert (truth.label.to_numpy() == np.arange(40) % 2).all() and (truth.kind[truth.label == 0] == "none").all()
    assert (truth.host.to_numpy()[::2] == truth.host.to_numpy()[1::2]).all()
    difference = x[1::2] - x[::2]
    assert (difference.reshape(20, -1).max(axis=1) > 0).all()  # a halo in every odd image
    again, _ = images.make([5, 4])
    np.testing.assert_array_equal(again, x[[5, 4]])  # made again, the same images
    assert not np.array_equal(images.at_epoch(1)[0:2], x[0:2])  # a new epoch draws anew


def test_a_bright_injected_halo_scores_above_its_field_without_it(real_sources, fold, train_bank, tmp_path):
    """A smoke detector trained on injected pairs scores held-out cut-outs with a bright halo above the same cut-outs
    without one."""
    import keras

    from halo_utils.detect.classify import predict, train, train_config
    from halo_utils.detect.realsky import Scaled, inputs
    from halo_utils.models.classifiers import build_classifier
    from halo_utils.prep.preprocess import LogNormaliser

    bright = dict(p150_relation=(26.7, 3.5, 0.1))  # halos 50 times the population's power: all well above the noise
    test_bank = _bank(real_sources, fold, "test", keep_out=False)
    images = Injected(train_bank, 256, 0, SETTINGS, decoy_share=0.0, sky=bright)
    log = LogNormaliser().fit(images[:128], np.median(train_bank.rms, axis=0))
    training = train_config("smoke", epochs=4, patience=4, fit_gate=0.0)
    val_x, val = Injected(train_bank, 64, 1, SETTINGS, decoy_share=0.0, sky=bright).make(slice(None))
    keras.utils.set_random_seed(0)
    net = build_classifier("I", size=SETTINGS.cutout, bands=len(BAND_KEYS))
    train(net, training, dict(x=Scaled(images, log), y=np.eye(2, dtype=np.float32)[images.label], label=images.label),
          dict(x=inputs(val_x, log), y=np.eye(2, dtype=np.float32)[val.label], label=val.label.to_numpy()),
          tmp_path / "net", seed=0)
    x, truth = Injected(test_bank, 64, 2, SETTINGS, decoy_share=0.0, sky=bright).make(slice(None))
    score = predict(net, inputs(x, log))
    assert truth.host.isin([n for n, p in fold["split"].items() if p == "test"]).all()
    assert np.mean(score[1::2] > score[::2]) > 0.8


def _noise_bank(rms=1e-4, size=64, side=160) -> Bank:
    rng = np.random.default_rng(0)
    field = rng.normal(0, rms, (side, side, len(BAND_KEYS))).astype(np.float32)
    allowed = np.zeros((side, side), bool)
    allowed[side // 2, side // 2] = True
    return Bank(names=["noise"], fields=[field], radec=np.array([[150.0, -30.0]]), rms=np.full((1, 4), rms),
                threshold=np.full((1, 4), np.nan), allowed=[allowed], hard=[(0, side // 2, side // 2)], size=size,
                pixel_arcmin=SETTINGS.pixel_arcmin)


def test_upper_limit_recovers_a_known_limit():
    """A detector that finds a halo when the 139-170 MHz flux within 5 px of the centre exceeds K has, with negligible
    noise, the limit K / (that flux per Jy at 150 MHz): measured independently by rendering the same halos."""
    config = dataclasses.replace(SETTINGS, clip_sigma=None)
    bank, z = _noise_bank(), 0.1
    centre, r = (bank.size - 1) / 2, 5
    yy, xx = np.mgrid[:bank.size, :bank.size]
    disc = np.hypot(yy - centre, xx - centre) <= r
    k = 0.3  # Jy/beam summed over the disc

    def score(images):  # images (n, S, S, B) turned and mirrored: the disc is symmetric, so it does not matter
        return images[..., PEAK_BAND][:, disc].sum(axis=1) >= k

    sky = mock_sky_config(config, population="balanced")
    beams = [beam(b, -30.0, sky) for b in range(len(BAND_KEYS))]
    rng = np.random.default_rng(1)
    per_jy = [render([limits.halo(rng, 1.0, z, limits.re_kpc(), centre, sky)], beams, (bank.size, bank.size),
                     sky.pixel_deg)[PEAK_BAND][disc].sum() for _ in range(200)]
    expected = k / np.median(per_jy)
    curve = limits.detection_curve(score, bank, 0, 80, 80, z, config, seed=0, per_flux=60,
                                   fluxes=np.geomspace(expected / 3, expected * 3, 25))
    assert abs(limits.flux_limit(curve, 0.5) / expected - 1) < 0.1
    assert limits.flux_limit(curve, 0.9) > limits.flux_limit(curve, 0.5)
    assert curve.share.iloc[0] == 0  # the noise alone is never found
    assert np.isnan(limits.flux_limit(curve.assign(share=0.2), 0.5))  # never reached: above the grid
    found_alone = curve.assign(share=np.where(curve.flux_150 == 0, 0.6, curve.share))
    assert np.isnan(limits.flux_limit(found_alone, 0.5))  # the empty field is already "found": no limit


def test_power_inverts_the_populations_flux_density():
    from halo_utils.sky.population import flux_density

    assert limits.power_150(flux_density(25.0, 0.2, -1.3), 0.2, -1.3) == pytest.approx(1e25, rel=1e-9)


def test_clusters_in_a_training_field_are_flagged():
    """A cluster inside the sky an injection-trained detector learnt its backgrounds from is flagged
    ``training_field``; one on a training source ``training_source``; one far away neither."""
    from types import SimpleNamespace

    from halo_utils.search.score import Scorer

    member = dict(seen=["abell_0085"], seen_radec=[[10.4, -9.3]], field_radius_deg=1.6)
    detector = SimpleNamespace(members=[member], config=SETTINGS, bands=list(BAND_KEYS))
    scorer = Scorer(detector)
    assert scorer._training_flags((10.4, -9.3)) == ["training_source:abell_0085"]
    assert scorer._training_flags((11.4, -9.3)) == ["training_field:abell_0085"]
    assert scorer._training_flags((14.0, -9.3)) == []


def test_the_search_writes_a_known_upper_limit(tmp_path):
    """A cluster scored below the threshold gets its upper limit in the candidate row: with a stand-in detector that
    finds a halo when the 139-170 MHz flux within 5 px of the centre exceeds K, the limit is K over that flux per Jy,
    measured independently by rendering the same halos (as in the limit test above)."""
    from types import SimpleNamespace

    from halo_utils.data.grid import sky_grid
    from halo_utils.search.fields import Field
    from halo_utils.search.score import Scorer

    config = dataclasses.replace(SETTINGS, clip_sigma=None)
    size, z, k, r = config.cutout, 0.1, 0.3, 5
    centre = (size - 1) / 2
    yy, xx = np.mgrid[:size, :size]
    disc = np.hypot(yy - centre, xx - centre) <= r

    def predict(jy, members=None):
        return np.stack([(jy[..., PEAK_BAND][:, disc].sum(axis=1) >= k).astype(float)] * len(members))

    member = dict(seen=[], seen_radec=[], rms_fallback=[1e-4] * 4, log_rms={b: [-4.0, 0.1] for b in BAND_KEYS})
    detector = SimpleNamespace(members=[member], config=config, bands=list(BAND_KEYS), predict=predict,
                               meta=dict(seed=0, thresholds=dict(cv=dict(threshold=0.5))))
    rng = np.random.default_rng(0)
    wcs = sky_grid(150.0, -30.0, config.pixel_arcmin, 200)
    images = {b: (rng.normal(0, 1e-4, (200, 200)).astype(np.float32), wcs) for b in BAND_KEYS}
    row, _ = Scorer(detector, limit_draws=40)(Field("empty", (150.0, -30.0), images, [], dict(z=z)))
    sky = mock_sky_config(config, population="balanced")
    beams = [beam(b, -30.0, sky) for b in range(len(BAND_KEYS))]
    per_jy = [render([limits.halo(rng, 1.0, z, limits.re_kpc(), centre, sky)], beams, (size, size),
                     sky.pixel_deg)[PEAK_BAND][disc].sum() for _ in range(200)]
    assert row["score"] == 0 and row["limit_z_known"] and row["limit_found_alone"] == 0
    assert abs(row["limit_s50_jy"] / (k / np.median(per_jy)) - 1) < 0.25  # the flux grid is coarse: 13 steps, 0.01-10 Jy
    assert row["limit_p50_w_hz"] == pytest.approx(limits.power_150(row["limit_s50_jy"], z))


def test_field_interval_resamples_host_fields_not_injections():
    """Two hosts, one whose injections are all found and one with none found: resampling the hosts gives 0, 1/2 or 1
    (an interval from 0 to 1); resampling the 40 injections one by one would give about 0.35-0.65."""
    import pandas as pd

    from halo_utils.detect.realsky_measure import field_interval

    table = pd.DataFrame(dict(host=["a"] * 20 + ["b"] * 20, candidate=[True] * 20 + [False] * 20))
    assert field_interval(table, n_boot=400) == [0.0, 1.0]
    assert field_interval(table[table.host == "a"], n_boot=50) == [1.0, 1.0]
    mixed = pd.DataFrame(dict(host=[f"h{i}" for i in range(30) for _ in range(4)], candidate=[True, False] * 60))
    assert field_interval(mixed) == [0.5, 0.5]  # every host finds half of its halos
    assert np.isnan(field_interval(table.iloc[:0])).all()
