import numpy as np

from halo_utils.data.catalogue import fetch_psz2, read_psz2, read_source_table, source_table


def test_committed_table_matches_the_dataset(real_sources, psz2_dir):
    committed = read_source_table().set_index("source")
    fresh = source_table(real_sources, read_psz2(psz2_dir)).set_index("source")
    assert sorted(committed.index) == sorted(fresh.index)
    for col in ("label", "split", "kind", "psz2_name"):
        assert (committed[col].fillna("") == fresh.loc[committed.index, col].fillna("")).all(), col
    np.testing.assert_allclose(committed.ra_deg, fresh.loc[committed.index].ra_deg, atol=1e-4)
    np.testing.assert_allclose(committed.z, fresh.loc[committed.index].z, equal_nan=True)
    np.testing.assert_allclose(committed.m500, fresh.loc[committed.index].m500, equal_nan=True)
    assert committed.m500.notna().sum() >= committed.z.notna().sum() - 2  # PSZ2 gives a mass with almost every z


def test_table_counts():
    table = read_source_table()
    assert len(table) == 46
    assert table.groupby(["split", "label"]).size().to_dict() == {("test", 0): 5, ("test", 1): 5, ("train", 0): 18, ("train", 1): 18}


def test_psz2_reads_all_rows(psz2_dir):
    psz2 = read_psz2(psz2_dir)
    assert len(psz2) == 1653
    assert {"Name", "RAdeg", "DEdeg", "SNR", "z", "MSZ"} <= set(psz2.colnames)


def test_fetch_psz2_through_a_local_vizier(psz2_dir):
    class LocalVizier:
        def get_catalogs(self, name):
            assert name == "J/A+A/594/A27/psz2"
            return [read_psz2(psz2_dir)]

    assert len(fetch_psz2(LocalVizier())) == 1653
