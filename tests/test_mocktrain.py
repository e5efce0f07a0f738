"""A detector trained on mock fields: saved so that the search scores as training scored, completeness tables."""

import numpy as np
import pandas as pd
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


def test_the_sidelobe_table_reads_each_run_by_its_name(tmp_path, monkeypatch):
    """``pretraining.mock_rows`` finds the run of each mock-sky variant under the name 05_classifier gives it."""
    import json

    from halo_utils.studies import pretraining

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    folder = tmp_path / "data" / "results" / "05_classifier"
    folder.mkdir(parents=True)
    for auc, sky in ((0.61, {}), (0.73, {"sidelobe_level": 0.03})):
        tag = classify.run_tag("I", "kfold", "mock", 4.0, True, mock_sky=sky)
        mock = dict(test_auc=auc, test_auc_ci=[auc - 0.1, auc + 0.1], threshold={"threshold": 0.5}, test_fpr=0.05,
                    completeness_snr5=0.5, n_halos_snr5=10, train_seconds=1.0, peak_rss_mb=1.0,
                    completeness=[dict(peak_snr_bin="[5.0, inf)", completeness=0.5, found=5, n=10)])
        transfer = dict(auc=0.5, auc_ci=[0.4, 0.6], halos_found=1, n_halos=23, non_halos_above=1, n_non_halos=23)
        (folder / f"{config.run_name('cpu', 0, 'gleam', tag)}.json").write_text(json.dumps(dict(mock=mock, transfer=transfer)))
    rows = pretraining.mock_rows("cpu", [0], skies=[{}, {"sidelobe_level": 0.03}, {"sidelobe_level": 0.1}],
                                 clipping=(True,))
    assert [(r["mock_sky"], r["test_auc"][:5]) for r in rows] == [("default", "0.610"), ("sidelobe_level 0.03", "0.730")]
    assert "mock_sky" not in pretraining.mock_rows("cpu", [0])[0]  # the default table keeps its columns


