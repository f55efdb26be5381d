"""What every predicate kind must do, checked the same way for each (tests/test_predicate_<kind>.py):
its filter map and its exact check agree with a plain reference on every base vector, its operands
survive the dataset file, its draws keep MIN_VALID valid vectors, and plugins get a Filter."""
import h5py
import numpy as np

from harness.attributes import LabelAttribute, NumericAttribute
from harness.filters import popcount
from harness.predicates import MIN_VALID, Filter, make


def labels(rng, n, vocabulary=12, most=4, name="labels"):
    rows = [rng.choice(vocabulary, rng.integers(0, most + 1), replace=False) for _ in range(n)]
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    return LabelAttribute(name, indptr, np.concatenate(rows).astype(np.int64) if rows else [],
                          [f"{name[0]}{i}" for i in range(vocabulary)])


def numbers(rng, n, name="price", integers=False, unit=""):
    values = rng.integers(0, 50, n) if integers else rng.random(n) * 100
    return NumericAttribute(name, values, unit)


def agrees_with_reference(predicate, operands, reference):
    """The filter map, the exact check and the plain reference (a bool per base vector) agree."""
    n = predicate.n
    bits = predicate.filter_map(operands)
    assert bits.dtype == np.uint8 and bits.shape == ((n + 7) // 8,)
    mask = np.unpackbits(bits, count=n, bitorder="little").astype(bool)
    assert not np.unpackbits(bits, bitorder="little")[n:].any(), "bits past n must be 0"
    want = np.asarray(reference, dtype=bool)
    assert np.array_equal(mask, want), (operands, np.flatnonzero(mask != want)[:5])
    assert np.array_equal(predicate.passes(np.arange(n), operands), want)
    if hasattr(predicate, "passing_count"):  # the workload's MIN_VALID check
        assert predicate.passing_count(operands) == want.sum()
    ids = np.random.default_rng(0).integers(0, n, 2 * n)  # in any order and repeated, as plugins return them
    assert np.array_equal(predicate.passes(ids, operands), want[ids])
    assert predicate.passes(ids[:0], operands).shape == (0,)
    return mask


def survives_the_file(predicate, operands, tmp_path):
    """store() then load() gives the same operands back."""
    path = tmp_path / "operands.hdf5"
    with h5py.File(path, "w") as f:
        for key, value in predicate.store(operands, "scenarios/s/operands").items():
            f[key] = value
    with h5py.File(path) as f:
        loaded = predicate.load(f, "scenarios/s/operands", len(operands))
    assert len(loaded) == len(operands)
    for a, b in zip(loaded, operands):
        assert repr(np.asarray(a, dtype=object).tolist()) == repr(np.asarray(b, dtype=object).tolist()) \
            or np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float)), (a, b)
    return loaded


def draws_are_sound(spec, attributes, query_attributes, count=40, seed=0):
    """Draws pass at least MIN_VALID base vectors each, and the same seed draws the same; the
    check of many queries at once (the evaluator's) agrees with each query's own."""
    predicate = make(spec, attributes)
    first, _ = predicate.draw(query_attributes, np.random.default_rng(seed), count)
    again, _ = make(spec, attributes).draw(query_attributes, np.random.default_rng(seed), count)
    assert len(first) == count
    assert repr(first) == repr(again)
    for operands in first:
        assert popcount(predicate.filter_map(operands)) >= MIN_VALID, operands
    checks_many_queries_at_once(predicate, first)
    return predicate, first


def checks_many_queries_at_once(predicate, operand_list, pairs=3000):
    """passes_many over random (query, id) pairs, repeats included, equals passes per query."""
    rng = np.random.default_rng(1)
    owners = rng.integers(0, len(operand_list), pairs)
    ids = rng.integers(0, predicate.n, pairs)
    want = np.array([predicate.passes(ids[j:j + 1], operand_list[owners[j]])[0] for j in range(pairs)])
    assert np.array_equal(predicate.passes_many(ids, owners, operand_list), want)
    assert predicate.passes_many(ids[:0], owners[:0], operand_list).shape == (0,)


def plugins_get_a_filter(predicate, operands, kind, attribute):
    f = predicate.filter(operands)
    assert isinstance(f, Filter) and f.kind == kind and f.attribute == attribute
    return f
