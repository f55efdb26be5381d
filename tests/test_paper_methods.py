"""The FANNS paper's last methods through their plugin classes: Stitched-DiskANN
(native/src/stitched.cpp) and NHQ-kgraph (native/src/nhq.cpp). Correctness, not speed
(benchmarks/paper_methods.py measures speed)."""
import numpy as np
import pytest

import native
from algorithms.nhq.module import Nhq
from algorithms.stitched_diskann.module import StitchedDiskann
from harness.dataset import Csr
from harness.predicates import Filter
from tests.test_ung_caps import exact_top, fitted, flt, labelled, passes, queries

STITCHED = dict(R_small=16, L_small=50, R_stitched=64)
NHQ = dict(K=20, L=30, iter=6, S=10, R=20, RANGE=24, PL=60, B=4, M=1.0)
SELECTIVITIES = {0: 0.5, 1: 0.05, 2: 0.005}  # label -> the share of the base that carries it


@pytest.fixture(scope="module")
def data():
    return labelled()


@pytest.fixture(scope="module")
def selective():
    """4,000 vectors where label 0 is on half the base, label 1 on 5% and label 2 on 0.5%, each
    beside one or two of 20 background labels."""
    rng = np.random.default_rng(7)
    n, d = 4000, 16
    X = rng.normal(size=(n, d)).astype(np.float32)
    rows = []
    for i in range(n):
        own = {int(l) for l in rng.choice(np.arange(3, 23), rng.integers(1, 3), replace=False)}
        own |= {label for label, share in SELECTIVITIES.items() if i % round(1 / share) == 0}
        rows.append(sorted(own))
    return X, Csr.from_rows(rows)


@pytest.fixture(scope="module")
def stitched(data):
    X, labels = data
    return fitted(StitchedDiskann, X, labels, **STITCHED)


@pytest.mark.parametrize("label", SELECTIVITIES)
def test_stitched_never_returns_an_id_that_fails_the_filter_at_any_selectivity(selective, label):
    X, labels = selective
    algo = fitted(StitchedDiskann, X, labels, **STITCHED)
    algo.set_query_arguments(L_search=20)
    rng = np.random.default_rng(label)
    Q = rng.normal(size=(40, X.shape[1])).astype(np.float32)
    for scenario, query in (("containment", [label]), ("containment", [label, 3]), ("overlap", [label, 4]),
                            ("equality", [label, 5])):
        filters = [flt(scenario, query)] * len(Q)
        batch = algo.batch_filtered_query(Q, 10, filters, None)
        for i, q in enumerate(Q):
            ids = algo.filtered_query(q, 10, filters[i], None)
            assert all(passes(scenario, np.array(query), labels.row(j)) for j in ids), (scenario, query)
            assert len(set(ids)) == len(ids) and list(batch[i][batch[i] >= 0]) == list(ids)


def test_stitched_is_accurate_at_a_large_search_list(data, stitched):
    X, labels = data
    stitched.set_query_arguments(L_search=400)
    for scenario in ("containment", "overlap", "equality", "fixed_equality"):
        Q, rows = queries(X, labels, scenario)
        recall = np.mean([len(set(stitched.filtered_query(q, 10, flt(scenario, rows[i]), None))
                              & set(exact_top(X, labels, q, rows[i], scenario, 10)))
                          / max(1, len(exact_top(X, labels, q, rows[i], scenario, 10))) for i, q in enumerate(Q)])
        assert recall >= 0.99, (scenario, recall)


def test_stitched_search_list_grows_until_k_pass(data, stitched):
    # With L_search 1, a walk on one label finds fewer than k that also carry the query's other
    # labels; the list doubles until k pass (or every point of the label was seen).
    X, labels = data
    stitched.set_query_arguments(L_search=1)
    before = stitched.stats()["grown_searches"]
    Q, rows = queries(X, labels, "containment")
    for i, q in enumerate(Q):
        valid = sum(passes("containment", rows[i], labels.row(j)) for j in range(len(X)))
        assert len(stitched.filtered_query(q, 10, flt("containment", rows[i]), None)) == min(10, valid)
    assert stitched.stats()["grown_searches"] > before


def test_stitched_label_graphs_start_at_a_point_of_their_label_and_stay_within_degree(data, stitched):
    X, labels = data
    index = stitched.index
    for label in range(12):
        assert label in labels.row(index.start_node(label))
    assert index.start_node(99) == -1
    out_degree = np.bincount(index.edges()[:, 0], minlength=len(X))
    assert out_degree.max() <= STITCHED["R_stitched"] and out_degree.min() >= 1


