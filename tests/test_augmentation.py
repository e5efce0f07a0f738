"""Generated halos in the training folds: per-fold generators learn only their fold's training halos, are cached,
and join (or replace) class 1 of that fold's training images only."""

import numpy as np
import pytest

from halo_utils.config import data_config
from halo_utils.detect import classify, crossval, mocktrain
from halo_utils.generate import extend, folds
from halo_utils.studies import augmentation
from halo_utils.prep.dataset import build_dataset


def test_draw_turns_pool_images_and_uses_each_once_while_the_pool_lasts():
    rng = np.random.default_rng(0)
    pool = dict(jy=rng.uniform(0, 1, (6, 8, 8, 2)).astype(np.float32))
    images = folds.draw(pool, 6, seed=3)
    turned = [[np.rot90(p, k) for k in range(4)] for p in pool["jy"]]
    turned = [[t, t[:, ::-1]] for ts in turned for t in ts]
    origin = [next(i for i, p in enumerate(pool["jy"]) if any(np.array_equal(img, t) for t in
                                                                  sum((turned[4 * i + k] for k in range(4)), [])))
              for img in images]
    assert sorted(origin) == list(range(6))  # every pool image once, each turned or mirrored
    assert np.array_equal(images, folds.draw(pool, 6, seed=3)) and not np.array_equal(images, folds.draw(pool, 6, 4))
    assert folds.draw(pool, 15, seed=0).shape == (15, 8, 8, 2)  # beyond the pool: with replacement


def test_run_names_say_which_generator_and_overrides():
    assert classify.run_tag("I", "kfold", augment_with="ddpm", generated_per_real=0.5) == "I_kfold_ddpm0.5x"
    assert classify.run_tag("I", "kfold", overrides={"repeats": 1, "plan_seed": 0}) == "I_kfold_planseed0_repeats1"
    assert classify.run_tag("I", "kfold") == "I_kfold"
    assert (classify.run_tag("I", "kfold", "mock", mock_clipped=True, mock_sky={"sidelobe_level": 0.03})
            == "I_kfold_mockclipped_sidelobelevel0.03")
    assert mocktrain.run_tag("I", True, 4.0, {"sidelobe_level": 0.03}) == "I_clipped_clip4_sidelobelevel0.03"
    assert mocktrain.run_tag("I", False, None) == "I_unclipped_noclip"
    assert mocktrain.run_tag("I", True, 4.0, None, {"mock_fields": 12000}) == "I_clipped_clip4_train_mockfields12000"


@pytest.fixture(scope="module")
def fold(real_sources):
    settings = data_config("smoke")
    training = classify.train_config("smoke", plan_seed=0)
    plan = crossval.kfold_plan(real_sources, settings, training.folds, training.repeats, 0, training.val_fraction)
    return settings, training, plan


def test_each_fold_generator_learns_its_training_halos_only_and_is_reused(real_sources, fold, tmp_path, monkeypatch):
    settings, training, plan = fold
    pools = [folds.fold_pool("ddpm", real_sources, f["split"], settings, training.bands, "smoke", 0, tmp_path,
                             progress=False) for f in plan[:2]]
    for f, pool in zip(plan, pools):
        train_halos = sorted(s.name for s in real_sources if s.label == 1 and f["split"][s.name] == "train")
        assert pool["meta"]["halos"] == train_halos  # never a validation or test source
        assert len(pool["jy"]) == pool["meta"]["n_real"] and pool["jy"].shape[1:] == (64, 64, 4)
    assert pools[0]["meta"]["key"] != pools[1]["meta"]["key"]

    def refuse(*args, **kwargs):
        raise AssertionError("a cached generator was trained again")

    monkeypatch.setattr(folds, "DDPM", refuse)
    again = folds.fold_pool("ddpm", real_sources, plan[0]["split"], settings, training.bands, "smoke", 0, tmp_path)
    assert np.array_equal(again["jy"], pools[0]["jy"])