def test_the_training_size_table_reads_each_run_by_its_name(tmp_path, monkeypatch):
    """``pretraining.mock_rows(fields=...)`` finds the default run and the ``mock_fields`` override under their names."""
    import json

    from halo_utils.studies import pretraining

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    folder = tmp_path / "data" / "results" / "05_classifier"
    folder.mkdir(parents=True)
    for n, overrides in ((3000, None), (12000, {"mock_fields": 12000}),
                         (12000, {"mock_fields": 12000, "mock_fresh_views": True})):
        tag = classify.run_tag("I", "kfold", "mock", 4.0, True, overrides=overrides)
        mock = dict(test_auc=0.7, test_auc_ci=[0.6, 0.8], threshold={"threshold": 0.5}, test_fpr=0.05, completeness=[],
                    completeness_snr5=0.5, n_halos_snr5=10, train_seconds=1.0, peak_rss_mb=1.0,
                    sizes=dict(train=n, val=n // 5, test=n // 2))
        transfer = dict(auc=0.5, auc_ci=[0.4, 0.6], halos_found=1, n_halos=23, non_halos_above=1, n_non_halos=23)
        scores = [dict(name=f"c{i}", label=i % 2, score=i / 10) for i in range(6)]  # halos 0.1, 0.3, 0.5
        (folder / f"{config.run_name('cpu', 0, 'gleam', tag)}.json").write_text(json.dumps(dict(
            mock=mock, transfer=transfer, real_scores=scores)))
    rows = pretraining.mock_rows("cpu", [0], clipping=(True,), fields=[None, 12000, 50000])
    assert rows[0]["real_median_score"] == "0.30 / 0.20"
    assert [(r["train_fields"], r["test_fields"]) for r in rows] == [(3000, 1500), (12000, 6000)]
    assert "training_views" not in rows[0]
    rows = pretraining.mock_rows("cpu", [0], clipping=(True,), fields=[12000], fresh=(False, True))
    assert [r["training_views"] for r in rows] == ["fixed", "new every epoch"]


def test_pretraining_from_a_larger_mock_detector_is_paired_by_its_run_name(tmp_path, monkeypatch):
    """``pretraining(fields=N)`` pairs the real-only run with the ``mock+gleam`` run of that ``mock_fields`` override,
    not with the default one."""
    import json

    from halo_utils.studies import pretraining

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    folder = tmp_path / "data" / "results" / "05_classifier"
    folder.mkdir(parents=True)
    label = np.repeat([0, 1], 5)
    for auc, tag in ((0.6, classify.run_tag("I", "kfold")),
                     (0.7, classify.run_tag("I", "kfold", "mock+gleam", 4.0, True)),
                     (0.8, classify.run_tag("I", "kfold", "mock+gleam", 4.0, True, overrides={"mock_fields": 25000})),
                     (0.9, classify.run_tag("I", "kfold", "mock+gleam", 4.0, True, overrides={"mock_fresh_views": True}))):
        scores = [dict(source=f"s{i}", label=int(y), score=float(y * auc + i / 100), repeat=0) for i, y in enumerate(label)]
        (folder / f"{config.run_name('cpu', 0, 'gleam', tag)}.json").write_text(json.dumps(dict(
            scores=scores, oof_source_auc=auc)))
    assert [r["mock_pretrained"] for r in pretraining.pretraining("cpu", [0])[0]] == [0.7]
    rows, paired = pretraining.pretraining("cpu", [0], fields=25000)
    assert [(r["real_only"], r["mock_pretrained"], r["difference"]) for r in rows] == [(0.6, 0.8, 0.2)]
    assert paired is not None and pretraining.pretraining("cpu", [0], fields=50000)[0] == []
    assert [r["mock_pretrained"] for r in pretraining.pretraining("cpu", [0], fresh=True)[0]] == [0.9]
    # the command for the fresh-view pairs writes its own table and leaves the mock-detector table alone
    pretraining.main(["--profile", "cpu", "--seeds", "0", "--fresh-views"])
    written = sorted(p.name for p in (tmp_path / "docs" / "results").iterdir())
    assert written == ["mock_pretraining_cpu_freshviews.md"]
    assert "| 0 | 0.6 | 0.9 | 0.3 |" in (tmp_path / "docs" / "results" / written[0]).read_text()


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


def test_the_kind_table_reads_every_training_of_a_seed_by_its_name(tmp_path, monkeypatch):
    """``kinds.run_rows`` finds the real-only, mock-only and fine-tuned runs of a seed under 05_classifier's names,
    each with its own scores (out-of-fold, or the mock detector's scores of the real clusters)."""
    import json

    from halo_utils.studies import kinds

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    folder = tmp_path / "data" / "results" / "05_classifier"
    folder.mkdir(parents=True)
    kind = {f"s{i}": ("halo" if i < 4 else "cluster" if i < 7 else "ring") for i in range(9)}
    ranks = {"gleam": range(9), "mock": range(9)[::-1]}  # real-only ranks halos low, mock-only high

    def scores(order, key):
        return [{key: f"s{i}", "label": int(i < 4), "score": float(r), **({"repeat": 0} if key == "source" else {})}
                for i, r in enumerate(order)]

    for train_on, key, tag in (("gleam", "scores", classify.run_tag("I", "kfold")),
                               ("mock", "real_scores", classify.run_tag("I", "kfold", "mock", 4.0, True,
                                                                        overrides={"mock_fresh_views": True}))):
        entry = {key: scores(ranks[train_on], "source" if key == "scores" else "name")}
        (folder / f"{config.run_name('cpu', 0, 'gleam', tag)}.json").write_text(json.dumps(entry))
    assert kinds.run_rows("cpu", [0], "I", kind) == kinds.run_rows("cpu", [0], "I", kind)[:1]  # fixed views: none
    rows = kinds.run_rows("cpu", [0], "I", kind, fresh=True)
    assert [r["detector"] for r in rows] == ["real-only, model I", "mock-only (none seen), model I"]
    assert rows[0]["vs all others (5)"].startswith("0.000") and rows[1]["vs all others (5)"].startswith("1.000")
    assert rows[1]["vs ring (2)"].startswith("1.000")


def test_the_mock_only_seed_ensemble_averages_each_sources_scores(tmp_path, monkeypatch):
    """``kinds.mock_ensemble_rows`` averages the mock-only runs' scores per source: two seeds that each rank one halo
    below every other source, a different one each, rank every halo first once averaged."""
    import json

    from halo_utils.studies import kinds

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    folder = tmp_path / "data" / "results" / "05_classifier"
    folder.mkdir(parents=True)
    kind = {f"s{i}": ("halo" if i < 2 else "cluster") for i in range(4)}
    tag = classify.run_tag("I", "kfold", "mock", 4.0, True, overrides={"mock_fresh_views": True})
    for seed, score in ((0, [1.0, 0.0, 0.4, 0.3]), (1, [0.0, 1.0, 0.4, 0.3])):
        entry = dict(real_scores=[dict(name=f"s{i}", label=int(i < 2), score=v) for i, v in enumerate(score)])
        (folder / f"{config.run_name('cpu', seed, 'gleam', tag)}.json").write_text(json.dumps(entry))
    assert kinds.mock_ensemble_rows("cpu", [0], "I", kind, fresh=True) == []  # one seed is no ensemble
    single = kinds.run_rows("cpu", [0, 1], "I", kind, fresh=True)
    assert [r["vs all others (2)"][:5] for r in single] == ["0.500", "0.500"]
    (row,) = kinds.mock_ensemble_rows("cpu", [0, 1, 2], "I", kind, fresh=True)
    assert row["seed"] == "0 1" and row["vs all others (2)"].startswith("1.000")


def test_the_auc_against_all_is_the_count_weighted_mean_of_the_kinds_and_needed_auc_inverts_it():
    from halo_utils.detect import oof
    from halo_utils.studies import kinds

    rng = np.random.default_rng(0)
    names = [f"s{i}" for i in range(20)]
    kind = dict(zip(names, ["halo"] * 8 + ["cluster"] * 7 + ["ring"] * 3 + ["galaxy"] * 2))
    table = pd.DataFrame(dict(source=names, label=[int(kind[n] == "halo") for n in names], score=rng.uniform(size=20),
                              repeat=0))
    rows = {r["against"]: r for r in oof.auc_by_kind(table, kind, n_boot=10)}
    counts = {k: rows[k]["n_others"] for k in ("cluster", "ring", "galaxy")}
    weighted = sum(counts[k] * rows[k]["auc"] for k in counts) / sum(counts.values())
    assert rows["all others"]["auc"] == pytest.approx(weighted)
    given = {k: rows[k]["auc"] for k in ("ring", "galaxy")}
    assert kinds.needed_auc(counts, rows["all others"]["auc"], given) == pytest.approx(rows["cluster"]["auc"])
    assert kinds.needed_auc(counts, 0.8, {"ring": 0.5, "galaxy": 0.5}) == pytest.approx((0.8 * 12 - 2.5) / 7)
    with pytest.raises(ValueError, match="every kind but one"):
        kinds.needed_auc(counts, 0.8, {"ring": 0.5})


def test_the_kind_table_pairs_fine_tuning_with_real_only_training_per_kind(tmp_path, monkeypatch):
    """``kinds.paired_rows`` pairs the fine-tuned and real-only runs of a seed and splits the gain by kind: a gain
    made only against the rings shows there, and not against the clusters."""
    import json

    from halo_utils.studies import kinds

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    folder = tmp_path / "data" / "results" / "05_classifier"
    folder.mkdir(parents=True)
    kind = {f"s{i}": ("halo" if i < 6 else "cluster" if i < 10 else "ring") for i in range(14)}
    real = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1] + [0.85, 0.75, 0.25, 0.15] + [0.95, 0.65, 0.35, 0.05]
    tuned = real[:10] + [0.0, 0.0, 0.0, 0.0]  # the same scores, but every ring now ranked below every halo
    for tag, score in ((classify.run_tag("I", "kfold"), real), (classify.run_tag("I", "kfold", "mock+gleam", 4.0, True), tuned)):
        entry = dict(scores=[dict(source=f"s{i}", label=int(i < 6), score=v, repeat=0) for i, v in enumerate(score)])
        (folder / f"{config.run_name('cpu', 0, 'gleam', tag)}.json").write_text(json.dumps(entry))
    rows = {r["against"]: r for r in kinds.paired_rows("cpu", [0, 1], "I", kind)}
    assert list(rows) == ["all others", "cluster", "ring"] and rows["ring"]["seeds"] == "0"
    assert rows["cluster"]["per seed"] == "+0.000" and rows["ring"]["per seed"] == "+0.500"
    assert rows["all others"]["per seed"] == "+0.250"
    assert kinds.paired_rows("cpu", [0], "I", kind, fresh=True) == []  # no fine-tuning from a fresh-view detector


def test_the_kind_table_says_how_far_redshift_alone_separates_the_halos(tmp_path):
    """``kinds.redshifts`` ranks the halos against each kind of other source by redshift alone, on the sources
    with a redshift: a halo at lower redshift than a cluster costs a pair; a kind with no redshift gets none."""
    import pandas as pd

    from halo_utils.studies import kinds

    pd.DataFrame(dict(source=["h1", "h2", "h3", "c1", "c2", "r1"], label=[1, 1, 1, 0, 0, 0], split="train",
                      kind=["halo"] * 3 + ["cluster"] * 2 + ["ring"],
                      z=[0.2, 0.3, 0.1, 0.05, 0.15, None])).to_csv(tmp_path / "sources.csv", index=False)
    rows = {r["kind"]: r for r in kinds.redshifts(tmp_path)}
    column = "AUC of z alone, halo class against it"
    assert rows["cluster"][column].startswith("0.833") and rows["cluster"]["with_z"] == 2
    assert rows["ring"][column] == "-" and rows["halo"][column] == "-" and rows["halo"]["z_median"] == "0.200"
