"""Filter maps equal a naive pure-Python evaluation of the four predicates."""
import numpy as np
from hypothesis import given, settings, strategies as st

from harness.filters import SCENARIOS, LabelIndex, bitset_to_ids, ids_to_bitset, is_valid, popcount

label_sets = st.lists(st.sets(st.integers(0, 11), max_size=5), min_size=1, max_size=300)
query_sets = st.lists(st.sets(st.integers(0, 13), max_size=4), min_size=1, max_size=20)


def csr(rows):
    rows = [sorted(r) for r in rows]
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    indices = np.array([x for r in rows for x in r], dtype=np.int64)
    return indptr, indices


def naive_mask(base, query, scenario):
    return np.array([is_valid(b, query, scenario) for b in base])


@settings(max_examples=150, deadline=None)
@given(base=label_sets, queries=query_sets)
def test_filter_maps_match_naive_reference_for_every_scenario(base, queries):
    index = LabelIndex(*csr(base), n_labels=12)  # query labels 12 and 13 are unknown to the base
    for scenario in SCENARIOS:
        maps = index.filter_maps([np.array(sorted(q)) for q in queries], scenario)
        for q, bits in zip(queries, maps):
            got = np.unpackbits(bits, count=len(base), bitorder="little").astype(bool)
            assert np.array_equal(got, naive_mask(base, q, scenario)), (scenario, q)
            assert not np.unpackbits(bits, bitorder="little")[len(base):].any(), "bits past n must be 0"


def test_empty_and_single_label_queries():
    base = [set(), {1}, {1, 2}, {2}, {3}]
    index = LabelIndex(*csr(base), n_labels=4)
    ids = lambda q, s: list(bitset_to_ids(index.filter_map(np.array(q, dtype=np.int64), s), len(base)))
    assert ids([], "containment") == [0, 1, 2, 3, 4]  # the empty set is in every set
    assert ids([], "overlap") == []                   # nothing intersects the empty set
    assert ids([], "equality") == [0]                 # only the empty label set equals it
    assert ids([1], "containment") == [1, 2]
    assert ids([1], "equality") == [1]
    assert ids([1, 2], "overlap") == [1, 2, 3]


def test_bitset_is_little_endian_packbits_layout():
    n = 21
    ids = np.array([0, 3, 8, 9, 20])
    mask = np.zeros(n, dtype=bool)
    mask[ids] = True
    assert np.array_equal(ids_to_bitset(ids, n), np.packbits(mask, bitorder="little"))
    assert popcount(ids_to_bitset(ids, n)) == 5


def test_dense_and_sparse_postings_agree_at_scale():
    rng = np.random.default_rng(0)
    n = 20_000
    # label 0 is frequent (dense bitset), labels 1..50 rare (sorted id lists)
    base = [set(rng.choice(51, rng.integers(1, 4), replace=False, p=[0.5] + [0.01] * 50)) for _ in range(n)]
    index = LabelIndex(*csr(base), n_labels=51)
    assert 0 in index.dense and 7 not in index.dense
    for q in ([0], [0, 7], [7, 9], [0, 7, 9]):
        for scenario in ("containment", "overlap", "equality"):
            got = np.unpackbits(index.filter_map(np.array(q), scenario), count=n, bitorder="little").astype(bool)
            assert np.array_equal(got, naive_mask(base, set(q), scenario))


def test_postings_memory_stays_proportional_to_labels_for_a_large_vocabulary():
    rng = np.random.default_rng(1)
    n, vocabulary = 50_000, 200_000
    rows = [rng.choice(vocabulary, 10, replace=False) for _ in range(n)]
    index = LabelIndex(*csr(rows), n_labels=vocabulary)
    assert index.nbytes() < 3 * 10 * n * 4  # about the size of the ids themselves, not n × vocabulary bits