def test_stitched_same_seed_one_thread_same_index(data, tmp_path):
    X, labels = data
    for run in (1, 2):
        fitted(StitchedDiskann, X, labels, threads=1, **STITCHED).save(str(tmp_path / f"{run}.index"))
    assert (tmp_path / "1.index").read_bytes() == (tmp_path / "2.index").read_bytes()


def test_stitched_save_load_round_trip_exact_size_and_corrupt_files(data, stitched, tmp_path):
    X, labels = data
    stitched.set_query_arguments(L_search=50)
    path = tmp_path / "index"
    stitched.save(str(path))
    assert path.stat().st_size == stitched.index_size()
    loaded = StitchedDiskann("euclidean", **STITCHED)
    loaded.load(str(path))
    loaded.set_query_arguments(L_search=50)
    Q, rows = queries(X, labels, "containment")
    filters = [flt("containment", r) for r in rows]
    assert (loaded.batch_filtered_query(Q, 10, filters, None) == stitched.batch_filtered_query(Q, 10, filters, None)).all()
    good = path.read_bytes()
    path.write_bytes(good[:200])
    with pytest.raises(RuntimeError, match="truncated"):
        loaded.load(str(path))
    path.write_bytes(good[:-8] + np.int32([len(X) + 5, 0]).tobytes())  # an edge to a point that does not exist
    with pytest.raises(RuntimeError, match="corrupt"):
        loaded.load(str(path))


def test_stitched_refuses_bad_parameters_dimensions_and_predicates(data, stitched):
    X, labels = data
    with pytest.raises(ValueError, match="L_small must be at least R_small"):
        StitchedDiskann("euclidean", R_small=32, L_small=10)
    with pytest.raises(ValueError, match="R_stitched must be at least R_small"):
        StitchedDiskann("euclidean", R_small=32, R_stitched=16)
    with pytest.raises(ValueError, match="distance"):
        StitchedDiskann("ip")
    with pytest.raises(ValueError, match="dimension"):
        stitched.filtered_query(np.zeros(3, np.float32), 10, flt("containment", labels.row(0)), None)
    with pytest.raises(ValueError, match="answers containment, overlap, equality"):
        stitched.filtered_query(X[0], 10, Filter("range", "year", (1.0, 2.0)), None)
    with pytest.raises(ValueError, match="label rows"):
        native.load().Stitched(16, "l2").build(X, labels.indptr[:-5], labels.indices, 1)


# NHQ-kgraph: fixed-length attributes (F positions, label f*V + value), fixed-length equality.

def fixed_attributes(n, shares, F=3, V=4, seed=3):
    """Label rows of F positions x V values: a share of the items (per entry of `shares`) carries
    one chosen combination each, the rest carry random combinations outside them."""
    rng = np.random.default_rng(seed)
    chosen = [tuple(f * V + (c + f) % V for f in range(F)) for c in range(len(shares))]
    bounds = np.cumsum([round(share * 1000) for share in shares])  # item i's slot: i % 1000
    rows = []
    for i in range(n):
        c = int(np.searchsorted(bounds, i % 1000, side="right"))
        if c < len(shares):
            rows.append(list(chosen[c]))
        else:
            while tuple(row := [f * V + int(rng.integers(V)) for f in range(F)]) in chosen:
                pass
            rows.append(row)
    return Csr.from_rows(rows), chosen


@pytest.fixture(scope="module")
def nhq_data():
    X = np.random.default_rng(11).normal(size=(4000, 16)).astype(np.float32)
    attributes, chosen = fixed_attributes(len(X), shares=(0.5, 0.05, 0.005))
    return X, attributes, chosen


@pytest.fixture(scope="module")
def nhq(nhq_data):
    X, attributes, _ = nhq_data
    return fitted(Nhq, X, attributes, **NHQ)


@pytest.mark.parametrize("which", [0, 1, 2])  # selectivity 0.5, 0.05, 0.005
def test_nhq_never_returns_an_id_that_fails_the_filter_and_finds_the_nearest(nhq_data, nhq, which):
    X, attributes, chosen = nhq_data
    query = np.array(chosen[which], dtype=np.int32)
    Q = np.random.default_rng(which).normal(size=(40, X.shape[1])).astype(np.float32)
    nhq.set_query_arguments(L_search=400)
    filters = [flt("equality", query)] * len(Q)
    batch = nhq.batch_filtered_query(Q, 10, filters, None)
    hits = 0
    for i, q in enumerate(Q):
        ids = nhq.filtered_query(q, 10, filters[i], None)
        assert all(passes("equality", query, attributes.row(j)) for j in ids)
        assert len(set(ids)) == len(ids) and list(batch[i][batch[i] >= 0]) == list(ids)
        hits += len(set(ids) & set(exact_top(X, attributes, q, query, "equality", 10)))
    assert sum(passes("equality", query, attributes.row(j)) for j in range(len(X))) == round(len(X) * (0.5, 0.05, 0.005)[which])
    assert hits / (10 * len(Q)) >= 0.99
    assert nhq.stats()["distance_computations"] > 0


