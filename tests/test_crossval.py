"""Cross-validated detection: sky groups, grouped folds, the common grid, pooled metrics, baseline, learning."""

import numpy as np
import pandas as pd
import pytest
from astropy.wcs import WCS

from halo_utils import config
from halo_utils.data import Source, grid, read_dataset
from halo_utils.detect import crossval, oof
from halo_utils.prep import splits


def _labels_and_groups(n=24, seed=0):
    rng = np.random.default_rng(seed)
    radec = {f"s{i:02d}": (float(rng.uniform(0, 360)), float(rng.uniform(-60, 20))) for i in range(n)}
    radec["s01"] = (radec["s00"][0] + 0.1, radec["s00"][1])  # s00, s01, s02 chained within 0.5 deg
    radec["s02"] = (radec["s00"][0] + 0.5, radec["s00"][1])
    labels = {name: i % 2 for i, name in enumerate(sorted(radec))}
    return radec, labels


def test_sky_groups_chain_close_sources_only():
    radec, _ = _labels_and_groups()
    groups = splits.sky_groups(radec, 0.45)
    assert groups["s00"] == groups["s01"] == groups["s02"]
    assert len(set(groups.values())) == len(radec) - 2
    assert len(set(splits.sky_groups(radec, 0.05).values())) == len(radec)


def test_grouped_kfold_scores_every_source_once_per_repeat_and_never_splits_a_group():
    radec, labels = _labels_and_groups()
    groups = splits.sky_groups(radec, 0.45)
    plan = splits.grouped_kfold(labels, groups, k=4, repeats=3, seed=5)
    assert len(plan) == 12
    for repeat in range(3):
        tested = [n for f in plan if f["repeat"] == repeat for n, p in f["split"].items() if p == "test"]
        assert sorted(tested) == sorted(labels)
    for f in plan:
        parts = {groups[n]: set() for n in labels}
        for name, part in f["split"].items():
            parts[groups[name]].add(part)
        assert all(len(p) == 1 for p in parts.values())  # a group sits in one part only
        for part in ("train", "val", "test"):
            assert {labels[n] for n, p in f["split"].items() if p == part} == {0, 1}  # both classes everywhere
    other = splits.grouped_kfold(labels, groups, k=4, repeats=3, seed=6)
    assert [f["split"] for f in other] != [f["split"] for f in plan]


def test_the_published_overlapping_fields_are_grouped(gleam_dir):
    sources = read_dataset(gleam_dir)
    plan = crossval.kfold_plan(sources, config.data_config("cpu"), k=5, repeats=1, seed=0)
    groups = plan[0]["groups"]
    for a, b in (("orc 2", "orc 3"), ("abell_0141", "orc 5"), ("abell_2744", "abell_2751")):
        assert groups[a] == groups[b], (a, b)
    assert len(set(groups.values())) == len(sources) - 3


def _band_wcs(pixel_deg, size=300):
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, -30.0]
    wcs.wcs.crpix = [(size + 1) / 2, (size + 1) / 2]
    wcs.wcs.cdelt = [-pixel_deg, pixel_deg]
    return wcs


def test_regrid_puts_one_sky_position_on_one_pixel_in_every_band():
    pixels = (0.015556, 0.012222, 0.009444, 0.007778)  # the published bands
    wcses = tuple(_band_wcs(p) for p in pixels)
    target = grid.sky_grid(150.0, -30.0, 0.733, 95)
    ra, dec = target.pixel_to_world_values(70, 30)  # a sky position off the centre
    cube = np.zeros((300, 300, 4), np.float32)
    for b, w in enumerate(wcses):
        x, y = w.world_to_pixel_values(ra, dec)
        yy, xx = np.indices((300, 300))
        cube[..., b] = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 3.0**2))  # a beam-sized blob
    src = Source("blob", cube, wcses[0], 1, "train", {}, {}, tuple(pixels), wcses)
    field = grid.regrid(src, 0.733, 95)
    for b in range(4):
        assert np.unravel_index(np.argmax(field[..., b]), (95, 95)) == (30, 70)
    with pytest.raises(Exception, match="blob.*170-231"):
        grid.regrid(src, 0.733, 200)  # 147' does not fit in the 140' of the highest band


