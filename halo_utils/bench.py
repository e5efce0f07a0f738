"""Benchmark: classifier training throughput on this machine, against its matmul speed.

Prints, for I, A and D (64x64x4 inputs, batch 128): training images/s with plain
TensorFlow and with XLA (``jit_compile``), the model's training FLOPs per image (3 x the
forward FLOPs counted by the TensorFlow profiler), the achieved GFLOP/s, and this
machine's float32 matmul GFLOP/s (2048 x 2048) measured in the same process, with the ratio; then the
images/s of ``model.fit`` at the runs' batch of 32, and, as what limits each model, the speed of its largest layer
alone as the matrix product of its own shape.
Optionally (``--run``) the wall time of one 05_classifier run in a given profile.

    python -m halo_utils.bench [--steps 20] [--run cpu]
    python -m halo_utils.bench --stream 50000 --profile paper   # memory of training on streamed mock fields
"""

from __future__ import annotations

import os
import time

import numpy as np
from tqdm.auto import tqdm

from . import cli

__all__ = ["matmul_gflops", "gemm_gflops", "largest_layer", "forward_flops", "train_throughput", "fit_throughput", "generative_speed", "stream_memory", "GPU_TFLOPS", "gpu_estimate", "main"]


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    """float32 matmul speed in GFLOP/s (2 n^3 per product of two n x n matrices), best of ``repeats``."""
    return gemm_gflops(n, n, n, repeats)


def gemm_gflops(m: int, k: int, n: int, repeats: int = 10) -> float:
    """float32 speed (GFLOP/s) of one (m, k) x (k, n) matrix product, best of ``repeats``: the rate a layer of that
    shape can reach at best on this machine (a convolution is such a product over its output pixels)."""
    import tensorflow as tf

    a, b = tf.random.normal((m, k)), tf.random.normal((k, n))
    tf.matmul(a, b).numpy()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        tf.matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * m * k * n / best / 1e9


def largest_layer(model, batch: int) -> tuple:
    """(layer name, m, k, n) of the model's layer with the most multiply-adds, as the matrix product it amounts to:
    a Dense layer (batch, inputs) x (inputs, units); a convolution (batch x output pixels, kernel area x input
    channels) x (.., filters)."""
    import keras

    shapes = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, filters = layer.output.shape
            kh, kw = layer.kernel_size
            shapes.append((layer.name, batch * h * w, kh * kw * layer.input.shape[-1], filters))
        elif isinstance(layer, keras.layers.Dense):
            shapes.append((layer.name, batch, layer.input.shape[-1], layer.units))
    return max(shapes, key=lambda s: s[1] * s[2] * s[3])


