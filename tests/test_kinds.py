"""The per-kind AUC study (halo_utils.studies.kinds): which others the halos are told from."""

import numpy as np
import pandas as pd
import pytest

from halo_utils import config
from halo_utils.detect import classify


def test_the_kind_table_reads_every_training_of_a_seed_by_its_name(tmp_path, monkeypatch):
    """``kinds.run_rows`` finds the real-only, mock-only and fine-tuned runs of a seed under 05_classifier's names,
    each with its own scores (out-of-fold, or the mock detector's scores of the real clusters)."""
    import json

    from halo_utils.studies import kinds

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    folder = tmp_path / "data" / "results" / "05_classifier"
    folder.mkdir(parents=True)
    kind = {f"s{i}": ("halo" if i < 4 else "cluster" if i < 7 else "ring") for i in range(9)}
    ranks = {"gleam": range(9), "mock": range(9)[::-1]}  # real-only ranks halos low, mock-only high

    def scores(order, key):
        return [{key: f"s{i}", "label": int(i < 4), "score": float(r), **({"repeat": 0} if key == "source" else {})}
                for i, r in enumerate(order)]

    for train_on, key, tag in (("gleam", "scores", classify.run_tag("I", "kfold")),
                               ("mock", "real_scores", classify.run_tag("I", "kfold", "mock", 4.0, True,
                                                                        overrides={"mock_fresh_views": True}))):
        entry = {key: scores(ranks[train_on], "source" if key == "scores" else "name")}
        (folder / f"{config.run_name('cpu', 0, 'gleam', tag)}.json").write_text(json.dumps(entry))
    assert kinds.run_rows("cpu", [0], "I", kind) == kinds.run_rows("cpu", [0], "I", kind)[:1]  # fixed views: none
    rows = kinds.run_rows("cpu", [0], "I", kind, fresh=True)
    assert [r["detector"] for r in rows] == ["real-only, model I", "mock-only (none seen), model I"]
    assert rows[0]["vs all others (5)"].startswith("0.000") and rows[1]["vs all others (5)"].startswith("1.000")
    assert rows[1]["vs ring (2)"].startswith("1.000")


def test_the_mock_only_seed_ensemble_averages_each_sources_scores(tmp_path, monkeypatch):
    """``kinds.mock_ensemble_rows`` averages the mock-only runs' scores per source: two seeds that each rank one halo
    below every other source, a different one each, rank every halo first once averaged."""
    import json

    from halo_utils.studies import kinds

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    folder = tmp_path / "data" / "results" / "05_classifier"
    folder.mkdir(parents=True)
    kind = {f"s{i}": ("halo" if i < 2 else "cluster") for i in range(4)}
    tag = classify.run_tag("I", "kfold", "mock", 4.0, True, overrides={"mock_fresh_views": True})
    for seed, score in ((0, [1.0, 0.0, 0.4, 0.3]), (1, [0.0, 1.0, 0.4, 0.3])):
        entry = dict(real_scores=[dict(name=f"s{i}", label=int(i < 2), score=v) for i, v in enumerate(score)])
        (folder / f"{config.run_name('cpu', seed, 'gleam', tag)}.json").write_text(json.dumps(entry))
    assert kinds.mock_ensemble_rows("cpu", [0], "I", kind, fresh=True) == []  # one seed is no ensemble
    single = kinds.run_rows("cpu", [0, 1], "I", kind, fresh=True)
    assert [r["vs all others (2)"][:5] for r in single] == ["0.500", "0.500"]
    (row,) = kinds.mock_ensemble_rows("cpu", [0, 1, 2], "I", kind, fresh=True)
    assert row["seed"] == "0 1" and row["vs all others (2)"].startswith("1.000")