def test_a_sweep_trains_each_fold_generator_once_ahead_where_its_notebooks_look(real_sources, gleam_dir, tmp_path,
                                                                                   monkeypatch):
    """The generators of a sweep are jobs of their own, one per distinct training split, written where the notebook's
    extender then reads them (the same folds, data settings, bands and seed) without training anything."""
    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    shared = augmentation.generator_runs("ddpm", [0, 1], "smoke", {"plan_seed": 0}, gleam_dir=gleam_dir)
    training = classify.train_config("smoke", plan_seed=0)
    assert len(shared) == training.folds and not any(r["done"] for r in shared)  # both seeds share the folds
    own = augmentation.generator_runs("ddpm", [0, 1], "smoke", {}, gleam_dir=gleam_dir)
    assert len(own) == 2 * training.folds and shared[0]["run"] in {r["run"] for r in own}
    assert len(augmentation.generator_runs("ddpm", [0, 1], "smoke", {}, "strict", gleam_dir)) == 2
    assert augmentation.generator_runs("real", [0], "smoke", {}, gleam_dir=gleam_dir) == []

    folds.main([str(shared[0]["job"])])
    assert [r["done"] for r in augmentation.generator_runs("ddpm", [0], "smoke", {"plan_seed": 0}, gleam_dir=gleam_dir)
            ] == [True] + [False] * (training.folds - 1)

    def refuse(*args, **kwargs):
        raise AssertionError("the notebook trained a generator that the sweep had trained")

    monkeypatch.setattr(folds, "DDPM", refuse)
    settings = data_config("smoke", clip_sigma=4.0)  # the notebook's default clip
    plan = crossval.kfold_plan(real_sources, settings, training.folds, training.repeats, 0, training.val_fraction)
    pool = folds.fold_pool("ddpm", real_sources, plan[0]["split"], settings, training.bands, "smoke", 0,
                           extend.generator_root("smoke"))
    assert pool["meta"]["key"] == shared[0]["run"].split("_", 1)[1]


def test_generated_halos_join_or_replace_class_1_of_the_training_part_only(real_sources, fold, tmp_path):
    from halo_utils.generate.extend import extender

    settings, training, plan = fold
    f = plan[0]
    ds = build_dataset(real_sources, settings, seed=0, split=f["split"])
    train = classify.model_inputs(ds, "train", training.bands, training.scaling)
    halos = int(train["label"].sum())
    add = extender("ddpm", 2.0, real_sources, settings, training, "smoke", 0, root=tmp_path, progress=False)
    out, info = add(ds, f, train)
    assert info["n_generated"] == 2 * halos and len(out["x"]) == len(train["x"]) + 2 * halos
    assert int(out["label"].sum()) == 3 * halos and (out["source"] == "generated:ddpm").sum() == 2 * halos
    assert np.array_equal(out["x"][:len(train["x"])], train["x"])
    generated = out["x"][out["source"] == "generated:ddpm"]
    assert np.isfinite(generated).all() and generated.min() >= -0.01 and generated.max() <= 1.5
    swap = extender("ddpm", 1.0, real_sources, settings, training, "smoke", 0, root=tmp_path, replace=True,
                    progress=False)
    out, info = swap(ds, f, train)
    real_sources_left = set(out["source"][out["label"] == 1])
    assert real_sources_left == {"generated:ddpm"} and int(out["label"].sum()) == halos
    assert (out["label"] == 0).sum() == (train["label"] == 0).sum()
    weights = classify.class_weights(out["label"])  # each class weighs half, generated halos included
    assert weights[0] * (out["label"] == 0).sum() == pytest.approx(weights[1] * halos)


def test_generated_images_are_clipped_like_the_data_they_learnt():
    """A faint floor (below the clip level of the training sources' median noise) becomes exact zeros; sources stay."""
    settings = data_config("smoke")  # clip at 4 sigma
    normaliser = dict(x0=[2e-3, 1e-3])  # log_reference_sigma 1: the median noise per band
    jy = np.full((1, 4, 4, 2), 1e-3, np.float32)
    jy[0, 1, 1] = [1e-2, 5e-3]
    out = folds.clip_like_data(jy, normaliser, settings)
    assert out[0, 1, 1].tolist() == pytest.approx([1e-2, 5e-3]) and np.count_nonzero(out) == 2
    assert np.array_equal(folds.clip_like_data(jy, normaliser, data_config("smoke", clip_sigma=None)), jy)


