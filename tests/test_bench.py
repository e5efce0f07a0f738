"""The benchmark's FLOP counter against a closed form (the benchmark itself prints figures; it is not a test)."""

import pytest

pytest.importorskip("tensorflow")

from halo_utils.bench import forward_flops  # noqa: E402
from halo_utils.models.classifiers import build_classifier  # noqa: E402


def test_dense_model_flops_match_the_closed_form():
    # D on one band: matmuls 2*in*out for 4096->64->30->8->4->2, plus small elementwise ops
    matmuls = 2 * (4096 * 64 + 64 * 30 + 30 * 8 + 8 * 4 + 4 * 2)
    flops = forward_flops(build_classifier("D", bands=1))
    assert matmuls <= flops <= 1.01 * matmuls + 2_000


def test_forward_flops_of_a_two_input_model():
    """[a (3,), b (2,)] -> concat -> Dense(4): 2 x 5 x 4 multiply-adds plus 4 biases."""
    import keras

    a, b = keras.Input((3,)), keras.Input((2,))
    model = keras.Model([a, b], keras.layers.Dense(4)(keras.layers.Concatenate()([a, b])))
    assert 40 <= forward_flops(model) <= 44


def test_the_streaming_memory_benchmark_reads_every_view(tmp_path, monkeypatch):
    """``bench --stream N``: N fields on disk, 2 views each read in one epoch, peak memory reported stage by stage."""
    from halo_utils.bench import stream_memory

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    row = stream_memory(40, "smoke", steps=2)
    assert row["images"] == 80 and abs(row["disk_mb"] - 40 * 93 * 93 * 4 * 4 / 2**20) < 1e-9
    assert 0 < row["built_mb"] <= row["normalised_mb"] <= row["trained_mb"] <= row["epoch_mb"]


def test_the_largest_layer_of_I_is_its_first_convolution_as_a_matrix_product():
    """I's 24@5x5 convolution on 64x64x4 (60x60 outputs) has the most multiply-adds: (batch x 3,600, 100) x (100, 24)."""
    from halo_utils.bench import largest_layer

    _, m, k, n = largest_layer(build_classifier("I"), 128)
    assert (m, k, n) == (128 * 60 * 60, 5 * 5 * 4, 24)