def test_the_auc_against_all_is_the_count_weighted_mean_of_the_kinds_and_needed_auc_inverts_it():
    from halo_utils.detect import oof
    from halo_utils.studies import kinds

    rng = np.random.default_rng(0)
    names = [f"s{i}" for i in range(20)]
    kind = dict(zip(names, ["halo"] * 8 + ["cluster"] * 7 + ["ring"] * 3 + ["galaxy"] * 2))
    table = pd.DataFrame(dict(source=names, label=[int(kind[n] == "halo") for n in names], score=rng.uniform(size=20),
                              repeat=0))
    rows = {r["against"]: r for r in oof.auc_by_kind(table, kind, n_boot=10)}
    counts = {k: rows[k]["n_others"] for k in ("cluster", "ring", "galaxy")}
    weighted = sum(counts[k] * rows[k]["auc"] for k in counts) / sum(counts.values())
    assert rows["all others"]["auc"] == pytest.approx(weighted)
    given = {k: rows[k]["auc"] for k in ("ring", "galaxy")}
    assert kinds.needed_auc(counts, rows["all others"]["auc"], given) == pytest.approx(rows["cluster"]["auc"])
    assert kinds.needed_auc(counts, 0.8, {"ring": 0.5, "galaxy": 0.5}) == pytest.approx((0.8 * 12 - 2.5) / 7)
    with pytest.raises(ValueError, match="every kind but one"):
        kinds.needed_auc(counts, 0.8, {"ring": 0.5})


def test_the_kind_table_pairs_fine_tuning_with_real_only_training_per_kind(tmp_path, monkeypatch):
    """``kinds.paired_rows`` pairs the fine-tuned and real-only runs of a seed and splits the gain by kind: a gain
    made only against the rings shows there, and not against the clusters."""
    import json

    from halo_utils.studies import kinds

    monkeypatch.setenv("HALO_ROOT", str(tmp_path))
    folder = tmp_path / "data" / "results" / "05_classifier"
    folder.mkdir(parents=True)
    kind = {f"s{i}": ("halo" if i < 6 else "cluster" if i < 10 else "ring") for i in range(14)}
    real = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1] + [0.85, 0.75, 0.25, 0.15] + [0.95, 0.65, 0.35, 0.05]
    tuned = real[:10] + [0.0, 0.0, 0.0, 0.0]  # the same scores, but every ring now ranked below every halo
    for tag, score in ((classify.run_tag("I", "kfold"), real), (classify.run_tag("I", "kfold", "mock+gleam", 4.0, True), tuned)):
        entry = dict(scores=[dict(source=f"s{i}", label=int(i < 6), score=v, repeat=0) for i, v in enumerate(score)])
        (folder / f"{config.run_name('cpu', 0, 'gleam', tag)}.json").write_text(json.dumps(entry))
    rows = {r["against"]: r for r in kinds.paired_rows("cpu", [0, 1], "I", kind)}
    assert list(rows) == ["all others", "cluster", "ring"] and rows["ring"]["seeds"] == "0"
    assert rows["cluster"]["per seed"] == "+0.000" and rows["ring"]["per seed"] == "+0.500"
    assert rows["all others"]["per seed"] == "+0.250"
    assert kinds.paired_rows("cpu", [0], "I", kind, fresh=True) == []  # no fine-tuning from a fresh-view detector


def test_the_kind_table_says_how_far_redshift_alone_separates_the_halos(tmp_path):
    """``kinds.redshifts`` ranks the halos against each kind of other source by redshift alone, on the sources
    with a redshift: a halo at lower redshift than a cluster costs a pair; a kind with no redshift gets none."""
    import pandas as pd

    from halo_utils.studies import kinds

    pd.DataFrame(dict(source=["h1", "h2", "h3", "c1", "c2", "r1"], label=[1, 1, 1, 0, 0, 0], split="train",
                      kind=["halo"] * 3 + ["cluster"] * 2 + ["ring"],
                      z=[0.2, 0.3, 0.1, 0.05, 0.15, None])).to_csv(tmp_path / "sources.csv", index=False)
    rows = {r["kind"]: r for r in kinds.redshifts(tmp_path)}
    column = "AUC of z alone, halo class against it"
    assert rows["cluster"][column].startswith("0.833") and rows["cluster"]["with_z"] == 2
    assert rows["ring"][column] == "-" and rows["halo"][column] == "-" and rows["halo"]["z_median"] == "0.200"
