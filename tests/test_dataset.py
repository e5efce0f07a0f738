import numpy as np
import pytest

from halo_utils.config import DataConfig, data_config
from halo_utils.data import read_dataset
from halo_utils.prep.dataset import build_dataset
from halo_utils.prep.splits import carve_validation, kfold_by_source, published_split


@pytest.fixture
def fake_sources(fake_dataset):
    return read_dataset(fake_dataset)


def test_same_seed_same_bytes_other_seed_differs(fake_sources):
    config = data_config("smoke", n_brightness=3)
    a = build_dataset(fake_sources, config, seed=7)
    b = build_dataset(fake_sources, config, seed=7)
    c = build_dataset(fake_sources, config, seed=8)
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != c.fingerprint()


def test_order_of_sources_does_not_matter(fake_sources):
    config = data_config("smoke", n_brightness=2)
    assert build_dataset(fake_sources, config, 1).fingerprint() == build_dataset(fake_sources[::-1], config, 1).fingerprint()


def test_sizes_and_split_by_source(fake_sources):
    config = data_config("smoke")
    split = carve_validation(published_split(fake_sources), {s.name: s.label for s in fake_sources}, 0.5, seed=0)
    ds = build_dataset(fake_sources, config, seed=0, split=split)
    per = config.n_variants
    assert ds.sizes() == {"train": {"1": per, "0": per}, "val": {"1": per, "0": per}, "test": {"1": 2 * per, "0": 2 * per}}
    for name in np.unique(ds.source):
        assert len(set(ds.split[ds.source == name])) == 1  # every image of a source in one split


def test_normalisers_use_training_sources_only(fake_sources):
    config = data_config("smoke", clip_sigma=2.0)  # the fixture is pure noise: keep some pixels above the clip
    base = build_dataset(fake_sources, config, seed=0)
    boosted = [s for s in fake_sources]
    for s in boosted:
        if s.split == "test":
            s.cube = s.cube * 100.0  # test images far brighter
    other = build_dataset(boosted, config, seed=0)
    np.testing.assert_array_equal(base.minmax.high, other.minmax.high)
    np.testing.assert_array_equal(base.log.x0, other.log.x0)
    assert other.minmax_inputs(other.split == "test").max() > 1.0  # not silently clipped


def test_empty_cutouts_only_with_the_option(fake_sources):
    config = data_config("smoke")
    ds = build_dataset(fake_sources, config, seed=0, empty_cutouts=True)
    assert ds.empty.sum() == 4 * 4 * config.n_variants  # 4 halo-class sources x 4 sides x each augmented copy
    assert (ds.label[ds.empty] == 0).all()
    assert not build_dataset(fake_sources, config, seed=0).empty.any()


def test_carve_validation_is_stratified_and_seeded():
    labels = {f"s{i}": i % 2 for i in range(36)}
    split = {n: "train" for n in labels}
    a = carve_validation(split, labels, 0.2, seed=3)
    assert a == carve_validation(split, labels, 0.2, seed=3)
    val = [n for n, s in a.items() if s == "val"]
    assert sum(labels[n] for n in val) == 4 and len(val) == 8


def test_kfold_covers_every_source_once():
    labels = {f"s{i}": int(i < 23) for i in range(46)}
    folds = kfold_by_source(labels, k=5, seed=0)
    tested = [n for f in folds for n, s in f.items() if s == "test"]
    assert sorted(tested) == sorted(labels)
    for f in folds:
        held = [n for n, s in f.items() if s == "test"]
        assert abs(sum(labels[n] for n in held) - len(held) / 2) <= 1


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown DataConfig keys"):
        DataConfig.from_dict({"profile": "x", "epochs": 3})


def test_real_dataset_is_reproducible(real_sources):
    config = data_config("smoke")
    a = build_dataset(real_sources, config, seed=3)
    assert a.fingerprint() == build_dataset(real_sources, config, seed=3).fingerprint()
    assert a.sizes() == {"train": {"1": 36, "0": 36}, "test": {"1": 10, "0": 10}}
    x = a.minmax_inputs(a.split == "train")
    assert x.min() == 0.0 and x.max() == pytest.approx(1.0)


def test_source_counts():
    from halo_utils.prep.splits import source_counts

    assert source_counts({"a": "train", "b": "train", "c": "test"}, {"a": 1, "b": 0, "c": 1}) == \
        {"train": {"1": 1, "0": 1}, "test": {"1": 1, "0": 0}}
