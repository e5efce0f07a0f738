"""Train on synthetic, test on real (TSTR): a generator is as good as the detector it teaches.

    result = tstr(sources, "I", settings, training, "ddpm", profile, seed, workdir)
    result["difference"]   # TSTR minus the real-only twin on the same folds
"""

from __future__ import annotations

from ..detect import crossval
from ..detect.oof import paired_auc_difference, pooled_metrics
from ..generate.extend import extender

__all__ = ["tstr"]


def tstr(sources, model: str, config, training, kind: str, profile: str, seed: int, workdir, generator_seed: int = 0,
         progress: bool = True) -> dict:
    """Train on synthetic, test on real: the classifier learns generated halos + real non-halos, per fold.

    The same folds (``training.plan_seed``, else ``seed``) also train the real-only twin (TRTR), so the
    two out-of-fold AUCs are paired.

    Returns
    -------
    dict with ``tstr`` and ``trtr`` (:func:`halo_utils.detect.oof.pooled_metrics`), ``difference``
    (:func:`halo_utils.detect.oof.paired_auc_difference`, TSTR minus TRTR) and ``generated`` (per-fold counts)
    """
    plan = crossval.kfold_plan(sources, config, training.folds, training.repeats, crossval.plan_seed(training, seed),
                               training.val_fraction)
    hook = extender(kind, 1.0, sources, config, training, profile, generator_seed, seed, replace=True,
                    progress=progress)
    synthetic, fits = crossval.fit_kfold(sources, model, config, training, plan, seed, f"{workdir}/tstr_{kind}",
                                         progress=progress, extend=hook)
    real, _ = crossval.fit_kfold(sources, model, config, training, plan, seed, f"{workdir}/trtr", progress=progress)
    return dict(tstr=pooled_metrics(synthetic, seed=seed), trtr=pooled_metrics(real, seed=seed),
                difference=paired_auc_difference([(synthetic, real)]), generated=[f["extended"] for f in fits])
