"""Benchmark: classifier training throughput on this machine, against its matmul speed.

Prints, for I, A and D (64x64x4 inputs, batch 128): training images/s with plain
TensorFlow and with XLA (``jit_compile``), the model's training FLOPs per image (3 x the
forward FLOPs counted by the TensorFlow profiler), the achieved GFLOP/s, and this
machine's float32 matmul GFLOP/s measured in the same process, with the ratio.
Optionally (``--run``) the wall time of one 05_classifier run in a given profile.

    python -m halo_utils.bench [--steps 20] [--run cpu]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

__all__ = ["matmul_gflops", "forward_flops", "train_throughput", "generative_speed", "main"]


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    """float32 matmul speed in GFLOP/s (2 n^3 per product), best of ``repeats``."""
    import tensorflow as tf

    a, b = tf.random.normal((n, n)), tf.random.normal((n, n))
    tf.matmul(a, b).numpy()  # warm-up
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        tf.matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


def forward_flops(model, batch: int = 1) -> float:
    """Forward-pass FLOPs per image, counted by the TensorFlow profiler on the model's graph."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec((batch, *model.input_shape[1:]), tf.float32)
    graph = convert_variables_to_constants_v2(tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops / batch


def train_throughput(name: str, jit_compile: bool, steps: int = 20, batch: int = 128, bands: int = 4) -> float:
    """Training images/s of classifier ``name`` on random data (after two warm-up steps)."""
    import keras

    from .models.classifiers import build_classifier

    keras.utils.set_random_seed(0)
    model = build_classifier(name, bands=bands)
    model.compile(optimizer="adam", loss="categorical_crossentropy", jit_compile=jit_compile)
    x = np.random.default_rng(0).random((batch, 64, 64, bands), dtype=np.float32)
    y = np.eye(2, dtype=np.float32)[np.arange(batch) % 2]
    for _ in range(2):
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch / (time.perf_counter() - start)


def generative_speed(profile: str = "cpu", bands: int = 1, steps: int = 10, batch: int = 8) -> dict:
    """Training steps/s of the DDPM and the WGAN-GP, and DDPM sampling images/s, ancestral vs DDIM, at one batch size.

    Random [-1, 1] images of 64x64xbands stand in for the data (speed does not depend on them).
    """
    from .generate.ddpm import DDPM, ddpm_config
    from .generate.wgan import WGAN, wgan_config

    images = np.random.default_rng(0).uniform(-1, 1, (64, 64, 64, bands)).astype(np.float32)
    out = {}
    ddpm = DDPM(ddpm_config(profile), images, seed=0)
    wgan = WGAN(wgan_config(profile), images, np.arange(64) % 8, seed=0)
    for name, model in (("ddpm", ddpm), ("wgan", wgan)):
        model._step()  # trace
        start = time.perf_counter()
        for _ in range(steps):
            model._step()
        out[f"{name}_train_steps_per_s"] = steps / (time.perf_counter() - start)
    ddpm.sample(batch, seed=0, sampler="ddim", steps=2, progress=False)  # trace the network for this batch size
    for sampler, n_steps in (("ddim", ddpm.config.ddim_steps), ("ancestral", ddpm.config.diffusion_steps)):
        start = time.perf_counter()
        ddpm.sample(batch, seed=0, sampler=sampler, steps=n_steps, progress=False)
        out[f"{sampler}_images_per_s"] = batch / (time.perf_counter() - start)
    out["ddim_speedup"] = out["ddim_images_per_s"] / out["ancestral_images_per_s"]
    return out


def _run_notebook(profile: str, model: str) -> float:
    """Wall time (s) of one 05_classifier run (strict protocol, seed 0) through papermill."""
    from . import paths
    from .detect.sweep import run_notebook

    out = paths.data_dir() / "runs" / "bench_05_classifier.ipynb"
    start = time.perf_counter()
    code = run_notebook(dict(profile=profile, model=model, run_name=f"bench_{model}_{profile}"), out)
    if code:
        raise RuntimeError(f"the benchmark run failed (exit {code}); see {out.with_suffix('.log')}")
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description="Classifier training throughput and matmul speed on this machine.")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per model")
    parser.add_argument("--models", nargs="+", default=["I", "A", "D"])
    parser.add_argument("--run", default=None, help="also time one 05_classifier run of model A in this profile")
    parser.add_argument("--generative", default=None, metavar="PROFILE",
                        help="instead: DDPM / WGAN training steps/s and DDIM vs ancestral sampling in this profile")
    args = parser.parse_args(argv)
    import tensorflow as tf

    from .models.classifiers import build_classifier

    if args.generative:
        from .generate.ddpm import ddpm_config

        cfg = ddpm_config(args.generative)
        speed = generative_speed(args.generative)
        print(f"{args.generative} profile, 64x64x1, batch {cfg.batch_size} (training) / 8 (sampling):")
        print(f"  DDPM training {speed['ddpm_train_steps_per_s']:.2f} steps/s, WGAN-GP {speed['wgan_train_steps_per_s']:.2f} "
              f"generator steps/s (each with its critic steps)")
        print(f"  sampling: DDIM {cfg.ddim_steps} steps {speed['ddim_images_per_s']:.2f} images/s, ancestral "
              f"{cfg.diffusion_steps} steps {speed['ancestral_images_per_s']:.3f} images/s: DDIM {speed['ddim_speedup']:.1f}x faster")
        return
    gflops = matmul_gflops()
    print(f"cores: {os.cpu_count()}, TensorFlow {tf.__version__}, intra-op threads "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}")
    print(f"matmul float32 (2048^2): {gflops:.1f} GFLOP/s")
    print(f"{'model':6} {'MFLOP/img (train)':>18} {'img/s plain':>12} {'img/s XLA':>10} {'GFLOP/s':>8} {'of matmul':>9}")
    for name in args.models:
        train_flops = 3 * forward_flops(build_classifier(name))
        plain = train_throughput(name, False, args.steps)
        xla = train_throughput(name, True, args.steps)
        achieved = max(plain, xla) * train_flops / 1e9
        print(f"{name:6} {train_flops / 1e6:18.1f} {plain:12.0f} {xla:10.0f} {achieved:8.1f} {achieved / gflops:9.1%}")
    if args.run:
        print(f"one 05_classifier run (model A, {args.run} profile, strict, seed 0): {_run_notebook(args.run, 'A'):.0f} s wall")


if __name__ == "__main__":
    main()
