"""The filter-map machinery: packed bitsets, and label postings that equal a naive evaluation."""
import numpy as np
from hypothesis import given, settings, strategies as st

from harness.filters import LabelIndex, bitset_to_ids, ids_to_bitset, popcount

label_sets = st.lists(st.sets(st.integers(0, 11), max_size=5), min_size=1, max_size=300)
query_sets = st.lists(st.sets(st.integers(0, 13), max_size=4), min_size=1, max_size=20)


def csr(rows):
    rows = [sorted(r) for r in rows]
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    indices = np.array([x for r in rows for x in r], dtype=np.int64)
    return indptr, indices


def unpack(bits, n):
    return np.unpackbits(bits, count=n, bitorder="little").astype(bool)


@settings(max_examples=150, deadline=None)
@given(base=label_sets, queries=query_sets)
def test_postings_match_a_naive_evaluation(base, queries):
    index = LabelIndex(*csr(base), n_labels=12)  # query labels 12 and 13 are unknown to the base
    for label in range(12):  # each posting: the ids that carry the label, in increasing order
        assert index.posting(label).tolist() == [i for i, b in enumerate(base) if label in b]
    for q in queries:
        labels = np.array(sorted(q))
        assert np.array_equal(unpack(index.all_of(labels), len(base)), [q <= b for b in base])
        assert index.count_all_of(labels) == sum(q <= b for b in base)
        assert np.array_equal(unpack(index.any_of(labels), len(base)), [bool(q & b) for b in base])
        assert np.array_equal(unpack(index.all_of(labels, size=len(q)), len(base)), [q == b for b in base])
        assert not np.unpackbits(index.all_of(labels), bitorder="little")[len(base):].any(), "bits past n must be 0"


def test_bitset_is_little_endian_packbits_layout():
    n = 21
    ids = np.array([0, 3, 8, 9, 20])
    mask = np.zeros(n, dtype=bool)
    mask[ids] = True
    assert np.array_equal(ids_to_bitset(ids, n), np.packbits(mask, bitorder="little"))
    assert popcount(ids_to_bitset(ids, n)) == 5
    assert np.array_equal(bitset_to_ids(ids_to_bitset(ids, n), n), ids)


def test_dense_and_sparse_postings_agree_at_scale():
    rng = np.random.default_rng(0)
    n = 20_000
    # label 0 is frequent (dense bitset), labels 1..50 rare (sorted id lists)
    base = [set(rng.choice(51, rng.integers(1, 4), replace=False, p=[0.5] + [0.01] * 50)) for _ in range(n)]
    index = LabelIndex(*csr(base), n_labels=51)
    assert 0 in index.dense and 7 not in index.dense
    for q in ({0}, {0, 7}, {7, 9}, {0, 7, 9}):
        labels = np.array(sorted(q))
        assert np.array_equal(unpack(index.all_of(labels), n), [q <= b for b in base])
        assert index.count_all_of(labels) == sum(q <= b for b in base)
        assert np.array_equal(unpack(index.any_of(labels), n), [bool(q & b) for b in base])


def test_postings_memory_stays_proportional_to_labels_for_a_large_vocabulary():
    rng = np.random.default_rng(1)
    n, vocabulary = 50_000, 200_000
    rows = [rng.choice(vocabulary, 10, replace=False) for _ in range(n)]
    index = LabelIndex(*csr(rows), n_labels=vocabulary)
    assert index.nbytes() < 3 * 10 * n * 4  # about the size of the ids themselves, not n × vocabulary bits