def test_regrid_resamples_a_source_once_per_grid(monkeypatch):
    """Every fold regrids every source the same way: the second call reuses the first's grid (a copy, so a caller
    that changes it changes nothing else); another cube (a copy of the source, a new or changed cube) is resampled."""
    import dataclasses

    wcses = tuple(_band_wcs(p) for p in (0.015556, 0.012222, 0.009444, 0.007778))
    cube = np.random.default_rng(0).random((300, 300, 4)).astype(np.float32)
    src = Source("noise", cube, wcses[0], 0, "train", {}, {}, (0.01,) * 4, wcses)
    calls = []
    resample = grid.reproject_band
    monkeypatch.setattr(grid, "reproject_band", lambda *a: calls.append(1) or resample(*a))
    first = grid.regrid(src, 0.733, 95)
    first[:] = 0
    again = grid.regrid(src, 0.733, 95)
    assert len(calls) == 4 and again.std() > 0
    grid.regrid(src, 0.733, 93)  # another grid: resampled
    other = dataclasses.replace(src, cube=cube[::-1].copy())
    assert len(calls) == 8 and not np.array_equal(grid.regrid(other, 0.733, 95), again) and len(calls) == 12
    src.cube = cube * 100  # a new cube on the same source: resampled again
    assert np.allclose(grid.regrid(src, 0.733, 95), 100 * again, rtol=1e-5) and len(calls) == 16
    src.cube *= 2  # changed in place: resampled again
    assert np.allclose(grid.regrid(src, 0.733, 95), 200 * again, rtol=1e-5) and len(calls) == 20


def test_pooled_metrics_hand_case_and_interval():
    rng = np.random.default_rng(0)
    label = np.repeat([0, 1], 20)
    rows = [dict(repeat=r, source=f"s{i}", label=y, score=float(y + rng.normal(0, 0.8)))
            for r in range(2) for i, y in enumerate(label)]
    table = pd.DataFrame(rows)
    m = oof.pooled_metrics(table, n_boot=300)
    assert 0.6 < m["oof_source_auc"] < 0.95
    lo, hi = m["oof_source_auc_ci"]
    assert lo < m["oof_source_auc"] < hi and hi - lo > 0.05
    perfect = table.assign(score=table.label.astype(float))
    assert oof.pooled_metrics(perfect, n_boot=50)["oof_source_auc_ci"] == [1.0, 1.0]
    assert oof.recall_at_fpr(np.array([0, 0, 0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.9, 0.8, 0.95]), 0.1) == 0.5
    assert oof.permutation_pvalue(0.8, np.array([0.5, 0.6, 0.85])) == pytest.approx(2 / 4)
    lo, hi = oof.binomial_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-3) and hi == pytest.approx(0.7634, abs=1e-3)


def _bright_sources(n=24, seed=0):
    """Sources whose halo class has a central diffuse disc: the baseline must find it."""
    rng = np.random.default_rng(seed)
    out = []
    yy, xx = np.indices((300, 300))
    r = np.hypot(yy - 149.5, xx - 149.5)
    for i in range(n):
        label = i % 2
        cube = rng.normal(0, 1, (300, 300, 4)).astype(np.float32)
        cube += (8.0 * label * np.exp(-r / 12.0))[..., None]
        wcs = _band_wcs(0.0122)
        wcs.wcs.crval = [10.0 * i, -30.0]
        out.append(Source(f"s{i:02d}", cube, wcs, label, "train", {}, {}, (0.0122,) * 4, (wcs,) * 4))
    return out


def test_baseline_finds_a_planted_signal_and_not_shuffled_labels():
    from halo_utils.prep.noise import noise_table

    sources = _bright_sources()
    settings = config.data_config("smoke")
    noise = noise_table(sources)
    plan = crossval.kfold_plan(sources, settings, k=3, repeats=1, seed=0)
    scores, null = crossval.baseline_scores(sources, settings, plan, 0, noise, permutations=3, progress=False)
    assert oof.pooled_metrics(scores, n_boot=50)["oof_source_auc"] > 0.9
    assert np.mean(null) < 0.8


@pytest.mark.parametrize("model", ["I", "A", "D"])
def test_each_classifier_fits_four_sources_and_is_not_constant(model, mock_sky):
    """On 4 sources (2 per class, 32 images) every model, with the `cpu` batch size and learning rate, must reach
    >= 0.95 training accuracy in 25 epochs, and its held-out predictions must vary (a constant output has not learned)."""
    import keras

    from halo_utils.detect import classify
    from halo_utils.models.classifiers import build_classifier
    from halo_utils.prep import dataset

    sources = read_dataset(mock_sky)
    train = [s for s in sources if s.split == "train" and s.label == 1][:2] + \
            [s for s in sources if s.split == "train" and s.label == 0][:2]
    held = [s for s in sources if s.split == "test"][:4]
    split = {s.name: "train" for s in train} | {s.name: "test" for s in held}
    settings = config.data_config("smoke", n_rotations=8)
    ds = dataset.build_dataset(train + held, settings, seed=0, split=split)
    data = {p: classify.model_inputs(ds, p) for p in ("train", "test")}
    classify.deterministic(0)
    net = build_classifier(model)
    training = classify.train_config("cpu")
    net.compile(optimizer=keras.optimizers.Adam(training.learning_rate), loss="categorical_crossentropy")
    net.fit(data["train"]["x"], data["train"]["y"], epochs=25, batch_size=training.batch_size, verbose=0)
    accuracy = np.mean((classify.predict(net, data["train"]["x"]) >= 0.5) == data["train"]["label"])
    assert accuracy >= 0.95
    assert _margin(net, data["test"]["x"]).std() > 0.1  # on the logit scale: saturated probabilities still rank


