"""DDIM against ancestral sampling of one trained DDPM, judged on halos it never saw.

The per-fold DDPM of one fold (:mod:`halo_utils.generate.folds`) draws the same number of images with
each sampler variant; each set is judged against the fold's held-out halos (validation and test
sources) by the domain judge (classifier I trained on the fold's training sources): domain KID with
its spread over subsets, domain FID, the pixel-histogram error, and the share of each image's pixels
above the empty sky (the "mottled floor").

    python -m halo_utils.studies.samplers --profile cpu --n 128

writes ``docs/results/samplers_<profile>.md``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import cli, paths
from ..generate.ddpm import DDPM
from ..generate.folds import clip_like_data, fold_pool, fold_settings
from ..generate.generated import band_normaliser
from ..judge.quality import domain_judge, held_out_halos, judge
from ..prep.dataset import build_dataset, training_halos
from . import report

__all__ = ["VARIANTS", "SKY", "above_sky", "compare", "main"]

VARIANTS = {
    "ancestral, 1000 steps": dict(sampler="ancestral"),
    "DDIM, 50 steps": dict(sampler="ddim", steps=50),
    "DDIM, 50 steps, x̂0 clipped to [-1, 1] (before)": dict(sampler="ddim", steps=50, clip=(-1.0, 1.0)),
    "DDIM, 50 steps, η = 0.5": dict(sampler="ddim", steps=50, eta=0.5),
    "DDIM, 50 steps, η = 1": dict(sampler="ddim", steps=50, eta=1.0),
    "DDIM, 25 steps, η = 1": dict(sampler="ddim", steps=25, eta=1.0),
    "DDIM, 100 steps": dict(sampler="ddim", steps=100),
}
"""Sampler variants compared: name -> sampler, steps, eta and the range x̂_0 is clipped to (z scale)."""

SKY = -0.99
"""Log-scaled value ([-1, 1]) above which a pixel is not empty sky."""


def above_sky(images: np.ndarray) -> np.ndarray:
    """Per image, the share of pixels (all bands) above :data:`SKY`: (n,)."""
    return (images > SKY).reshape(len(images), -1).mean(axis=1)


def compare(model: DDPM, variants: dict, n: int, seed: int, real: np.ndarray, classifier, clip=None) -> list:
    """One row per variant: seconds per image, domain KID/FID, histogram error, share of pixels above the sky.

    ``real`` (m, 64, 64, B) in [-1, 1]: held-out halo cut-outs; ``classifier``: the domain judge; ``clip``:
    images -> images as the pipeline clips them (:func:`halo_utils.generate.folds.clip_like_data` on the log
    scale), for the share above the sky of what a classifier is given.
    """
    rows = [dict(variant="held-out real halos", n=len(real), above_sky_median=float(np.median(above_sky(real))),
                 above_sky_p90=float(np.percentile(above_sky(real), 90)))]
    default = model.diffusion.clip
    for name, v in variants.items():
        model.diffusion.clip = v.get("clip", default)
        model.sample(n, seed, "ddim", 1, progress=False)  # trace the network for this batch (one call)
        start = time.perf_counter()
        images = model.sample(n, seed, v["sampler"], v.get("steps"), eta=v.get("eta", 0.0))
        seconds = (time.perf_counter() - start) / n
        model.diffusion.clip = default
        q = judge(real, images, classifier, seed=seed, inception=False)
        share = above_sky(images)
        rows.append(dict(variant=name, n=n, seconds_per_image=seconds, domain_kid=q["domain_kid_mean"],
                         domain_kid_std=q["domain_kid_std"], domain_fid=q["domain_fid"],
                         hist_rel_error=float(np.mean(q["hist_rel_error"])), ramis=q["ramis"],
                         above_sky_median=float(np.median(share)), above_sky_p90=float(np.percentile(share, 90)),
                         clipped_above_sky_median=float(np.median(above_sky(clip(images)))) if clip else np.nan))
    return rows


def _markdown(rows: list, command: str, about: str) -> str:
    ancestral = next(r["seconds_per_image"] for r in rows if r["variant"].startswith("ancestral"))
    head = ["variant", "n", "s per image", "speed-up", "domain KID ×100 (± std)", "domain FID",
            "histogram error", "RAMIS", "pixels above the sky: median, 90th pct", "after the clip: median"]
    lines = [f"Made by `{command}`: {about}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        if "domain_kid" not in r:
            lines.append(f"| {r['variant']} | {r['n']} | | | | | | | {r['above_sky_median']:.3f}, "
                         f"{r['above_sky_p90']:.3f} | |")
            continue
        lines.append(f"| {r['variant']} | {r['n']} | {r['seconds_per_image']:.3f} | "
                     f"{ancestral / r['seconds_per_image']:.1f}× | {100 * r['domain_kid']:.2f} ± "
                     f"{100 * r['domain_kid_std']:.2f} | {r['domain_fid']:.2f} | {r['hist_rel_error']:.2f} | "
                     f"{r['ramis']:.3f} | {r['above_sky_median']:.3f}, {r['above_sky_p90']:.3f} | "
                     f"{r['clipped_above_sky_median']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Compare the samplers on the per-fold DDPM of fold 0 (folds of ``--plan-seed``) and write the table."""
    import sys

    from .. import config, data
    from ..detect import classify, crossval
    from ..generate.extend import generator_root

    parser = cli.parser(__spec__.name, __doc__)
    parser.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "paper"], help="default cpu")
    parser.add_argument("--plan-seed", type=int, default=0, help="the fold plan whose first fold's DDPM is sampled (default 0)")
    parser.add_argument("--repeats", type=int, default=1, help="k-fold repeats of that plan (default 1)")
    parser.add_argument("--n", type=int, default=128, help="images per variant")
    parser.add_argument("--gleam-dir", default=None, help="the published images (default $HALO_GLEAM_DIR)")
    args = parser.parse_args(argv)
    settings = config.data_config(args.profile)
    training = classify.train_config(args.profile, plan_seed=args.plan_seed, repeats=args.repeats)
    sources = data.read_dataset(paths.gleam_dir(args.gleam_dir))
    fold = crossval.kfold_plan(sources, settings, training.folds, training.repeats, args.plan_seed,
                               training.val_fraction)[0]
    root = generator_root(args.profile)
    pool = fold_pool("ddpm", sources, fold["split"], settings, training.bands, args.profile, args.plan_seed, root)
    ds = build_dataset(sources, settings, seed=args.plan_seed, split=fold["split"])
    model = DDPM(fold_settings("ddpm", args.profile), training_halos(ds, training.bands)[0], args.plan_seed)
    model.train(Path(root) / f"ddpm_{pool['meta']['key']}" / "train")  # restores the finished run
    classifier, _ = domain_judge(ds, training.bands, args.profile, args.plan_seed,
                                 Path(root) / f"ddpm_{pool['meta']['key']}" / "judge")
    scale = band_normaliser(ds.log, training.bands)
    clip = lambda x: scale.transform(clip_like_data(scale.inverse(x), scale.to_dict(), settings))  # noqa: E731
    rows = compare(model, VARIANTS, args.n, args.plan_seed, held_out_halos(ds, training.bands), classifier, clip)
    command = "python -m halo_utils.studies.samplers " + " ".join(argv if argv is not None else sys.argv[1:])
    about = (f"the per-fold DDPM of fold 0 (folds of seed {args.plan_seed}; it learnt {len(pool['meta']['halos'])} "
             f"training halos, {pool['meta']['n_real']} images), every variant from the same network and seed, "
             f"judged against the fold's held-out halos by classifier I trained on the fold's training sources.")
    text = _markdown(rows, command, about)
    report.write(f"samplers_{args.profile}.md", text)


if __name__ == "__main__":
    main()
