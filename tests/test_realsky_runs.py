"""Halos in real skies, end to end in the smoke profile: 05_classifier trained on halos injected into the published
fields, and a search of clusters with some bands missing (each scored by a detector of its bands)."""

from pathlib import Path

import pytest

from conftest import ROOT, execute, result, scratch_root
from halo_utils.constants import BAND_KEYS


def _scratch_root(tmp_path, monkeypatch) -> Path:
    """``tmp_path`` as a :func:`scratch_root` the runs of this test write to."""
    monkeypatch.setenv("HALO_ROOT", str(scratch_root(tmp_path)))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


def _run_notebook(tmp_path, monkeypatch, **parameters):
    pytest.importorskip("papermill")
    execute("05_classifier", _scratch_root(tmp_path, monkeypatch), "out", profile="smoke", seed=0, model="I", **parameters)


def test_the_classifier_notebook_trains_on_injected_halos(gleam_dir, tmp_path, monkeypatch):
    """``train_on='injected+gleam'`` in smoke on the real fields (``injected``, then fine-tuned; ``injected`` alone
    runs in the band-subset search below), run as the injection study's plan through the workflow engine: the JSON
    a user reads, every source scored out of fold before and after the fine-tuning, every injection in a field its
    fold held out, an upper limit for each held-out cluster without a halo; the engine's last job, the table."""
    import subprocess
    import sys

    import pandas as pd

    pytest.importorskip("snakemake")
    from halo_utils.studies import realsky_report

    _scratch_root(tmp_path, monkeypatch)
    (tmp_path / "notebooks").symlink_to(ROOT / "notebooks")  # the engine's jobs run the notebooks of the root
    monkeypatch.setenv("HALO_GLEAM_DIR", str(gleam_dir))
    monkeypatch.setenv("HALO_PROFILE", "smoke")
    plan = tmp_path / "plan.json"
    realsky_report.main(["--profile", "smoke", "--seeds", "0", "--train-on", "injected+gleam", "--plan", str(plan)])
    done = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "workflow" / "Snakefile"), "--config",
                           f"plan={plan}", "--cores", "2"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "Made by `python -m halo_utils.studies.realsky_report --profile smoke --seeds 0 --train-on injected+gleam`" \
        in (tmp_path / "docs" / "results" / "realsky_smoke_tuned.md").read_text()
    summary = result(tmp_path, "05_classifier", "I_kfold_injectedgleam_smoke_seed0")
    assert summary["train_on"] == "injected+gleam" and summary["subtract_compact"] is False
    assert all(epoch >= 1 for epoch in summary["tuning_epochs"]) and len(summary["tuning_epochs"]) == len(summary["folds"])
    for key in ("completeness_real_snr5", "fpr_real", "oof_source_auc", "auc_vs_clusters",
                "completeness_real_snr5_empty_threshold", "fpr_real_empty_threshold", "oof_source_auc_before_tuning",
                "auc_vs_clusters_before_tuning"):
        assert 0 <= summary[key] <= 1, key
        if key not in ("oof_source_auc", "oof_source_auc_before_tuning"):
            low, high = summary[f"{key}_ci"]
            assert low <= summary[key] <= high, key
    folds = {f["fold"]: f["split"] for f in summary["folds"]}
    assert sorted(r["source"] for r in summary["scores"]) == sorted(folds[0])  # 46 sources, each scored once
    assert all(folds[r["fold"]][r["source"]] == "test" for r in summary["scores"])
    limits = pd.read_csv(summary["upper_limits"])
    assert len(limits) == 14 and {"s50_jy", "s90_jy", "p50_w_hz", "z_known", "found_alone"} <= set(limits.columns)
    assert ((limits.s90_jy >= limits.s50_jy) | limits.s90_jy.isna() | limits.s50_jy.isna()).all()
    assert limits.s50_jy[limits.found_alone >= 0.5].isna().all()  # a cluster taken for a halo alone has no limit

    from halo_utils.studies import realsky_report

    realsky_report.main(["--profile", "smoke", "--seeds", "0", "1", "--train-on", "injected+gleam"])  # no seed 1: left out
    text = (tmp_path / "docs" / "results" / "realsky_smoke_tuned.md").read_text()
    assert "seeds [0]" in text and "## Upper limits" in text and text.count("\n| 0 |") == 1
    assert "## Fine-tuning" in text and "| 14 clusters | 1 |" in text
    assert (tmp_path / "figures" / "realsky_limits_smoke_tuned.png").exists()


def test_an_unknown_train_on_is_refused_even_with_a_run_name(tmp_path, monkeypatch):
    papermill = pytest.importorskip("papermill")
    with pytest.raises(papermill.PapermillExecutionError, match=r"05_classifier: train_on=.injceted. is not one of"):
        _run_notebook(tmp_path, monkeypatch, train_on="injceted", run_name="X", source="mock")


def test_a_folder_with_some_bands_is_scored_with_the_bands_it_has(gleam_dir, tmp_path, monkeypatch):
    """Clusters with three bands or two: each scored by an injection-trained detector of exactly its bands (trained on
    first use, smoke), none refused for a missing band (the flag still says it is missing); the table says which bands
    scored it."""
    import pandas as pd

    from halo_utils.search import run as search_run
    from halo_utils.search.detector import ByBands
    from halo_utils.search.fields import layout_manifest

    _scratch_root(tmp_path, monkeypatch)
    monkeypatch.setenv("HALO_GLEAM_DIR", str(gleam_dir))
    manifest = layout_manifest(gleam_dir)
    keep = {"abell_2744": BAND_KEYS[1:], "abell_0085": BAND_KEYS[1:], "abell_3365": BAND_KEYS[2:]}
    mine = manifest[manifest.source.isin(keep)]
    mine = mine[[band in keep[src] for src, band in zip(mine.source, mine.band)]]
    by_bands = ByBands("smoke", seed=0)
    result = search_run.run(by_bands, mine, tmp_path / "out", progress=False)
    table = result["table"].set_index("name")
    assert table.scored.all() and table.score.between(0, 1).all()
    for name, bands in keep.items():
        assert table.loc[name, "bands"] == ",".join(bands)
    assert sorted(by_bands.made) == sorted({tuple(b) for b in keep.values()})
    assert len(result["summary"]["detectors"]) == 2
    assert pd.read_csv(result["files"]["csv"]).bands.nunique() == 2
