"""iRangeGraph (native/src/irange.cpp) through its plugin class: correctness, not speed
(benchmarks/range.py measures speed)."""
import numpy as np
import pytest

from algorithms.irangegraph.module import IRangeGraph
from harness.attributes import NumericAttribute
from harness.predicates import Filter


def data(n=4000, d=16, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 4, (16, d))
    cluster = rng.integers(16, size=n + 100)
    X = (centers[cluster] + rng.normal(0, 1, (n + 100, d))).astype(np.float32)
    values = cluster + rng.random(n + 100)  # follows the clusters: the hard case for a graph
    return X[:n], NumericAttribute("value", values[:n]), X[n:]


def fitted(X, attribute, threads=2, **params):
    algo = IRangeGraph("euclidean", **params)
    algo.set_threads(threads)
    algo.fit(X, attribute)
    return algo


def exact(X, values, q, lo, hi, k):
    ids = np.flatnonzero((values >= lo) & (values <= hi))
    return ids[np.argsort(((X[ids] - q) ** 2).sum(1), kind="stable")[:k]]


@pytest.fixture(scope="module")
def built():
    X, attribute, Q = data()
    return X, attribute, Q, fitted(X, attribute, M=16, ef_construction=64)


def ranges(values, rng, count=100):
    out = []
    for width in (0.002, 0.02, 0.2, 0.6):
        for _ in range(count // 4):
            lo = float(np.quantile(values, rng.uniform(0, 1 - width)))
            out.append((lo, float(np.quantile(values, min(1.0, np.mean(values <= lo) + width)))))
    return out


def test_never_returns_an_id_outside_the_range_and_reaches_high_recall(built):
    X, attribute, Q, algo = built
    values = attribute.values
    rng = np.random.default_rng(1)
    hits = total = 0
    # The graph only, scans of small ranges, the choice by cost; entries spread or by need (whose
    # whole segments of the cover are entered at their own entries, parts of leaves at their middle)
    for exact_below, entry_points in ((0, 64), (0, "cover"), (1024, 64), (None, 64), (None, "cover")):
        algo.set_query_arguments(ef_search=128, exact_below=exact_below, entry_points=entry_points)
        for q, (lo, hi) in zip(Q, ranges(values, rng)):
            ids = algo.filtered_query(q, 10, Filter("range", "value", (lo, hi)), None)
            assert ((values[ids] >= lo) & (values[ids] <= hi)).all() and len(set(ids)) == len(ids)
            truth = exact(X, values, q, lo, hi, 10)
            hits += len(set(ids) & set(truth))
            total += len(truth)
    assert hits / total >= 0.98


def test_each_range_takes_the_path_expected_to_do_less_work():
    # By default a range of m vectors is scanned when m x d is at most the improvised graph's
    # expected work at m (calibrated per ef_search and entry_points): small ranges are scanned,
    # answered exactly, and large ones searched.
    X, attribute, Q = data(n=20000, d=64)
    algo = fitted(X, attribute, M=16, ef_construction=64)
    algo.set_query_arguments(ef_search=32)
    values = np.sort(attribute.values)
    for count, path in ((40, "exact"), (10000, "graph")):
        lo, hi = values[5000], values[5000 + count - 1]
        span = int(((attribute.values >= lo) & (attribute.values <= hi)).sum())
        expected = span * X.shape[1] <= algo.index.expected_graph_work(32, algo.entry_points, span)
        assert expected == (path == "exact"), "the cost puts this range on one path"
        before = algo.stats()[f"{path}_queries"]
        ids = algo.filtered_query(Q[0], 10, Filter("range", "value", (lo, hi)), None)
        assert algo.stats()[f"{path}_queries"] == before + 1
        if path == "exact":
            assert list(ids) == list(exact(X, attribute.values, Q[0], lo, hi, 10))


def test_small_ranges_are_scanned_exactly_and_counted(built):
    X, attribute, Q, algo = built
    algo.set_query_arguments(ef_search=16, exact_below=10 ** 9)
    before = algo.stats()
    lo, hi = 3.0, 5.0
    assert list(algo.filtered_query(Q[0], 10, Filter("range", "value", (lo, hi)), None)) == \
        list(exact(X, attribute.values, Q[0], lo, hi, 10))
    after = algo.stats()
    assert after["exact_queries"] == before["exact_queries"] + 1 and after["graph_queries"] == before["graph_queries"]


def test_a_fresh_build_answers_with_its_defaults():
    X, attribute, Q = data(1000)
    algo = fitted(X, attribute, M=8, ef_construction=32)  # no set_query_arguments: entries by need, scan by cost
    lo, hi = np.quantile(attribute.values, [0.2, 0.6])
    ids = algo.filtered_query(Q[0], 10, Filter("range", "value", (lo, hi)), None)
    assert len(ids) == 10 and ((attribute.values[ids] >= lo) & (attribute.values[ids] <= hi)).all()


def test_open_sides_empty_ranges_and_missing_values():
    X, attribute, Q = data(1000)
    values = attribute.values.copy()
    values[::7] = np.nan  # missing: in no range
    algo = fitted(X, NumericAttribute("value", values), M=8, ef_construction=32)
    algo.set_query_arguments(ef_search=64, exact_below=0)
    ids = algo.filtered_query(Q[0], 10, Filter("range", "value", (-np.inf, np.inf)), None)
    assert len(ids) == 10 and not np.isnan(values[ids]).any()
    assert len(algo.filtered_query(Q[0], 10, Filter("range", "value", (100.0, 200.0)), None)) == 0
    batch = algo.batch_filtered_query(Q[:5], 10, [Filter("range", "value", (-np.inf, 4.0))] * 5, None)
    assert ((values[batch[batch >= 0]]) <= 4.0).all()


def test_one_thread_builds_are_deterministic_and_save_load_round_trips(tmp_path):
    X, attribute, Q = data(1500)
    a, b = (fitted(X, attribute, threads=1, M=8, ef_construction=32) for _ in range(2))
    a.save(str(tmp_path / "a.index"))
    b.save(str(tmp_path / "b.index"))
    assert (tmp_path / "a.index").read_bytes() == (tmp_path / "b.index").read_bytes()
    assert a.index_size() == (tmp_path / "a.index").stat().st_size
    loaded = IRangeGraph("euclidean", M=8, ef_construction=32)
    loaded.load(str(tmp_path / "a.index"))
    loaded.set_query_arguments(ef_search=32, exact_below=0)
    a.set_query_arguments(ef_search=32, exact_below=0)
    f = Filter("range", "value", (2.0, 9.0))
    assert list(loaded.filtered_query(Q[0], 10, f, None)) == list(a.filtered_query(Q[0], 10, f, None))
    (tmp_path / "a.index").write_bytes((tmp_path / "a.index").read_bytes()[:100])
    with pytest.raises(RuntimeError, match="truncated|corrupt"):
        loaded.load(str(tmp_path / "a.index"))


def test_what_it_refuses():
    with pytest.raises(ValueError, match="ef_construction must be at least M"):
        IRangeGraph("euclidean", M=32, ef_construction=8)
    X, attribute, Q = data(300)
    algo = fitted(X, attribute, M=8, ef_construction=16)
    with pytest.raises(ValueError, match="range filters only"):
        algo.filtered_query(Q[0], 10, Filter("containment", "labels", np.array([1])), None)
    with pytest.raises(ValueError, match="numeric attribute"):
        fitted(X, None)
    for wrong in (0, -3, "all"):  # the native index's 0 is 'cover', never taken as a count
        with pytest.raises(ValueError, match="entry_points must be at least 1 or 'cover'"):
            algo.set_query_arguments(ef_search=16, entry_points=wrong)


def test_a_segment_has_more_entries_only_where_its_graph_does_not_lead_to_all_of_it(built):
    """Entries by need: where the attribute follows the clusters, a large segment is a run of
    clusters its graph barely links, and searches from one entry miss members: each member missed
    adds an entry. Where the attribute is independent of the clusters, one entry a segment does,
    but for a rare probe that its short list misses."""
    X, follows, _, algo = built
    independent = fitted(X, NumericAttribute("value", np.random.default_rng(5).permutation(follows.values)),
                         M=16, ef_construction=64)

    def extra_entries(index, layers):
        return sum(sum(index.entry_counts(layer)) - len(index.entry_counts(layer)) for layer in layers)

    for index in (algo.index, independent.index):
        assert [len(index.entry_counts(layer)) for layer in (0, 1)] == [1, 2]  # segments: the base, its halves
        assert min(min(index.entry_counts(layer)) for layer in range(index.layers)) == 1
    segments = sum(len(independent.index.entry_counts(layer)) for layer in range(independent.index.layers))
    assert extra_entries(independent.index, range(independent.index.layers)) < segments / 100
    assert extra_entries(algo.index, (0, 1)) > 3 * max(1, extra_entries(independent.index, (0, 1)))


def test_more_entry_points_find_the_clusters_inside_a_range(built):
    """Where the attribute follows the clusters, a range is a run of clusters that the improvised
    graph barely links: entries spread through the range reach them, one entry often does not."""
    X, attribute, Q, algo = built
    values = attribute.values
    recalls = {}
    for entry_points in (1, "cover", 64):
        algo.set_query_arguments(ef_search=16, exact_below=0, entry_points=entry_points)
        hits = total = 0
        for q, (lo, hi) in zip(Q, ranges(values, np.random.default_rng(2))):
            truth = exact(X, values, q, lo, hi, 10)
            hits += len(set(algo.filtered_query(q, 10, Filter("range", "value", (lo, hi)), None)) & set(truth))
            total += len(truth)
        recalls[entry_points] = hits / total
    assert recalls[64] > recalls[1], recalls
    assert recalls["cover"] > recalls[1], recalls
