"""The mock-sky study tables (halo_utils.studies.pretraining): each run read back by its name."""

import numpy as np

from halo_utils import config
from halo_utils.detect import classify


def test_the_sidelobe_table_reads_each_run_by_its_name(tmp_path, monkeypatch):
    """``pretraining.mock_rows`` finds the run of each mock-sky variant under the name 05_classifier gives it."""
    import json

    from halo_utils.studies import pretraining

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    folder = tmp_path / "data" / "results" / "05_classifier"
    folder.mkdir(parents=True)
    for auc, sky in ((0.61, {}), (0.73, {"sidelobe_level": 0.03})):
        tag = classify.run_tag("I", "kfold", "mock", 4.0, True, mock_sky=sky)
        mock = dict(test_auc=auc, test_auc_ci=[auc - 0.1, auc + 0.1], threshold={"threshold": 0.5}, test_fpr=0.05,
                    completeness_snr5=0.5, n_halos_snr5=10, train_seconds=1.0, peak_rss_mb=1.0,
                    completeness=[dict(peak_snr_bin="[5.0, inf)", completeness=0.5, found=5, n=10)])
        transfer = dict(auc=0.5, auc_ci=[0.4, 0.6], halos_found=1, n_halos=23, non_halos_above=1, n_non_halos=23)
        (folder / f"{config.run_name('cpu', 0, 'gleam', tag)}.json").write_text(json.dumps(dict(mock=mock, transfer=transfer)))
    rows = pretraining.mock_rows("cpu", [0], skies=[{}, {"sidelobe_level": 0.03}, {"sidelobe_level": 0.1}],
                                 clipping=(True,))
    assert [(r["mock_sky"], r["test_auc"][:5]) for r in rows] == [("default", "0.610"), ("sidelobe_level 0.03", "0.730")]
    assert "mock_sky" not in pretraining.mock_rows("cpu", [0])[0]  # the default table keeps its columns


def test_the_training_size_table_reads_each_run_by_its_name(tmp_path, monkeypatch):
    """``pretraining.mock_rows(fields=...)`` finds the default run and the ``mock_fields`` override under their names."""
    import json

    from halo_utils.studies import pretraining

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    folder = tmp_path / "data" / "results" / "05_classifier"
    folder.mkdir(parents=True)
    for n, overrides in ((3000, None), (12000, {"mock_fields": 12000}),
                         (12000, {"mock_fields": 12000, "mock_fresh_views": True})):
        tag = classify.run_tag("I", "kfold", "mock", 4.0, True, overrides=overrides)
        mock = dict(test_auc=0.7, test_auc_ci=[0.6, 0.8], threshold={"threshold": 0.5}, test_fpr=0.05, completeness=[],
                    completeness_snr5=0.5, n_halos_snr5=10, train_seconds=1.0, peak_rss_mb=1.0,
                    sizes=dict(train=n, val=n // 5, test=n // 2))
        transfer = dict(auc=0.5, auc_ci=[0.4, 0.6], halos_found=1, n_halos=23, non_halos_above=1, n_non_halos=23)
        scores = [dict(name=f"c{i}", label=i % 2, score=i / 10) for i in range(6)]  # halos 0.1, 0.3, 0.5
        (folder / f"{config.run_name('cpu', 0, 'gleam', tag)}.json").write_text(json.dumps(dict(
            mock=mock, transfer=transfer, real_scores=scores)))
    rows = pretraining.mock_rows("cpu", [0], clipping=(True,), fields=[None, 12000, 50000])
    assert rows[0]["real_median_score"] == "0.30 / 0.20"
    assert [(r["train_fields"], r["test_fields"]) for r in rows] == [(3000, 1500), (12000, 6000)]
    assert "training_views" not in rows[0]
    rows = pretraining.mock_rows("cpu", [0], clipping=(True,), fields=[12000], fresh=(False, True))
    assert [r["training_views"] for r in rows] == ["fixed", "new every epoch"]


def test_pretraining_from_a_larger_mock_detector_is_paired_by_its_run_name(tmp_path, monkeypatch):
    """``pretraining(fields=N)`` pairs the real-only run with the ``mock+gleam`` run of that ``mock_fields`` override,
    not with the default one."""
    import json

    from halo_utils.studies import pretraining

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    folder = tmp_path / "data" / "results" / "05_classifier"
    folder.mkdir(parents=True)
    label = np.repeat([0, 1], 5)
    for auc, tag in ((0.6, classify.run_tag("I", "kfold")),
                     (0.7, classify.run_tag("I", "kfold", "mock+gleam", 4.0, True)),
                     (0.8, classify.run_tag("I", "kfold", "mock+gleam", 4.0, True, overrides={"mock_fields": 25000})),
                     (0.9, classify.run_tag("I", "kfold", "mock+gleam", 4.0, True, overrides={"mock_fresh_views": True}))):
        scores = [dict(source=f"s{i}", label=int(y), score=float(y * auc + i / 100), repeat=0) for i, y in enumerate(label)]
        (folder / f"{config.run_name('cpu', 0, 'gleam', tag)}.json").write_text(json.dumps(dict(
            scores=scores, oof_source_auc=auc)))
    assert [r["mock_pretrained"] for r in pretraining.pretraining("cpu", [0])[0]] == [0.7]
    rows, paired = pretraining.pretraining("cpu", [0], fields=25000)
    assert [(r["real_only"], r["mock_pretrained"], r["difference"]) for r in rows] == [(0.6, 0.8, 0.2)]
    assert paired is not None and pretraining.pretraining("cpu", [0], fields=50000)[0] == []
    assert [r["mock_pretrained"] for r in pretraining.pretraining("cpu", [0], fresh=True)[0]] == [0.9]
    # the command for the fresh-view pairs writes its own table and leaves the mock-detector table alone
    pretraining.main(["--profile", "cpu", "--seeds", "0", "--fresh-views"])
    written = sorted(p.name for p in (tmp_path / "docs" / "results").iterdir())
    assert written == ["mock_pretraining_cpu_freshviews.md"]
    assert "| 0 | 0.6 | 0.9 | 0.3 |" in (tmp_path / "docs" / "results" / written[0]).read_text()
