"""range: lo <= x_i <= hi over a numeric attribute, either side open (harness/predicates/range.py)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from harness.predicates import MIN_VALID, make
from harness.predicates.range import EPOCH_DAYS, LEVELS
from tests.predicate_spec import agrees_with_reference, draws_are_sound, numbers, plugins_get_a_filter, survives_the_file

SPEC = {"kind": "range", "attribute": "price"}
bound = st.one_of(st.floats(-10, 110, allow_nan=False), st.sampled_from([-np.inf, np.inf, 0.0, 49.0, 50.0]))


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2 ** 31), lo=bound, hi=bound, integers=st.booleans())
def test_passes_exactly_the_vectors_in_the_closed_range(seed, lo, hi, integers):
    attribute = numbers(np.random.default_rng(seed), 300, integers=integers)  # integers: many ties
    predicate = make(SPEC, {"price": attribute})
    agrees_with_reference(predicate, (lo, hi), (attribute.values >= lo) & (attribute.values <= hi))


def test_missing_values_pass_no_range():
    attribute = numbers(np.random.default_rng(1), 100)
    attribute.values[::3] = np.nan
    predicate = make(SPEC, {"price": attribute})
    agrees_with_reference(predicate, (-np.inf, np.inf), ~np.isnan(attribute.values))


def test_a_range_is_a_slice_of_the_sorted_order_not_a_scan():
    attribute = numbers(np.random.default_rng(2), 100_000)
    index = make(SPEC, {"price": attribute}).index()
    ids = index.ids(10.0, 20.0)
    assert np.shares_memory(ids, index.order)  # a view: two binary searches, no pass over the values
    assert set(ids.tolist()) == set(np.flatnonzero((attribute.values >= 10) & (attribute.values <= 20)).tolist())


def test_draws_hit_the_target_levels_with_some_sides_open(tmp_path):
    rng = np.random.default_rng(3)
    n = 20_000
    predicate, drawn = draws_are_sound(SPEC, {"price": numbers(rng, n)}, {}, count=400)
    counts = np.array([predicate.valid_count(o) for o in drawn])
    targets = np.array([max(MIN_VALID, round(LEVELS[i % len(LEVELS)] * n)) for i in range(400)])
    assert np.array_equal(counts, targets)  # distinct values: exactly the target share of the base
    open_below = sum(np.isneginf(lo) for lo, _ in drawn)
    open_above = sum(np.isposinf(hi) for _, hi in drawn)
    assert 20 <= open_below <= 80 and 20 <= open_above <= 80  # one in eight each
    groups = predicate.groups(drawn)
    assert {g: int(m.sum()) for g, m in groups.items()} == {"range 0.1%": 100, "range 1%": 100, "range 10%": 100,
                                                             "range 50%": 100}
    survives_the_file(predicate, drawn, tmp_path)


def test_a_spec_may_name_its_own_levels():
    predicate, drawn = draws_are_sound({**SPEC, "levels": [0.2]}, {"price": numbers(np.random.default_rng(4), 1000)},
                                       {}, count=10)
    assert all(predicate.valid_count(o) == 200 for o in drawn)


def test_words_dates_and_filter():
    days = numbers(np.random.default_rng(5), 10, name="date", integers=True, unit=EPOCH_DAYS)
    predicate = make({"kind": "range", "attribute": "date"}, {"date": days})
    assert predicate.describe((16436.0, 16467.0)) == "2015-01-01 <= date <= 2015-02-01"
    assert predicate.describe((-np.inf, 16436.0)) == "date <= 2015-01-01"
    assert predicate.about() == "lo <= date <= hi"
    assert plugins_get_a_filter(predicate, (1.0, 2.0), "range", "date").operands == (1.0, 2.0)


def test_nan_bounds_are_refused(tmp_path):
    import h5py
    predicate = make(SPEC, {"price": numbers(np.random.default_rng(6), 10)})
    with h5py.File(tmp_path / "bad.hdf5", "w") as f:
        f["o/lo"], f["o/hi"] = np.array([np.nan]), np.array([1.0])
    with h5py.File(tmp_path / "bad.hdf5") as f, pytest.raises(ValueError, match="NaN"):
        predicate.load(f, "o", 1)
