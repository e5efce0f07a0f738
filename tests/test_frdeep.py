"""FRDEEP-F reader: no code runs from a crafted pickle, any square size, flattened or 2-D; the real set."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from halo_utils.data import frdeep
from halo_utils.prep.augment import rotations


class _Payload:
    """Unpickling this calls os.makedirs(target): a stand-in for arbitrary code."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return os.makedirs, (self.target,)


def _write(folder: Path, images: np.ndarray, labels, size: int, flat: bool = True, names=("FRI", "FRII")):
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"num_cases_per_batch": len(images), "label_names": list(names), "num_vis": size * size}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))
    data = images.reshape(len(images), -1) if flat else images
    for name in ("data_batch_1", "test_batch"):
        batch = {"batch_label": name, "labels": list(labels), "data": data, "filenames": [f"{i}.png" for i in labels]}
        (folder / name).write_bytes(pickle.dumps(batch))


def test_a_crafted_pickle_runs_no_code(tmp_path):
    target = tmp_path / "created_by_pickle"
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": _Payload(target)}))
    with pytest.raises(frdeep.UnsafePickleError, match="posix.makedirs|os.makedirs"):
        frdeep.load_batch(path)
    assert not target.exists()
    pickle.loads(path.read_bytes())  # the plain unpickler would have run it: the test can fail
    assert target.exists()


@pytest.mark.parametrize("flat", [True, False])
def test_any_square_size_flat_or_2d(tmp_path, flat):
    images = np.random.default_rng(0).integers(0, 256, (5, 12, 12), dtype=np.uint8)
    _write(tmp_path, images, [0, 1, 1, 0, 1], 12, flat)
    data = frdeep.read_frdeep(tmp_path)
    assert data["train"].shape == (5, 12, 12) and data["label_names"] == ["FRI", "FRII"]
    np.testing.assert_allclose(data["train"], images / 255.0, atol=1e-7)


def test_a_size_that_disagrees_with_the_metadata_names_the_file(tmp_path):
    images = np.zeros((3, 10, 10), np.uint8)
    _write(tmp_path, images, [0, 1, 0], 12)
    with pytest.raises(ValueError, match="data_batch_1.*12x12"):
        frdeep.read_frdeep(tmp_path)


def test_missing_folder_says_how_to_set_it(monkeypatch):
    monkeypatch.delenv("HALO_FRDEEP_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="HALO_FRDEEP_DIR"):
        frdeep.frdeep_dir()


def test_rotation_then_centre_cut_keeps_the_centre():
    image = np.zeros((1, 150, 150), np.float32)
    image[0, 70:80, 60:90] = 1.0  # a horizontal bar through the centre
    out, labels = rotations(image, np.array([1]), n_angles=4)
    assert out.shape == (4, 100, 100) and labels.tolist() == [1, 1, 1, 1]
    np.testing.assert_array_equal(out[0], image[0, 25:125, 25:125])
    np.testing.assert_allclose(out[1].sum(), out[0].sum(), rtol=0.02)  # 90 degrees: same flux
    assert out[1][:, 45:55].sum() > 0.9 * out[1].sum()  # ... now a vertical bar


@pytest.fixture(scope="module")
def real(frdeep_dir):
    return frdeep.read_frdeep(frdeep_dir)


def test_real_frdeep_f(real):
    assert real["train"].shape == (550, 150, 150) and real["test"].shape == (50, 150, 150)
    counts = np.bincount(np.concatenate([real["train_labels"], real["test_labels"]]))
    assert counts.tolist() == [264, 336]  # FRI, FRII (Tang et al. 2019)
    assert 0.0 <= real["train"].min() and real["train"].max() <= 1.0


MIRABEST = ["FRI Confident", "FRI Uncertain", "FRII Confident", "FRII Uncertain", "Hybrid"]


def test_a_set_with_more_classes_is_refused_naming_them(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (5, 12, 12)).astype(np.uint8)
    _write(tmp_path, images, [0, 1, 2, 3, 4], 12, names=MIRABEST)
    with pytest.raises(ValueError, match="FRI Uncertain.*Hybrid.*classes="):
        frdeep.read_frdeep(tmp_path)


def test_classes_map_a_set_to_fri_and_frii_leaving_the_rest_out(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (6, 12, 12)).astype(np.uint8)
    _write(tmp_path, images, [0, 2, 1, 4, 2, 0], 12, names=MIRABEST)
    data = frdeep.read_frdeep(tmp_path, classes='{"FRI Confident": 0, "FRII Confident": 1}')
    assert data["train_labels"].tolist() == [0, 1, 1, 0] and data["label_names"] == ["FRI", "FRII"]
    np.testing.assert_array_equal(data["train"], images[[0, 1, 4, 5]] / np.float32(255))
    with pytest.raises(ValueError, match="must map some of"):
        frdeep.read_frdeep(tmp_path, classes={"FRI Confident": 0, "Bent": 1})


def test_labels_outside_the_classes_are_named(tmp_path):
    _write(tmp_path, np.zeros((2, 12, 12), np.uint8), [0, 7], 12)
    with pytest.raises(ValueError, match=r"labels \[0, 7\] outside the 2 classes"):
        frdeep.read_frdeep(tmp_path)


def test_two_sets_get_different_tags(tmp_path):
    images = np.zeros((2, 12, 12), np.uint8)
    _write(tmp_path / "a", images, [0, 1], 12)
    _write(tmp_path / "b", np.zeros((3, 12, 12), np.uint8), [0, 1, 1], 12)
    tags = {frdeep.dataset_tag(tmp_path / "a"), frdeep.dataset_tag(tmp_path / "b")}
    assert len(tags) == 2 and all(t[:2] in ("a-", "b-") for t in tags)