def _margin(net, x):
    """Halo minus non-halo logit (before the softmax) of each image."""
    import keras

    features = keras.Model(net.input, net.get_layer("halo").input).predict(x, verbose=0)
    weights, bias = net.get_layer("halo").get_weights()
    logits = features @ weights + bias
    return logits[:, 1] - logits[:, 0]


def test_reclipping_removes_the_published_clip_floor_but_not_the_brightness_shortcut(real_sources):
    """The published thresholds differ by class; after re-clipping the floor is one level everywhere (AUC 0.5),
    while the audit still shows the brightness shortcut flipping between the published splits."""
    from halo_utils.prep import audit
    from halo_utils.prep.noise import noise_table

    table = audit.source_audit(real_sources, config.data_config("smoke"), noise_table(real_sources))
    auc = audit.separation(table)
    assert auc.loc["clip_over_rms_72-103", "all"] < 0.4  # the published floor carries the label
    for band in ("72-103", "103-134", "139-170", "170-231"):
        assert auc.loc[f"floor_over_rms_{band}", "all"] == 0.5
    assert auc.loc["central_snr_170-231", "train"] < 0.4 < 0.6 < auc.loc["central_snr_170-231", "test"]


def test_grad_cam_follows_the_feature_map_the_model_reads():
    """Two bands, each seen by its own convolution channel; the halo logit reads channel 0 only. Band 0 holds a
    blob top-left, band 1 one bottom-right: the Grad-CAM must light the top-left blob and not the other."""
    import keras

    from halo_utils.detect import explain

    inputs = keras.Input((16, 16, 2))
    conv_layer = keras.layers.Conv2D(2, 1, use_bias=False, name="conv")
    conv = conv_layer(inputs)
    read = keras.layers.Lambda(lambda t: keras.ops.sum(t[..., 0], axis=(1, 2)))(conv)
    logits = keras.layers.Lambda(lambda v: keras.ops.stack([-v, v], axis=1))(read)
    model = keras.Model(inputs, keras.layers.Softmax(name="halo")(logits))
    conv_layer.set_weights([np.eye(2, dtype=np.float32).reshape(1, 1, 2, 2)])  # channel c = band c
    x = np.zeros((1, 16, 16, 2), np.float32)
    x[0, 2:5, 2:5, 0] = 0.1
    x[0, 11:14, 11:14, 1] = 0.1
    cam = explain.grad_cam(model, x)
    assert cam.shape == (1, 16, 16)
    assert cam[0, 3, 3] > 0.9 and cam[0, 12, 12] < 0.05
    with pytest.raises(ValueError, match="no convolution"):
        explain.grad_cam(keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(2)]), x)


def test_attention_maps_of_model_a_have_the_image_shape():
    from halo_utils.detect import explain
    from halo_utils.models.classifiers import build_classifier

    x = np.random.default_rng(0).random((3, 64, 64, 4)).astype(np.float32)
    maps = explain.attention_received(build_classifier("A"), x)
    assert maps.shape == (3, 64, 64)
    assert np.allclose(maps.max(axis=(1, 2)), 1) and np.allclose(maps.min(axis=(1, 2)), 0)
    assert len(np.unique(maps[0][::8, ::8])) > 8  # 8x8 tokens, each its own value (not one constant)