def test_the_real_halo_control_adds_turned_copies_of_the_fold_s_own_halos(real_sources, fold, monkeypatch):
    """``augment_with='real'``: as many extra class-1 images as a generator would give, each a turned or mirrored
    real training-halo image of the fold; no generator is trained."""
    settings, training, plan = fold
    f = plan[0]
    ds = build_dataset(real_sources, settings, seed=0, split=f["split"])
    train = classify.model_inputs(ds, "train", training.bands, training.scaling)
    monkeypatch.setattr(extend, "fold_pool", lambda *a, **k: pytest.fail("the control trained a generator"))
    add = extend.extender("real", 1.0, real_sources, settings, training, "smoke", 0, progress=False)
    out, info = add(ds, f, train)
    halos = train["x"][train["label"] == 1]
    extra = out["x"][out["source"] == "extra:real"]
    assert info["generator"] == "real" and info["n_generated"] == len(halos) == len(extra)
    views = [v for h in halos for k in range(4) for v in (np.rot90(h, k), np.rot90(h, k)[:, ::-1])]
    assert all(any(np.array_equal(e, v) for v in views) for e in extra[:20])
    with pytest.raises(ValueError, match="cannot replace"):
        extend.extender("real", 1.0, real_sources, settings, training, "smoke", 0, replace=True)
    assert classify.run_tag("A", "kfold", augment_with="real") == "A_kfold_real1x"


def test_generated_halos_are_paired_against_the_control_when_asked(tmp_path, monkeypatch):
    """``sweep_runs(..., versus='real')`` pairs each augmented run with the control arm of the same seed, not with
    the real-only run; the table names the twin's column after it; an arm cannot be paired with itself."""
    import json

    from sklearn.metrics import roc_auc_score


    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    folder = tmp_path / "data" / "results" / "05_classifier"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    label = np.repeat([0, 1], 10)
    noise = {arm: rng.uniform(0, 1, 20) for arm in ("none", "real", "ddpm")}
    runs = augmentation.sweep_runs([0], ["A"], "ddpm", 1.0, "cpu", {}, versus="real")
    assert [r["augment_with"] for r in runs] == ["real", "ddpm"]
    for run in augmentation.sweep_runs([0], ["A"], "ddpm", 1.0, "cpu", {}) + runs[:1]:
        arm = run["augment_with"]
        score = noise[arm] + (0.5 if arm == "ddpm" else 0.1) * label  # ddpm separates best
        scores = [dict(source=f"s{i}", label=int(y), score=float(p), repeat=0) for i, (y, p) in enumerate(zip(label, score))]
        (folder / f"{run['run']}.json").write_text(json.dumps(dict(
            protocol="kfold", scores=scores, oof_source_auc=roc_auc_score(label, score), train_seconds=1.0,
            fits=[dict(extended=None if arm == "none" else dict(n_generated=10))])))
    rows, models = augmentation.paired_table(runs)
    auc = {arm: json.loads((folder / f"{r['run']}.json").read_text())["oof_source_auc"]
           for arm, r in (("real", runs[0]), ("ddpm", runs[1]))}
    assert rows[0]["versus_real"] == round(auc["real"], 3) and rows[0]["difference"] == round(auc["ddpm"] - auc["real"], 3)
    assert "versus_real" in models[0] and "real_only" not in models[0]
    with pytest.raises(ValueError, match="versus"):
        augmentation.sweep_runs([0], ["A"], "ddpm", 1.0, "cpu", {}, versus="ddpm")


def test_the_published_split_pairs_runs_by_their_test_sources(tmp_path, monkeypatch):
    """Under ``strict`` the runs are named as such, and the table pairs the per-source AUC on the split's test
    sources (``per_source``) of each seed's runs with and without generated halos."""
    import json

    from sklearn.metrics import roc_auc_score


    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    folder = tmp_path / "data" / "results" / "05_classifier"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    label = np.repeat([0, 1], 5)
    runs = augmentation.sweep_runs([0, 1], ["I"], "ddpm", 1.0, "cpu", {}, protocol="strict")
    assert [r["run"] for r in runs[:2]] == ["I_strict_cpu_seed0", "I_strict_ddpm1x_cpu_seed0"]
    for run in runs:
        score = rng.uniform(0, 1, 10) + (0.6 if run["augment_with"] == "ddpm" else 0.0) * label
        scores = [dict(source=f"s{i}", label=int(y), score=float(p), n_images=4) for i, (y, p) in enumerate(zip(label, score))]
        (folder / f"{run['run']}.json").write_text(json.dumps(dict(
            protocol="strict", scores=scores, per_source=dict(roc_auc=roc_auc_score(label, score)), train_seconds=1.0,
            generated=None if run["augment_with"] == "none" else dict(n_generated=7))))
    rows, models = augmentation.paired_table(runs)
    auc = {r["run"]: json.loads((folder / f"{r['run']}.json").read_text())["per_source"]["roc_auc"] for r in runs}
    assert [row["difference"] for row in rows] == [round(auc[runs[i + 1]["run"]] - auc[runs[i]["run"]], 3) for i in (0, 2)]
    assert [row["generated_per_fold"] for row in rows] == [7, 7] and models[0]["seeds"] == 2