def forward_flops(model, batch: int = 1) -> float:
    """Forward-pass FLOPs per image, counted by the TensorFlow profiler on the model's graph."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    specs = [tf.TensorSpec((batch, *i.shape[1:]), i.dtype) for i in model.inputs]
    call = (lambda *x: model(list(x), training=False)) if len(specs) > 1 else (lambda x: model(x, training=False))
    graph = convert_variables_to_constants_v2(tf.function(call).get_concrete_function(*specs)).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops / batch


def _random_task(name: str, images: int, bands: int, **compile_args):
    """Classifier ``name`` compiled with Adam (seed 0), with ``images`` random 64x64 inputs and alternating labels."""
    import keras

    from .models.classifiers import build_classifier

    keras.utils.set_random_seed(0)
    model = build_classifier(name, bands=bands)
    model.compile(optimizer="adam", loss="categorical_crossentropy", **compile_args)
    x = np.random.default_rng(0).random((images, 64, 64, bands), dtype=np.float32)
    y = np.eye(2, dtype=np.float32)[np.arange(images) % 2]
    return model, x, y


def train_throughput(name: str, jit_compile: bool, steps: int = 20, batch: int = 128, bands: int = 4) -> float:
    """Training images/s of classifier ``name`` on random data (after two warm-up steps)."""
    model, x, y = _random_task(name, batch, bands, jit_compile=jit_compile)
    for _ in range(2):
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch / (time.perf_counter() - start)


def fit_throughput(name: str, batch: int = 32, images: int = 1472, steps_per_execution: int = 1, bands: int = 4,
                   epochs: int = 5) -> float:
    """Training images/s of classifier ``name`` through ``model.fit`` as a run trains (``images`` random images, the
    ``cpu`` profile's 1,472 by default, fed batch by batch with class weights as :func:`~.detect.classify.train`
    feeds them, at ``batch``): the median of ``epochs`` timed epochs after a first epoch that traces. (One epoch is
    not enough: on two cores the same epoch of I in bfloat16 runs at either about 1,150 or 2,100 images/s.)"""
    from .detect.stream import stream_batches

    model, x, y = _random_task(name, images, bands, metrics=["accuracy"], steps_per_execution=steps_per_execution)
    data, order = dict(x=x, y=y, label=np.arange(images) % 2), np.arange(images)
    rates = []
    for _ in range(1 + epochs):
        start = time.perf_counter()
        model.fit(stream_batches(data, order, {0: 1.0, 1: 1.0}, batch), epochs=1, shuffle=False, verbose=0)
        rates.append(images / (time.perf_counter() - start))
    return float(np.median(rates[1:]))


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


GPU_TFLOPS = 4.0
"""Assumed achieved float32 speed of one GPU, TFLOP/s: a T4 (8.1 peak, Colab's usual GPU) at half its peak.
This machine's CPU reaches 60-68 % of its matmul speed with the convolutional classifiers (see the README)."""


def gpu_estimate(profile: str = "paper", tflops: float = GPU_TFLOPS) -> list:
    """Training (and sampling) FLOPs of each notebook in ``profile``, from the profiler's forward FLOPs of its
    networks (a training step = 3 x forward), and the hours they take at ``tflops``. Upper bounds where a run
    may stop early (the classifiers' epochs). Returns rows (notebook, what, PFLOP, hours)."""
    from .config import data_config
    from .detect.classify import train_config
    from .generate.ddpm import ddpm_config
    from .generate.folds import fold_settings
    from .generate.vae import vae_config
    from .generate.wgan import wgan_config
    from .models.classifiers import build_classifier
    from .models.unet import build_unet
    from .models.vae import build_decoder, build_encoder
    from .models.wgan import build_critic, build_generator

    rows = []
    data, train = data_config(profile), train_config(profile)
    sources = 46 * (train.folds - 1) / train.folds * (1 - train.val_fraction)  # training sources per fold
    for name in ("I", "A", "D"):
        per_image = 3 * forward_flops(build_classifier(name, size=data.cutout))
        flops = train.folds * train.repeats * train.epochs * sources * data.n_variants * per_image
        rows.append(("05_classifier", f"{name}, kfold {train.folds}x{train.repeats}, <= {train.epochs} epochs", flops))
    w = wgan_config(profile)
    gen = forward_flops(build_generator(latent=w.latent, labels=18, channels=w.generator_channels, widths=w.generator_widths))
    critic = forward_flops(build_critic(labels=18, widths=w.critic_widths))
    per_step = w.batch_size * (w.n_critic * (3 * critic * 2 + gen + 3 * critic) + 3 * (gen + critic))  # GP: +1 critic pass
    rows.append(("02_wgan", f"{w.train_steps} generator steps, {w.n_critic} critic steps each", w.train_steps * per_step))
    d = ddpm_config(profile)
    unet = forward_flops(build_unet(size=d.size or data.cutout, widths=d.widths, attention=d.attention, n_res=d.n_res,
                                    groups=d.groups))
    rows.append(("03_ddpm", f"{d.train_steps} steps, batch {d.batch_size}", d.train_steps * d.batch_size * 3 * unet))
    rows.append(("03_ddpm", f"{d.n_samples} ancestral samples, {d.diffusion_steps} steps", d.n_samples * d.diffusion_steps * unet))
    f = fold_settings("ddpm", profile)
    fold_unet = forward_flops(build_unet(size=f.size or data.cutout, widths=f.widths, attention=f.attention,
                                         n_res=f.n_res, groups=f.groups))
    halo_images = 23 * (train.folds - 1) / train.folds * (1 - train.val_fraction) * data.n_variants
    per_fold = f.train_steps * f.batch_size * 3 * fold_unet + halo_images * f.ddim_steps * fold_unet
    rows.append(("05_classifier", f"per-fold DDPMs for augment_with='ddpm': {train.folds} folds x 1 repeat (the "
                 f"sweep's --repeats 1), {f.train_steps} steps + a pool of {halo_images:.0f} DDIM-{f.ddim_steps} "
                 f"samples each", train.folds * per_fold))
    v = vae_config(profile)
    n_train = 550 - v.n_validation  # FRDEEP-F: 550 training galaxies
    for latent in (min(v.latent_sizes), max(v.latent_sizes)):
        vae = forward_flops(build_encoder(size=v.size, latent=latent, widths=v.widths)) + \
            forward_flops(build_decoder(size=v.size, latent=latent, widths=v.widths))
        epochs = len(v.learning_rates) * v.search_epochs + v.epochs
        rows.append(("07_vae", f"one VAE, d = {latent}: {len(v.learning_rates)} rates x {v.search_epochs:g} + {v.epochs:g} epochs",
                     epochs * n_train * 3 * vae))
    return [(nb, what, flops / 1e15, flops / (tflops * 1e12) / 3600) for nb, what, flops in rows]


def stream_memory(n_fields: int, profile: str = "cpu", steps: int = 100, per_field: int = 2) -> dict:
    """Peak resident memory (MB) of training on ``n_fields`` mock fields streamed from disk, stage by stage: after
    building (or finding) the fields, after fitting the normaliser, after ``steps`` training steps of model I, and
    after reading every training batch of one epoch; with the fields' size on disk, the seconds building (or
    finding) them took and the seconds that epoch's reading took. The command line adds the row to
    ``docs/results/stream_memory.csv``. The same functions as ``train_on_mock`` (clipped like the published, seed 0)."""
    from .config import data_config
    from .detect import classify, mocktrain
    from .detect.stream import stream_batches
    from .models.classifiers import build_classifier
    from .prep import mockset

    settings, training = data_config(profile), classify.train_config(profile)
    start = time.perf_counter()
    mocks = mockset.build(n_fields, 0, settings, mockset.mock_sky_config(settings, clipped=True))
    out = dict(n_fields=n_fields, steps=steps, disk_mb=mocks.fields.nbytes / 2**20, build_s=time.perf_counter() - start,
               built_mb=mocktrain.peak_rss_mb())
    views = mockset.Views(mocks.fields, per_field, 0)
    data = mocktrain.streamed(mocks, views, mocktrain.normaliser(views, mocks.rms, settings))
    out["normalised_mb"] = mocktrain.peak_rss_mb()
    order = np.random.default_rng(0).permutation(len(data["label"]))
    batches = stream_batches(data, order, classify.class_weights(data["label"]), training.batch_size)
    net = build_classifier("I", size=settings.cutout, bands=4)
    net.compile(optimizer="adam", loss="categorical_crossentropy")
    net.fit(batches.take(steps), epochs=1, shuffle=False, verbose=0)
    out["trained_mb"] = mocktrain.peak_rss_mb()
    start = time.perf_counter()
    for _ in tqdm(batches, total=len(batches), desc="one epoch of batches"):
        pass
    return dict(out, epoch_read_s=time.perf_counter() - start, images=len(order), epoch_mb=mocktrain.peak_rss_mb())


def _record(row: dict, keys: tuple, name: str):
    """Add ``row`` to ``docs/results/<name>`` (CSV), replacing an earlier row with the same ``keys``."""
    import pandas as pd

    from . import paths

    path = paths.docs_results(name)
    table = pd.DataFrame([row])
    if path.exists():
        before = pd.read_csv(path)
        same = np.logical_and.reduce([before[k].astype(str) == str(row[k]) for k in keys])
        table = pd.concat([before[~same], table], ignore_index=True)
    paths.atomic_write(path, lambda tmp: table.round(1).sort_values(list(keys)).to_csv(tmp, index=False))


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
    parser = cli.parser(__spec__.name, "Classifier training throughput and matmul speed on this machine.\n\n" + (__doc__ or ""))
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per model")
    parser.add_argument("--models", nargs="+", default=["I", "A", "D"], help="the networks to time (default I A D)")
    parser.add_argument("--precision", default="float32", help="Keras dtype policy of the models (e.g. mixed_bfloat16; "
                        "halo_utils.config.PRECISIONS); the matmul rate they are set against stays float32's")
    parser.add_argument("--run", default=None, help="also time one 05_classifier run of model A in this profile")
    parser.add_argument("--gpu-estimate", default=None, metavar="PROFILE",
                        help="instead: each notebook's training FLOPs in this profile and its hours on one GPU")
    parser.add_argument("--stream", type=int, default=None, metavar="N",
                        help="instead: peak memory of training on N mock fields streamed from disk (--profile's sky)")
    parser.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "paper"], help="the mock sky of --stream (default cpu)")
    parser.add_argument("--generative", default=None, metavar="PROFILE",
                        help="instead: DDPM / WGAN training steps/s and DDIM vs ancestral sampling in this profile")
    args = parser.parse_args(argv)
    import tensorflow as tf

    from .models.classifiers import build_classifier

    if args.gpu_estimate:
        rows = gpu_estimate(args.gpu_estimate)
        print(f"Made by `python -m halo_utils.bench --gpu-estimate {args.gpu_estimate}`: training FLOPs from the TensorFlow "
              f"profiler's forward FLOPs (x 3 per training image), at an assumed {GPU_TFLOPS:g} TFLOP/s achieved on one "
              "GPU (a T4 at half its float32 peak). Small networks reach far less than that on a GPU, so read the "
              "classifier rows as lower bounds.\n")
        print(f"| notebook | what ({args.gpu_estimate} profile) | PFLOP | GPU hours |\n|---|---|---|---|")
        for notebook, what, pflop, hours in rows:
            print(f"| {notebook} | {what} | {pflop:.2f} | {hours:.2f} |")
        return
    if args.stream:
        row = dict(profile=args.profile, **stream_memory(args.stream, args.profile))
        print(f"{row['n_fields']} mock fields ({row['disk_mb']:.0f} MB on disk, built or found in {row['build_s']:.0f} s), "
              f"{row['images']} training views; peak resident memory: {row['built_mb']:.0f} MB built, "
              f"{row['normalised_mb']:.0f} MB normaliser fitted, {row['trained_mb']:.0f} MB after {row['steps']} training "
              f"steps of I, {row['epoch_mb']:.0f} MB after reading one epoch of batches ({row['epoch_read_s']:.0f} s)")
        _record(row, ("profile", "n_fields"), "stream_memory.csv")
        return
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
    from .config import use_precision

    policy = use_precision(args.precision)
    gflops = matmul_gflops()
    print(f"cores: {os.cpu_count()}, TensorFlow {tf.__version__}, intra-op threads "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}, models in {policy}")
    print(f"matmul float32 (2048^2): {gflops:.1f} GFLOP/s")
    print(f"{'model':6} {'MFLOP/img (train)':>18} {'img/s plain':>12} {'img/s XLA':>10} {'GFLOP/s':>8} {'of matmul':>9}"
          f" {'fit, batch 32':>14} {'of matmul':>9}")
    limits = []
    for name in args.models:
        model = build_classifier(name)
        train_flops = 3 * forward_flops(model)
        plain = train_throughput(name, False, args.steps)
        xla = train_throughput(name, True, args.steps)
        fit = fit_throughput(name, batch=32)
        achieved = max(plain, xla) * train_flops / 1e9
        print(f"{name:6} {train_flops / 1e6:18.1f} {plain:12.0f} {xla:10.0f} {achieved:8.1f} {achieved / gflops:9.1%}"
              f" {fit:14.0f} {fit * train_flops / 1e9 / gflops:9.1%}")
        layer, m, k, n = largest_layer(model, 128)
        limits.append((name, layer, m, k, n, gemm_gflops(m, k, n)))
    print("What stops them: each model's largest layer as the matrix product it amounts to (batch 128), alone:")
    for name, layer, m, k, n, rate in limits:
        print(f"  {name}: {layer} = ({m} x {k}) x ({k} x {n}): {rate:.1f} GFLOP/s, {rate / gflops:.1%} of the square matmul")
    if args.run:
        print(f"one 05_classifier run (model A, {args.run} profile, strict, seed 0): {_run_notebook(args.run, 'A'):.0f} s wall")


if __name__ == "__main__":
    main()
