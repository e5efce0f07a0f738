"""One classifier run of notebook 05, whatever its protocol and training source: what the notebook, the search's
detector building and the sweeps call.

    run = setup(model="I", protocol="kfold", seed=0, profile="cpu")   # settings, run name, sources, hooks
    cv = cross_validate(run)                                           # train_on 'gleam' / 'mock+gleam', kfold
    paths.write_summary("05_classifier", run.name, summary(run, cv=cv))

The branches: :func:`mock_detector` (``train_on`` 'mock' / 'mock+gleam': a detector of mock fields first),
:func:`real_sky` ('injected', 'injected+gleam'), :func:`cross_validate` ('gleam', 'mock+gleam' under ``kfold``),
:func:`single_split` (protocols 'strict' and 'paper'). :func:`summary` is the JSON every run writes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .. import config, paths
from ..data.images import read_dataset
from ..prep import dataset, splits
from . import artefact, classify, crossval, mocktrain, realsky, realsky_measure

__all__ = ["Run", "setup", "mock_detector", "real_sky", "cross_validate", "headline", "single_split", "split_headline",
           "summary"]

MOCK_AXES = {k: mocktrain.COMPLETENESS_AXES[k] for k in ("peak_snr", "halo_flux_150", "halo_re_arcmin", "z")}
"""The completeness axes shown for a mock-sky detector, with their labels."""
REAL_AXES = {"peak_snr": "halo peak S/N per beam, 139-170 MHz", "flux_150": "halo flux density, 150 MHz (Jy)",
             "re_arcmin": "halo e-folding radius (arcmin)"}
"""The completeness axes shown for the real-sky detector."""


@dataclasses.dataclass
class Run:
    """What one run of notebook 05 is: its parameters, settings, name, folder, dataset and generated-halo hook."""

    model: str
    protocol: str
    train_on: str
    profile: str
    seed: int
    source: str
    settings: config.DataConfig
    training: classify.TrainConfig
    name: str
    workdir: Path
    root: Path
    sources: list
    extend: object = None
    options: dict = dataclasses.field(default_factory=dict)

    @property
    def labels(self) -> dict:
        return {s.name: s.label for s in self.sources}

    def __str__(self) -> str:
        s = self.settings
        return (f"{self.sources.report()}\nrun {self.name}: {self.training}\n"
                f"cut-out {s.cutout} px of {s.pixel_arcmin}' = {s.cutout_arcmin}' in every band; "
                f"clip {s.clip_sigma} sigma, cap {s.cap_sigma}")


def setup(seed: int = 0, profile: str | None = None, source: str = "gleam", model: str = "A", protocol: str = "kfold",
          train_on: str = "gleam", mock_clipped: bool = False, mock_sky: dict | str | None = None,
          clip_sigma: float | None = 4.0, subtract_compact: bool = False, augment_with: str = "none",
          generated_per_real: float = 1.0, training_overrides: dict | str | None = None, permutations: int = 0,
          baseline_permutations: int | None = None, devices=None, precision: str = "float32", gleam_dir=None,
          on_error: str = "raise", run_name: str | None = None, extender=None, progress: bool = True) -> Run:
    """The run the parameters describe (notebook 05's parameters, same names): settings, run name, folder, the
    dataset read, the generated-halo hook (made by ``extender``, :func:`halo_utils.generate.extend.extender`, when
    ``augment_with`` is not 'none'); combinations that are not measured are refused here, before anything trains."""
    profile = config.default_profile(profile)
    precision = config.use_precision(precision)  # the Keras dtype policy of every model built from here on
    overrides = config.as_mapping(training_overrides or {}, "training_overrides")
    sky = config.as_mapping(mock_sky or {}, "mock_sky")
    if train_on != "gleam" and protocol != "kfold":
        raise ValueError(f"train_on={train_on!r} is measured under protocol 'kfold' only, not {protocol!r}")
    if augment_with != "none" and train_on not in ("gleam", "mock+gleam"):
        raise ValueError(f"augment_with={augment_with!r} is measured with train_on 'gleam' and 'mock+gleam' only, "
                         f"not {train_on!r}")
    if augment_with != "none" and extender is None:
        raise ValueError("augment_with needs the extender (halo_utils.generate.extend.extender)")
    settings = config.data_config(profile, clip_sigma=clip_sigma, subtract_compact=subtract_compact)
    extra = {} if baseline_permutations is None else dict(baseline_permutations=baseline_permutations)
    training = classify.train_config(profile, **overrides, **extra)  # the forest's null is not in the run name
    name = run_name or config.run_name(profile, seed, source, classify.run_tag(
        model, protocol, train_on, clip_sigma, mock_clipped, augment_with, generated_per_real, overrides, sky,
        subtract_compact, precision))
    classify.deterministic(seed)
    root = dataset.dataset_root(source, gleam_dir, seed)
    sources = read_dataset(root, on_error=on_error)
    hook = None if augment_with == "none" else extender(augment_with, generated_per_real, sources, settings, training,
                                                         profile, crossval.plan_seed(training, seed), seed,
                                                         progress=progress)
    options = dict(mock_clipped=mock_clipped, mock_sky=sky, augment_with=augment_with,
                   generated_per_real=generated_per_real, training_overrides=overrides,
                   subtract_compact=subtract_compact, permutations=permutations, devices=devices,
                   dtype_policy=precision)
    return Run(model, protocol, train_on, profile, seed, source, settings, training, name,
               paths.data_dir() / "models" / "05_classifier" / name, Path(root), sources, hook, options)


def mock_detector(run: Run) -> dict | None:
    """``train_on`` 'mock' / 'mock+gleam': the detector of the run's mock fields (:func:`halo_utils.detect.mocktrain.
    train_on_mock`, cached by its own name); None for other runs."""
    if run.train_on not in ("mock", "mock+gleam"):
        return None
    o = run.options
    tag = mocktrain.run_tag(run.model, o["mock_clipped"], run.settings.clip_sigma, o["mock_sky"],
                            o["training_overrides"])
    folder = paths.data_dir() / "models" / "mock_detector" / config.run_name(run.profile, run.seed, tag=tag)
    return mocktrain.train_on_mock(run.model, run.settings, run.training, run.training.mock_fields, run.seed, folder,
                                   clipped=o["mock_clipped"], sky=o["mock_sky"])


def real_sky(run: Run) -> dict | None:
    """``train_on`` 'injected' / 'injected+gleam': :func:`halo_utils.detect.realsky.run` with its ``summary`` and
    ``limits`` (the upper-limit table, also written to ``data/results/05_classifier/<run>_limits.csv``, its path in
    ``limits_path``); None for other runs."""
    if not run.train_on.startswith("injected"):
        return None
    result = realsky.run(run.sources, run.model, run.settings, run.training, run.seed, run.workdir, run.root,
                         tune=run.train_on == "injected+gleam")
    table = realsky_measure.limits_table(result)
    where = paths.results_dir("05_classifier") / f"{run.name}_limits.csv"
    paths.atomic_write(where, lambda tmp: table.to_csv(tmp, index=False))
    return dict(result, summary=realsky_measure.summary(result), limits=table, limits_path=where)


def cross_validate(run: Run, mock: dict | None = None) -> dict | None:
    """``kfold`` with ``train_on`` 'gleam' or 'mock+gleam' (starting from ``mock``'s weights):
    :func:`halo_utils.detect.crossval.run` and the detector it saves (``detector``: the folder); None for other runs."""
    if run.protocol != "kfold" or run.train_on not in ("gleam", "mock+gleam"):
        return None
    cv = crossval.run(run.sources, run.model, run.settings, run.training, run.seed, run.workdir,
                      permutations=run.options["permutations"], devices=run.options["devices"],
                      init_weights=mock["member_weights"] if run.train_on == "mock+gleam" else None, extend=run.extend)
    detector = artefact.save(run.workdir / "detector", run.workdir, run.model, run.settings, run.training, cv["scores"],
                             run.seed, run.labels, artefact.sources_fingerprint(run.sources), source=run.source)
    return dict(cv, detector=detector)


def headline(cv: dict, model: str):
    """The network beside the hand-feature forest: out-of-fold AUC with its interval, accuracy, recall at 10 % false
    positives, the permutation p-value and the training accuracy (a pandas table)."""
    import numpy as np
    import pandas as pd

    keys = ["oof_source_auc", "oof_source_auc_ci", "oof_source_accuracy", "recall_at_fpr10", "p_value"]
    table = pd.DataFrame({model: {k: cv["network"][k] for k in keys},
                          "baseline (random forest)": {k: cv["baseline"][k] for k in keys}})
    table.loc["train_accuracy"] = [float(np.mean([f["train_accuracy"] for f in cv["fits"]])), None]
    return table


def split_headline(result: dict):
    """Per image, per image without the paper protocol's empty cut-outs, and per source: accuracy, precision,
    recall, F1, ROC AUC and counts of :func:`halo_utils.detect.classify.evaluate_run` (a pandas table)."""
    import pandas as pd

    return pd.DataFrame({"per image": result["image"], "per image, real cut-outs only": result["image_real"],
                         "per source": result["source"]}).loc[["accuracy", "precision", "recall", "f1", "roc_auc", "n"]]


def single_split(run: Run) -> dict | None:
    """Protocols 'strict' and 'paper': split by source, then augment; one network trained and evaluated per image and
    per source (:func:`halo_utils.detect.classify.evaluate_run`); None under ``kfold``."""
    if run.protocol == "kfold":
        return None
    from ..models.classifiers import build_classifier

    split, empty_cutouts = splits.protocol_split(run.sources, run.protocol, run.seed, run.training.val_fraction)
    ds = dataset.build_dataset(run.sources, run.settings, seed=run.seed, split=split, empty_cutouts=empty_cutouts)
    validation = "val" if run.protocol == "strict" else "test"  # 'paper': the checkpoint is chosen on the test set
    train, val, test = (classify.model_inputs(ds, part, run.training.bands, run.training.scaling)
                        for part in ("train", validation, "test"))
    generated = None
    if run.extend is not None:
        train, generated = run.extend(ds, dict(split=split, repeat=0, fold=0), train)
    with classify.distribution(run.options["devices"]).scope():
        net = build_classifier(run.model, size=run.settings.cutout, bands=len(run.training.bands))
        fit = classify.train(net, run.training, train, val, run.workdir, seed=run.seed)
    return dict(split=split, validation=validation, generated=generated, sizes=ds.sizes(), fit=fit,
                sources_by_split=splits.source_counts(split, run.labels),
                n_params=sum(int(w.numpy().size) for w in net.trainable_weights),
                result=classify.evaluate_run(net, test))


def summary(run: Run, mock: dict | None = None, sky: dict | None = None, cv: dict | None = None,
            split: dict | None = None, **extra) -> dict:
    """The JSON of a run: its parameters and settings, then the figures of the branch that ran (``extra``: more
    entries, e.g. the mock-sky study's)."""
    import numpy as np

    common = dict(model=run.model, protocol=run.protocol, train_on=run.train_on, profile=run.profile, seed=run.seed,
                  source=run.source, skipped_sources=run.sources.skipped, quality_flags=run.sources.flagged(),
                  data_config=run.settings.to_dict(), train_config=run.training.to_dict(),
                  mock=None if mock is None else mocktrain.summary(mock), **run.options, **extra)
    if sky is not None:
        return dict(common, folds=sky["plan"], scores=sky["scores"].to_dict("records"),
                    upper_limits=str(sky["limits_path"]), **sky["summary"])
    if cv is not None:
        net = cv["network"]
        return dict(common, folds=cv["plan"], detector=str(cv["detector"]), oof_source_auc=net["oof_source_auc"],
                    oof_source_auc_ci=net["oof_source_auc_ci"], oof_source_accuracy=net["oof_source_accuracy"],
                    recall_at_fpr10=net["recall_at_fpr10"],
                    train_accuracy=float(np.mean([f["train_accuracy"] for f in cv["fits"]])), network=net,
                    baseline=cv["baseline"], fits=cv["fits"], scores=cv["scores"].to_dict("records"),
                    baseline_scores=cv["baseline_scores"].to_dict("records"),
                    train_seconds=float(sum(f["train_seconds"] for f in cv["fits"])))
    if split is not None:
        fit, result = split["fit"], split["result"]
        return dict(common, n_params=split["n_params"],
                    **{k: result["image"][k] for k in ("accuracy", "precision", "recall", "f1", "roc_auc")},
                    train_seconds=fit["train_seconds"], epochs_run=fit["epochs_run"], best_epoch=fit["best_epoch"],
                    image=result["image"], image_real=result["image_real"], per_source=result["source"],
                    source_accuracy_ci=result["source_accuracy_ci"], history=fit["history"],
                    scores=result["scores"].reset_index().to_dict("records"), sizes=split["sizes"],
                    sources_by_split=split["sources_by_split"], validation=split["validation"],
                    generated=split["generated"])
    return common
