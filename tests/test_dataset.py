"""The dataset file: validated on load, with errors that say what is wrong; synthetic sets are sound."""
import h5py
import numpy as np
import pytest

from harness.dataset import Dataset, DatasetError
from harness.filters import popcount
from datasets.workloads import MIN_VALID

RANDOM_FILTER = {"containment", "overlap", "equality", "fixed_equality", "range", "range-correlated"}


def test_random_filter_has_its_scenarios_with_enough_valid_vectors(small):
    ds = Dataset(small)
    assert set(ds.scenarios) == RANDOM_FILTER | {"containment-and-range"}
    assert {name: sc.kind for name, sc in ds.scenarios.items()} == {
        "containment": "containment", "overlap": "overlap", "equality": "equality", "fixed_equality": "equality",
        "range": "range", "range-correlated": "range", "containment-and-range": "and"}
    for name, sc in ds.scenarios.items():
        assert (sc.valid_count >= MIN_VALID).all(), name
        maps = sc.predicate.filter_maps(sc.operands)
        assert np.array_equal(popcount(maps), sc.valid_count)
        assert np.allclose(sc.selectivity, sc.valid_count / ds.n)
        # Spot-check the stored ground truth with the kind's own exact check.
        for i in range(0, ds.nq, 97):
            ids = sc.neighbors[i][sc.neighbors[i] >= 0][:20]
            assert sc.predicate.passes(ids, sc.operands[i]).all(), (name, i)
    fixed = ds.attributes["fixed"]
    assert (fixed.sizes() == 4).all() and fixed.n_labels == 12  # F=4 positions × V=3 values
    assert ds.attributes["uniform_value"].kind == ds.attributes["cluster_value"].kind == "numeric"


def test_a_range_over_the_attribute_that_follows_the_clusters_selects_a_few_clusters(small):
    # range-correlated: the valid vectors of a query lie in about as many clusters as its range
    # spans (cluster_value = the cluster's place + a fraction); uniform_value spreads over all 64.
    from harness.filters import bitset_to_ids
    ds = Dataset(small)
    centres = {}
    for name in ("range", "range-correlated"):
        sc = ds.scenarios[name]
        i = int(np.flatnonzero(sc.groups["range 1%"])[0])
        ids = bitset_to_ids(sc.filter_map(i), ds.n)
        centres[name] = len(np.unique(np.floor(ds.attributes["cluster_value"].values[ids])))
    assert centres["range-correlated"] <= 2 and centres["range"] > 30


def test_small_variants_leave_out_what_cannot_be_drawn(xxs):
    ds = Dataset(xxs)
    assert set(ds.scenarios) == RANDOM_FILTER  # containment-and-range: too few vectors pass both on 2,000
    assert "containment-and-range_omitted" in ds.attrs


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
    (lambda g: g["attributes/labels/indices"].__setitem__(0, 5000),
     "'attributes/labels/indices' has label ids outside [0, 1000)"),
    (replace("attributes/labels/indptr", np.arange(10)), "'attributes/labels/indptr' has 10 entries, expected 2001"),
    (replace("attributes/uniform_value/values", np.zeros(7)), "'attributes/uniform_value/values' has 7 entries"),
    (replace("scenarios/range/predicate", ['{"kind": "between", "attribute": "uniform_value"}']),
     "scenario 'range': unknown predicate {'kind': 'between'"),
    (replace("scenarios/range/predicate", ['{"kind": "range", "attribute": "labels"}']),
     "scenario 'range': range reads a numeric attribute, and 'labels' is labels"),
    (lambda g: g["scenarios/range/operands/lo"].__setitem__(0, np.nan), "scenario 'range': 'scenarios/range/operands/lo'"),
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


def test_files_written_before_attributes_still_load(xxs, tmp_path):
    # The layout before attributes: labels/, test_labels/, fixed_equality's base_labels/, and the
    # four scenarios' operands in query_labels/ with no predicate stored.
    old = {"attributes/labels": "labels", "query_attributes/labels": "test_labels",
           "attributes/fixed": "scenarios/fixed_equality/base_labels"}
    four = ("containment", "overlap", "equality", "fixed_equality")
    path = tmp_path / "old.hdf5"
    with h5py.File(xxs) as f, h5py.File(path, "w") as g:
        for key in f.attrs:
            g.attrs[key] = f.attrs[key]

        def copy(name, obj):
            if not isinstance(obj, h5py.Dataset) or name.startswith(("query_attributes/fixed", "attributes/cluster",
                                                                      "attributes/uniform", "query_attributes/cluster",
                                                                      "query_attributes/uniform")):
                return
            parts = name.split("/")
            if parts[0] == "scenarios" and (parts[1] not in four or parts[2] == "predicate"):
                return
            for new, legacy in old.items():
                if name.startswith(new + "/"):
                    name = legacy + name[len(new):]
            g.create_dataset(name.replace("/operands/", "/query_labels/"), data=obj[()])
        f.visititems(copy)
    now, before = Dataset(xxs), Dataset(path)
    assert set(before.scenarios) == set(four) and set(before.attributes) == {"labels", "fixed"}
    for name in four:
        a, b = now.scenarios[name], before.scenarios[name]
        assert a.predicate.spec == b.predicate.spec
        assert all(np.array_equal(x, y) for x, y in zip(a.operands, b.operands))
        assert np.array_equal(a.predicate.filter_maps(a.operands), b.predicate.filter_maps(b.operands))
        assert np.array_equal(a.neighbors, b.neighbors) and a.groups.keys() == b.groups.keys()
    assert np.array_equal(before.test_labels.indices, now.test_labels.indices)


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
    valid = (selectivity * 10_000).astype(int)
    g = query_groups(selectivity, valid, {"labels_short": np.arange(200) % 5 == 0})
    assert [int(g[f"selectivity_q{q}"].sum()) for q in range(1, 5)] == [50, 50, 50, 50]
    assert selectivity[g["selectivity_q1"]].max() < selectivity[g["selectivity_q2"]].min()
    for p in (1, 25, 50, 75):
        picked = selectivity[g[f"selectivity_p{p}"]]
        assert len(picked) == 10 and abs(np.mean(selectivity <= np.median(picked)) - p / 100) < 0.05
    assert g["labels_short"].sum() == 40  # a kind's own groups are kept beside these
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
    assert set(sub.scenarios) == set(parent.scenarios)
    for name, sc in sub.scenarios.items():
        kept = sum(repr(np.asarray(a, dtype=object).tolist()) == repr(np.asarray(b, dtype=object).tolist())
                   for a, b in zip(sc.operands, parent.scenarios[name].operands))
        assert kept > sub.nq // 2, name  # most operands still pass 10 vectors of half the base
        for i in range(0, sub.nq, 25):  # against a naive exact search over the valid subset
            valid = np.flatnonzero(sc.predicate.passes(np.arange(sub.n), sc.operands[i]))
            assert len(valid) == sc.valid_count[i] >= MIN_VALID
            d = exact_distances(sub.distance, sub.test[i], sub.train[valid])
            k = min(10, len(valid))
            assert np.allclose(np.sort(d)[:k], exact_distances(sub.distance, sub.test[i], sub.train[sc.neighbors[i, :k]]),
                               rtol=1e-5, atol=1e-5)
    assert sub.scenarios["containment"].groups["selectivity_q1"].sum() > 0
