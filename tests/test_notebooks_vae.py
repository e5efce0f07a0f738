"""07_vae runs once on FRDEEP-F in the smoke profile, then on a second, CIFAR-style set."""

from pathlib import Path

import pytest

from conftest import _real_frdeep_dir, execute, result

pytest.importorskip("papermill")


def _cifar_style(folder: Path, names: list, n_train: int, n_test: int, seed: int):
    """A small CIFAR-style radio-galaxy set: blobs whose elongation follows the class, 40x40 uint8."""
    import pickle

    import numpy as np

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names, "num_vis": 1600}))
    y, x = np.mgrid[:40, :40] - 19.5
    for name, n in (("data_batch_1", n_train), ("test_batch", n_test)):
        labels = rng.integers(0, len(names), n)
        width = 2 + 4 * (labels % 2)[:, None, None]
        images = 255 * np.exp(-(x ** 2 / width ** 2 + y ** 2 / 4))[None] * rng.uniform(0.5, 1, (n, 1, 1))
        batch = dict(labels=labels.tolist(), data=images.astype(np.uint8).reshape(n, -1))
        (folder / name).write_bytes(pickle.dumps(batch))


@pytest.mark.skipif(_real_frdeep_dir() is None, reason="FRDEEP-F not found: set HALO_FRDEEP_DIR (e.g. ../shared/data/frdeep-first)")
def test_07_vae_runs_on_frdeep_then_on_a_second_set_without_touching_the_first(workspace):
    """FRDEEP-F, then a CIFAR-style set with five classes mapped to FRI/FRII: two results, the first left alone."""
    results = workspace / "data" / "results" / "07_vae"
    execute("07_vae", workspace, "07_vae", profile="smoke", seed=0)
    written = {p.name: p.read_bytes() for p in results.glob("*.json")}
    assert len(written) == 1
    second = workspace / "sets" / "mirabest-like"
    _cifar_style(second, ["FRI Confident", "FRI Uncertain", "FRII Confident", "FRII Uncertain", "Hybrid"], 120, 40, seed=1)
    execute("07_vae", workspace, "07_second", profile="smoke", seed=0, frdeep_dir=str(second), gleam_cvae=False,
            classes='{"FRI Confident": 0, "FRII Confident": 1}')
    after = {p.name: p.read_bytes() for p in results.glob("*.json")}
    assert len(after) == 2 and all(after[name] == content for name, content in written.items())
    name = next(name for name in after if name not in written)
    summary = result(workspace, "07_vae", Path(name).stem)
    assert summary["classes"][-1] == "Hybrid" and summary["dataset"].startswith("mirabest-like-")
