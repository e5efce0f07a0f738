"""What the settings change: the network and the hand-feature forest under ``kfold`` for named variants of the
settings, one seed each, appended to ``docs/results/settings_<profile>.{csv,md}``.

    python -m halo_utils.studies.settings --model I --seed 0 --variant default: --variant px05:pixel_arcmin=0.5
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import cli, paths
from ..config import data_config
from ..data.images import read_dataset
from ..detect.classify import TrainConfig, deterministic, train_config
from ..detect.crossval import run
from . import report

__all__ = ["compare", "main"]


def compare(sources, variants: dict, model: str, profile: str, seed: int, workdir):
    """The network and the baseline under ``kfold`` for each named variant of the settings (one seed, no permutations).

    ``variants`` maps a name to a dict of :class:`~halo_utils.config.DataConfig` and
    :class:`~halo_utils.detect.classify.TrainConfig` overrides (e.g. ``{"pixel_arcmin": 0.5}``); the
    folds of a variant follow from its own settings. Fold models train in ``workdir/exp_<model>_<name>``.
    """
    import dataclasses

    import pandas as pd

    train_keys = {f.name for f in dataclasses.fields(TrainConfig)}
    rows = []
    for name, overrides in variants.items():
        settings = data_config(profile, **{k: v for k, v in overrides.items() if k not in train_keys})
        training = train_config(profile, baseline_permutations=0, **{k: v for k, v in overrides.items() if k in train_keys})
        deterministic(seed)
        out = run(sources, model, settings, training, seed, f"{workdir}/exp_{model}_{name}", progress=False)
        net, base = out["network"], out["baseline"]
        rows.append(dict(variant=name, overrides=str(overrides), model=model, seed=seed, auc=net["oof_source_auc"],
                         auc_lo=net["oof_source_auc_ci"][0], auc_hi=net["oof_source_auc_ci"][1],
                         train_accuracy=float(np.mean([f["train_accuracy"] for f in out["fits"]])),
                         kept_epochs=" ".join(str(f["best_epoch"]) for f in out["fits"]),
                         baseline_auc=base["oof_source_auc"], baseline_lo=base["oof_source_auc_ci"][0],
                         baseline_hi=base["oof_source_auc_ci"][1]))
    return pd.DataFrame(rows)


def _markdown(table) -> str:
    """A DataFrame as a Markdown table (no index)."""
    rows = [list(table.columns)] + table.astype(str).values.tolist()
    lines = ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join([lines[0], "|" + "---|" * len(table.columns), *lines[1:]]) + "\n"


def _parse_variant(text: str) -> tuple:
    """'name:key=value,key=value' -> (name, {key: value}) with values read as Python literals."""
    import ast

    name, _, rest = text.partition(":")
    pairs = [p.split("=", 1) for p in rest.split(",") if p]
    return name, {k: ast.literal_eval(v) for k, v in pairs}


def main(argv=None):
    """``python -m halo_utils.studies.settings --model I --seed 0 --variant default: --variant px05:pixel_arcmin=0.5``:
    compare settings under ``kfold``, append to ``docs/results/settings_<profile>.{csv,md}``."""
    import sys

    import pandas as pd

    parser = cli.parser(__spec__.name, main.__doc__)
    parser.add_argument("--model", default="I", choices=["I", "A", "D"], help="the network (default I)")
    parser.add_argument("--seed", type=int, default=0, help="the seed of every variant (default 0)")
    parser.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "paper"], help="default cpu")
    parser.add_argument("--gleam-dir", default=None, help="the published images (default $HALO_GLEAM_DIR)")
    parser.add_argument("--variant", action="append", required=True, help="a variant of the settings, name:key=value,... (DataConfig or TrainConfig fields); repeat for several")
    args = parser.parse_args(argv)
    sources = read_dataset(paths.gleam_dir(args.gleam_dir))
    table = compare(sources, dict(_parse_variant(v) for v in args.variant), args.model, args.profile, args.seed,
                    paths.data_dir() / "models" / "05_classifier")
    table["command"] = "python -m halo_utils.studies.settings " + " ".join(argv if argv is not None else sys.argv[1:])
    base = report.path(f"settings_{args.profile}")
    old = pd.read_csv(base.with_suffix(".csv")) if base.with_suffix(".csv").exists() else None
    key = ["variant", "model", "seed"]
    if old is not None:
        table = pd.concat([old.set_index(key).drop(table.set_index(key).index, errors="ignore").reset_index(), table])
    table = table.sort_values(key).reset_index(drop=True)
    paths.atomic_write(base.with_suffix(".csv"), lambda tmp: table.to_csv(tmp, index=False))
    paths.atomic_write(base.with_suffix(".md"), lambda tmp: Path(tmp).write_text(_markdown(table.round(3))))
    print(table.round(3).to_string())



if __name__ == "__main__":
    main()