def test_the_maps_of_a_bfloat16_model_are_float32_that_a_figure_can_draw():
    """A run in mixed bfloat16 (make sweep PRECISION=mixed_bfloat16) draws its saliency and attention maps too."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from halo_utils.config import use_precision
    from halo_utils.detect import explain
    from halo_utils.models.classifiers import build_classifier

    try:
        use_precision("mixed_bfloat16")
        model = build_classifier("A")
    finally:
        use_precision("float32")  # global: the other tests build float32 models
    x = np.random.default_rng(0).random((2, 64, 64, 4)).astype(np.float32)
    for maps in (explain.grad_cam(model, x), explain.attention_received(model, x)):
        assert maps.dtype == np.float32 and maps.shape == (2, 64, 64)
        fig, ax = plt.subplots()
        ax.imshow(maps[0])
        fig.canvas.draw()  # matplotlib cannot draw bfloat16 ("Unsuitable type bfloat16")
        plt.close(fig)


def test_a_second_run_waits_for_the_baseline_the_first_is_computing(tmp_path, monkeypatch):
    """Two runs of one seed started together compute the baseline (minutes) once: the second waits for the file."""
    import threading
    import time

    import pandas as pd

    from halo_utils.detect import crossval as cv

    calls = []

    def slow(*args):
        calls.append(1)
        time.sleep(1.0)
        return pd.DataFrame([dict(repeat=0, fold=0, source="a", label=1, score=0.7)]), [0.5]

    monkeypatch.setattr(cv, "baseline_scores", slow)

    class Config:
        def to_dict(self):
            return {}

    args = ([], Config(), [dict(split={"a": "test"})], 0, None, 3, tmp_path, False)
    results = []
    threads = [threading.Thread(target=lambda: results.append(cv._cached_baseline(*args, wait_s=30))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(results) == 2 and all(r[1] == [0.5] for r in results)
    assert not list(tmp_path.glob("*.lock")) and len(list(tmp_path.glob("*.json"))) == 1


def test_paired_auc_difference_sees_a_real_gain_and_not_a_relabelled_copy():
    rng = np.random.default_rng(3)
    label = np.repeat([0, 1], 23)

    def table(score):
        return pd.DataFrame(dict(source=[f"s{i}" for i in range(46)] * 2, label=np.tile(label, 2), repeat=np.repeat([0, 1], 46),
                                 score=score))

    noise = rng.normal(size=(3, 92))
    weak = [table(np.tile(label, 2) * 0.5 + n) for n in noise]
    strong = [table(np.tile(label, 2) * 2.0 + n) for n in noise]
    gain = oof.paired_auc_difference(list(zip(strong, weak)), n_boot=300)
    assert gain["mean"] > 0.1 and gain["ci"][0] > 0 and len(gain["per_seed"]) == 3
    same = oof.paired_auc_difference(list(zip(weak, weak)), n_boot=300)
    assert same["mean"] == 0 and same["ci"] == [0.0, 0.0]
    assert 0 < gain["needed"] < gain["mean"] and gain["power"] > 0.9  # shown, so above what showing it needs


def test_paired_auc_difference_has_little_power_when_two_runs_differ_by_noise_alone():
    rng = np.random.default_rng(4)
    label = np.repeat([0, 1], 23)

    def table(score):
        return pd.DataFrame(dict(source=[f"s{i}" for i in range(46)], label=label, repeat=0, score=score))

    one = [table(label * 0.8 + rng.normal(size=46)) for _ in range(3)]
    other = [table(label * 0.8 + rng.normal(size=46)) for _ in range(3)]
    diff = oof.paired_auc_difference(list(zip(one, other)), n_boot=300)
    assert diff["ci"][0] < 0 < diff["ci"][1] and diff["power"] < 0.5 and diff["needed"] > 0.05


def test_a_lock_left_by_a_killed_run_is_taken_over_at_once(tmp_path):
    import subprocess
    import sys
    import time

    from halo_utils import paths

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    target = tmp_path / "pool.npz"
    target.with_suffix(".lock").write_text(dead.stdout.strip())  # its process has ended
    start = time.monotonic()
    with paths.only_once(target, wait_s=600) as mine:
        assert mine and target.with_suffix(".lock").read_text() == str(__import__("os").getpid())
    assert time.monotonic() - start < 5 and not target.with_suffix(".lock").exists()


def test_auc_by_kind_tells_which_others_the_halos_are_told_from():
    """Halos scored above the radio galaxies but mixed with the clusters: the split shows it, the pooled AUC hides it."""
    rng = np.random.default_rng(0)
    halos = rng.normal(1.0, 1.0, 20)
    clusters, galaxies = rng.normal(1.0, 1.0, 14), rng.normal(-5.0, 0.1, 6)
    names = [f"h{i}" for i in range(20)] + [f"c{i}" for i in range(14)] + [f"g{i}" for i in range(6)]
    kinds = {n: {"h": "halo", "c": "cluster", "g": "radio galaxy"}[n[0]] for n in names}
    table = pd.DataFrame(dict(source=names * 2, label=[1] * 20 + [0] * 20 + [1] * 20 + [0] * 20, repeat=np.repeat([0, 1], 40),
                              score=np.tile(np.r_[halos, clusters, galaxies], 2)))
    rows = {r["against"]: r for r in oof.auc_by_kind(table, kinds, n_boot=300)}
    assert set(rows) == {"all others", "cluster", "radio galaxy"}
    assert rows["radio galaxy"]["auc"] == 1.0 and rows["radio galaxy"]["n_others"] == 6
    assert abs(rows["cluster"]["auc"] - 0.5) < 0.2 and rows["cluster"]["ci"][0] < 0.5 < rows["cluster"]["ci"][1]
    assert rows["cluster"]["auc"] < rows["all others"]["auc"] < 1.0 and rows["all others"]["n_halos"] == 20
    with pytest.raises(ValueError, match="g5"):
        oof.auc_by_kind(table, {k: v for k, v in kinds.items() if k != "g5"})