def test_nhq_is_accurate_on_clustered_data_at_a_large_search_list(data):
    X, _ = data
    attributes, _ = fixed_attributes(len(X), shares=(0.2,), F=2, V=3)
    algo = fitted(Nhq, X, attributes, **NHQ)
    algo.set_query_arguments(L_search=400)
    Q, rows = queries(X, attributes, "fixed_equality")
    recall = np.mean([len(set(algo.filtered_query(q, 10, flt("fixed_equality", rows[i]), None))
                          & set(exact_top(X, attributes, q, rows[i], "fixed_equality", 10))) / 10
                      for i, q in enumerate(Q)])
    assert recall >= 0.99


def test_nhq_graph_stays_within_its_degree_and_same_seed_one_thread_same_index(nhq_data, nhq, tmp_path):
    X, attributes, _ = nhq_data
    out_degree = np.bincount(nhq.index.edges()[:, 0], minlength=len(X))
    assert out_degree.max() <= NHQ["RANGE"] and out_degree.min() >= 1
    assert nhq.index.weight > 0
    for run in (1, 2):
        fitted(Nhq, X, attributes, threads=1, **NHQ).save(str(tmp_path / f"{run}.index"))
    assert (tmp_path / "1.index").read_bytes() == (tmp_path / "2.index").read_bytes()


def test_nhq_save_load_round_trip_exact_size_and_corrupt_files(nhq_data, nhq, tmp_path):
    X, attributes, chosen = nhq_data
    nhq.set_query_arguments(L_search=50)
    path = tmp_path / "index"
    nhq.save(str(path))
    assert path.stat().st_size == nhq.index_size()
    loaded = Nhq("euclidean", **NHQ)
    loaded.load(str(path))
    loaded.set_query_arguments(L_search=50)
    filters = [flt("equality", chosen[1])] * 20
    assert (loaded.batch_filtered_query(X[:20], 10, filters, None) == nhq.batch_filtered_query(X[:20], 10, filters, None)).all()
    good = path.read_bytes()
    path.write_bytes(good[:100])
    with pytest.raises(RuntimeError, match="truncated"):
        loaded.load(str(path))
    path.write_bytes(good[:-8] + np.int32([len(X) + 5, 0]).tobytes())
    with pytest.raises(RuntimeError, match="corrupt"):
        loaded.load(str(path))


def test_nhq_refuses_bad_parameters_dimensions_predicates_and_variable_length_attributes(data, nhq_data, nhq):
    X, labels = data
    with pytest.raises(ValueError, match="L must be at least K"):
        Nhq("euclidean", K=40, L=20)
    with pytest.raises(ValueError, match="B must be between 0 and RANGE"):
        Nhq("euclidean", RANGE=8, B=9)
    with pytest.raises(ValueError, match="M must be at least 1"):
        Nhq("euclidean", M=0.5)
    with pytest.raises(ValueError, match="distance"):
        Nhq("ip")
    with pytest.raises(ValueError, match="same number for every item"):
        fitted(Nhq, X, labels, **NHQ)  # 1-4 labels per item
    with pytest.raises(ValueError, match="dimension"):
        nhq.filtered_query(np.zeros(3, np.float32), 10, flt("equality", nhq_data[2][0]), None)
    with pytest.raises(ValueError, match="NHQ answers equality"):
        nhq.filtered_query(X[0, :16], 10, flt("containment", nhq_data[2][0]), None)


def test_the_planner_skips_what_nhq_cannot_answer_with_a_line_saying_why(small):
    from harness.dataset import Dataset
    from harness.definitions import load_all
    ds = Dataset(small)
    nhq_config = load_all()["nhq"]
    assert ds.fixed_length_attributes == ["fixed"]
    answered = [s for s in ds.scenario_names if nhq_config.answers(None if s == "unfiltered" else ds.scenarios[s].predicate.spec,
                                                                    ds.fixed_length_attributes)]
    assert answered == ["fixed_equality"]
