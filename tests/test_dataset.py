"""The dataset file: validated on load, with errors that say what is wrong; synthetic sets are sound."""
import h5py
import numpy as np
import pytest

from harness.dataset import Dataset, DatasetError
from harness.filters import SCENARIOS, is_valid, popcount
from datasets.workloads import MIN_VALID


def test_random_filter_has_four_scenarios_with_enough_valid_vectors(xxs):
    ds = Dataset(xxs)
    assert set(ds.scenarios) == set(SCENARIOS)
    for name, sc in ds.scenarios.items():
        assert (sc.valid_count >= MIN_VALID).all(), name
        maps = ds.label_index(name).filter_maps(sc.query_labels.rows(), name)
        assert np.array_equal(popcount(maps), sc.valid_count)
        assert np.allclose(sc.selectivity, sc.valid_count / ds.n)
        # Spot-check validity of the stored ground truth with the plain predicate.
        base = sc.base_labels
        for i in range(0, ds.nq, 17):
            for j in sc.neighbors[i][sc.neighbors[i] >= 0][:20]:
                assert is_valid(base.row(j), sc.query_labels.row(i), name)
    fixed = ds.scenarios["fixed_equality"].base_labels
    assert (fixed.sizes() == 4).all() and fixed.n_labels == 12  # F=4 positions × V=3 values


def test_build_is_deterministic(tmp_path, monkeypatch):
    from datasets import build_dataset
    from harness.dataset import file_hash
    monkeypatch.setenv("FILTERBENCH_DATA", str(tmp_path / "a"))
    a = build_dataset("random-filter-xxs", log=lambda m: None)
    monkeypatch.setenv("FILTERBENCH_DATA", str(tmp_path / "b"))
    b = build_dataset("random-filter-xxs", log=lambda m: None)
    assert Dataset(a).content_hash == Dataset(b).content_hash
    assert file_hash(a) == file_hash(b)


def copy_with(src, dst, edit):
    with h5py.File(src) as f, h5py.File(dst, "w") as g:
        for key in f.attrs:
            g.attrs[key] = f.attrs[key]
        def copy(name, obj):
            if isinstance(obj, h5py.Dataset):
                g.create_dataset(name, data=obj[()])
        f.visititems(copy)  # (visititems stops at the first callback that returns a value)
        edit(g)
    return dst


def replace(key, value):
    def edit(g):
        del g[key]
        g[key] = value
    return edit


@pytest.mark.parametrize("edit, message", [
    (replace("test", np.zeros((100, 3), np.float32)), "'test' has dimension 3 but 'train' has 16"),
    (replace("train", np.zeros(5, np.float32)), "'train' has 1 dimensions, expected 2"),
    (lambda g: g["labels/indices"].__setitem__(0, 5000), "'labels/indices' has label ids outside"),
    (replace("labels/indptr", np.arange(10)), "'labels/indptr' has 10 entries, expected 2001"),
    (replace("scenarios/overlap/neighbors", np.zeros((99, 100), np.int32)), "'scenarios/overlap/neighbors'"),
    (lambda g: g.pop("scenarios/equality/selectivity"), "missing 'scenarios/equality/selectivity'"),
    (replace("neighbors", np.full((100, 100), 2000, np.int32)), "'neighbors' has ids outside [-1, 2000)"),
    (lambda g: g.attrs.__setitem__("distance", "hamming"), "distance 'hamming' is not supported"),
])
def test_malformed_files_name_what_is_wrong(xxs, tmp_path, edit, message):
    path = copy_with(xxs, str(tmp_path / "bad.hdf5"), edit)
    with pytest.raises(DatasetError) as e:
        Dataset(path)
    assert message in str(e.value) and "bad.hdf5" in str(e.value)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(DatasetError, match="no such dataset file"):
        Dataset(tmp_path / "nope.hdf5")
    (tmp_path / "junk.hdf5").write_bytes(b"not hdf5 at all")
    with pytest.raises(DatasetError, match="not a readable HDF5 file"):
        Dataset(tmp_path / "junk.hdf5")


def test_plain_ann_benchmarks_file_loads_unfiltered(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "plain.hdf5"
    with h5py.File(path, "w") as f:
        f.attrs["distance"] = "angular"
        f["train"] = rng.normal(size=(500, 8)).astype(np.float32)
        f["test"] = rng.normal(size=(20, 8)).astype(np.float32)
        f["neighbors"] = np.zeros((20, 100), np.int32)
        f["distances"] = np.zeros((20, 100), np.float32)
    ds = Dataset(path)
    assert ds.scenario_names == ["unfiltered"] and ds.labels is None and ds.distance == "angular"


def test_query_groups_follow_the_fanns_paper():
    from harness.dataset import query_groups
    selectivity = np.linspace(0.001, 0.1, 200)[::-1]  # any order
    labels = np.array([1, 2, 3, 4, 5] * 40)
    valid = (selectivity * 10_000).astype(int)
    g = query_groups(selectivity, labels, valid)
    assert [int(g[f"selectivity_q{q}"].sum()) for q in range(1, 5)] == [50, 50, 50, 50]
    assert selectivity[g["selectivity_q1"]].max() < selectivity[g["selectivity_q2"]].min()
    for p in (1, 25, 50, 75):
        picked = selectivity[g[f"selectivity_p{p}"]]
        assert len(picked) == 10 and abs(np.mean(selectivity <= np.median(picked)) - p / 100) < 0.05
    assert (g["labels_short"] == (labels == 1)).all() and (g["labels_long"] == (labels >= 4)).all()
    assert (g["top100"] == (valid >= 100)).all() and g["top1"].all()


def test_built_datasets_store_their_query_groups(xxs):
    import h5py
    with h5py.File(xxs) as f:
        stored = set(f["scenarios/containment/groups"])
    ds = Dataset(xxs)
    assert stored == set(ds.scenarios["containment"].groups) >= {"selectivity_q1", "selectivity_p1", "labels_short",
                                                                  "top10"}


def test_base_size_subset_keeps_the_queries_and_recomputes_ground_truth(xxs):
    from datasets import build_dataset
    from harness.groundtruth import exact_distances
    parent = Dataset(xxs)
    sub = Dataset(build_dataset("random-filter-xxs@50%", log=lambda m: None))
    assert sub.n == round(parent.n / 2) and sub.nq == parent.nq and np.array_equal(sub.test, parent.test)
    with h5py.File(sub.path) as f:
        keep = f["subset_base_ids"][:]
        assert f.attrs["subset_of"] == "random-filter-xxs" and f.attrs["subset_percent"] == 50
    assert np.array_equal(sub.train, parent.train[keep])
    for name, sc in sub.scenarios.items():
        index = sub.label_index(name)
        kept = sum(list(sc.query_labels.row(i)) == list(parent.scenarios[name].query_labels.row(i))
                   for i in range(sub.nq))
        assert kept > sub.nq // 2, name  # most label sets still pass 10 vectors of half the base
        for i in range(0, sub.nq, 25):  # against a naive exact search over the valid subset
            valid = np.flatnonzero([is_valid(sc.base_labels.row(j), sc.query_labels.row(i), name)
                                    for j in range(sub.n)])
            assert len(valid) == sc.valid_count[i] >= MIN_VALID
            d = exact_distances(sub.distance, sub.test[i], sub.train[valid])
            k = min(10, len(valid))
            assert np.allclose(np.sort(d)[:k], exact_distances(sub.distance, sub.test[i], sub.train[sc.neighbors[i, :k]]),
                               rtol=1e-5, atol=1e-5)
    assert sub.scenarios["containment"].groups["selectivity_q1"].sum() > 0
