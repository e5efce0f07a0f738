"""The mock-sky detector on real skies (``train_on='mock'`` of notebook 05): the real clusters, none of them seen;
halos injected into the real clusters without one; the labelled halos beside mock halos that look as bright.

    study = mockonly.measure(run, mock)   # run: halo_utils.detect.runs.setup(...); mock: runs.mock_detector(run)
"""

from __future__ import annotations

from .. import paths
from ..detect import artefact, mocktrain
from ..prep.noise import noise_table
from ..search.run import labelled
from . import brightness, injection, kinds

__all__ = ["measure"]


def measure(run, mock: dict, per_host: int | None = None) -> dict:
    """``real`` (the real clusters scored, with ``label``), ``transfer`` (their summary), ``injected`` and its
    ``completeness`` table, ``side_by_side`` (labelled and mock halos per bin of central peak S/N) and ``summary``
    (the run's JSON entries: transfer, real_scores, injection, brightness)."""
    detector, threshold = artefact.load(mock["detector"]), mock["threshold"]["threshold"]
    real, transfer = labelled(detector, run.root, paths.results_dir("05_classifier") / run.name)
    injected = injection.injections(detector, run.root, per_host or injection.PER_HOST[run.profile], run.seed)
    observed = brightness.real_observed(run.sources, run.settings, noise_table(run.sources))
    shown = brightness.real_table(real, observed, kinds.kinds(run.root))
    mock_bins = mocktrain.by_observed(mock["test"], threshold).to_dict("records")
    bright = dict(expected_found=brightness.expected_found(mock_bins, shown, threshold), central_peak_snr=observed)
    return dict(real=real, transfer=transfer, injected=injected,
                completeness=injection.completeness_table(injected, threshold, mocktrain.summary(mock)),
                side_by_side=brightness.side_by_side(mock_bins, shown, threshold),
                summary=dict(transfer=transfer,
                             real_scores=real[["name", "label", "score", "flags"]].to_dict("records"),
                             injection=injection.summary(injected, threshold), brightness=bright))
