"""A detector trained on mock fields: saved so that the search scores as training scored, completeness tables."""

import numpy as np
import pytest

from halo_utils import config
from halo_utils.detect import artefact, classify, mocktrain
from halo_utils.prep import mockset


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import os

    root = tmp_path_factory.mktemp("root")
    os.environ["HALO_ROOT"] = str(root)
    settings, training = config.data_config("smoke"), classify.train_config("smoke")
    config.deterministic(0)
    result = mocktrain.train_on_mock("D", settings, training, 60, 0, root / "mock", progress=False)
    del os.environ["HALO_ROOT"]
    return result, settings


def test_the_saved_mock_detector_scores_as_the_trained_network(trained, tmp_path, monkeypatch):
    result, settings = trained
    monkeypatch.setenv("HALO_ROOT", str(tmp_path))  # the test fields are drawn again, not read from the cache
    det = artefact.load(result["detector"])
    assert len(det.members) == 1 and det.meta["source"] == "mock-fields" and len(det.meta["sources"]) == 60
    assert det.meta["thresholds"]["cv"]["fpr"] <= 0.05
    test = result["test"]
    # the test fields' views through the saved detector (its normaliser, its weights) give the same scores
    mocks = mockset.build(len(test), 2, settings, mockset.mock_sky_config(settings), progress=False)
    x, index = mockset.views(mocks, 2, 2)
    prob = det.predict(x)[0]
    again = np.bincount(index, prob) / np.bincount(index)
    np.testing.assert_allclose(again, test.score, atol=1e-5)


def test_streamed_training_gives_the_numbers_of_training_in_memory(tmp_path, monkeypatch):
    """Mock fields streamed from disk batch by batch train exactly as the same images held in memory (weights,
    history): streaming, which lets 50,000 fields train in bounded memory, changes no number."""
    import keras

    from halo_utils.models.classifiers import build_classifier

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    settings, training = config.data_config("smoke"), classify.train_config("smoke", epochs=2, patience=2)
    sky = mockset.mock_sky_config(settings)
    parts = [mockset.build(n, s, settings, sky, shard=16, progress=False) for n, s in ((40, 0), (20, 1))]
    views = [mockset.Views(part.fields, 2, s) for s, part in enumerate(parts)]
    log = mocktrain.normaliser(views[0], parts[0].rms, settings)
    lazy = [mocktrain.streamed(part, v, log) for part, v in zip(parts, views)]
    assert isinstance(lazy[0]["x"], mocktrain.Inputs) and len(lazy[0]["x"]) == 80
    held = [dict(d, x=d["x"][:]) for d in lazy]
    fits, weights = [], []
    for k, data in enumerate((lazy, held)):
        config.deterministic(0)
        keras.utils.set_random_seed(0)
        net = build_classifier("D", size=settings.cutout, bands=4)
        fits.append(classify.train(net, training, data[0], data[1], tmp_path / f"run{k}", seed=0)["history"])
        weights.append(net.get_weights())
    assert fits[0] == fits[1]
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_fresh_views_give_every_epoch_its_own_views_of_the_same_fields(tmp_path, monkeypatch):
    """``mock_fresh_views``: each training epoch reads its own rotations and mirrors of the same fields, the same
    ones again when the epoch is run again (a resumed run), and training does read them."""
    import keras

    from halo_utils.models.classifiers import build_classifier

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    settings = config.data_config("smoke")
    sky = mockset.mock_sky_config(settings)
    parts = [mockset.build(n, s, settings, sky, shard=16, progress=False) for n, s in ((40, 0), (20, 1))]
    views = [mockset.Views(part.fields, 2, s) for s, part in enumerate(parts)]
    log = mocktrain.normaliser(views[0], parts[0].rms, settings)
    fixed, fresh = (mocktrain.streamed(parts[0], views[0], log, fresh=f) for f in (False, True))
    assert fixed["x"].at_epoch(3) is fixed["x"] and fixed["x"].fingerprint() != fresh["x"].fingerprint()
    first, second = fresh["x"].at_epoch(0), fresh["x"].at_epoch(1)
    np.testing.assert_array_equal(first.views.index, second.views.index)  # the same fields, so the same labels
    np.testing.assert_array_equal(first[:], fresh["x"].at_epoch(0)[:])
    np.testing.assert_array_equal(first[:], fixed["x"][:])  # epoch 0 reads the fixed views (draw 0 is the seed's)
    changed = [not np.array_equal(a, b) for a, b in zip(first[:], second[:])]
    assert 0.5 < np.mean(changed) < 1  # 7 in 8 views differ between two draws of the eight rotations and mirrors
    val = mocktrain.streamed(parts[1], views[1], log)
    training = classify.train_config("smoke", epochs=2, patience=2)
    weights = []
    for k, data in enumerate((fixed, fresh)):
        config.deterministic(0)
        keras.utils.set_random_seed(0)
        net = build_classifier("D", size=settings.cutout, bands=4)
        classify.train(net, training, data, val, tmp_path / f"run{k}", seed=0)
        weights.append(net.get_weights())
    assert any(not np.array_equal(a, b) for a, b in zip(*weights))


def test_completeness_and_false_positive_tables(trained):
    result, _ = trained
    table = result["completeness"]
    assert list(table.columns) == ["peak_snr_bin", "n", "found", "completeness"]
    assert table.n.sum() == (result["test"].label == 1).sum() and (table.found <= table.n).all()
    fp = result["false_positives"]
    assert fp.n.sum() == (result["test"].label == 0).sum() and set(fp.kind) <= {"group", "ring"}
    summary = mocktrain.summary(result)
    assert 0 <= summary["test_auc"] <= 1 and summary["sizes"] == {"train": 60, "val": 20, "test": 30}


def test_injected_halos_are_scored_reproducibly_and_a_halo_of_no_flux_leaves_the_host_score(trained, mock_sky,
                                                                                               monkeypatch):
    import dataclasses

    from halo_utils.studies import injection

    result, _ = trained
    det = artefact.load(result["detector"])
    first, again = (injection.injections(det, mock_sky, per_host=1, seed=0, progress=False) for _ in range(2))
    assert len(first) == 23 and first.host.nunique() == 23 and np.isfinite(first.peak_snr).all()
    np.testing.assert_array_equal(first.score, again.score)
    # with every injected halo emptied, each host scores exactly as it does alone
    sky = injection.mock_sky_config(det.config)
    empty = [dataclasses.replace(h, flux_150=0.0) for h in injection.halo_draws(23, 0, sky)]
    monkeypatch.setattr(injection, "halo_draws", lambda n, seed, sky: empty[:n])
    blank = injection.injections(det, mock_sky, per_host=1, seed=0, progress=False)
    np.testing.assert_allclose(blank.score, blank.host_score, atol=1e-6)
    assert (blank.peak_snr == 0).all()
