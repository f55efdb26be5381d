"""and: every part holds, e.g. a label containment and a range (harness/predicates/conjunction.py)."""
import time
from types import SimpleNamespace

import numpy as np
import pytest

from harness.predicates import make
from harness.worker import QueryPass
from tests.predicate_spec import (agrees_with_reference, draws_are_sound, labels, numbers, plugins_get_a_filter,
                                  survives_the_file)

SPEC = {"kind": "and", "parts": [{"kind": "containment", "attribute": "labels"},
                                 {"kind": "range", "attribute": "price", "levels": [0.5]}]}


def attributes(n, seed=0):
    rng = np.random.default_rng(seed)
    return {"labels": labels(rng, n, vocabulary=6), "price": numbers(rng, n)}


def test_passes_exactly_the_vectors_that_pass_every_part():
    attrs = attributes(500)
    predicate = make(SPEC, attrs)
    for query, lo, hi in [([1], 10.0, 60.0), ([0, 2], -np.inf, 50.0), ([], 99.0, np.inf), ([5], 0.0, 0.0)]:
        want = [set(query) <= set(row) and lo <= x <= hi for row, x in zip(attrs["labels"].rows(), attrs["price"].values)]
        agrees_with_reference(predicate, (np.array(query, dtype=np.int32), (lo, hi)), want)


def test_draws_pair_the_query_items_labels_with_a_range(tmp_path):
    attrs, items = attributes(3000), attributes(40, seed=1)
    predicate, drawn = draws_are_sound(SPEC, attrs, {"labels": items["labels"]})
    own = sum(set(labels_) <= set(items["labels"].row(i)) for i, (labels_, _) in enumerate(drawn))
    assert own >= 30  # the label part comes from the query item's own labels (or, redrawn, a base item's)
    survives_the_file(predicate, drawn, tmp_path)
    assert set(predicate.groups(drawn)) >= {"labels_short", "range 50%"}


def test_words_and_filter():
    predicate = make(SPEC, attributes(10))
    operands = (np.array([1], dtype=np.int32), (2015.0, 2019.0))
    assert predicate.describe(operands) == "labels contain l1 and 2015 <= price <= 2019"
    assert predicate.about() == "labels contain the query's labels and lo <= price <= hi"
    f = plugins_get_a_filter(predicate, operands, "and", "")
    assert [(part.kind, part.attribute) for part in f.operands] == [("containment", "labels"), ("range", "price")]


def test_a_malformed_spec_is_refused():
    with pytest.raises(ValueError, match="at least two parts"):
        make({"kind": "and", "parts": [{"kind": "range", "attribute": "price"}]}, attributes(10))
    with pytest.raises(ValueError, match="unknown predicate"):
        make({"kind": "and", "parts": [{"kind": "nope"}, {"kind": "range", "attribute": "price"}]}, attributes(10))
    with pytest.raises(ValueError, match="reads a numeric attribute, and 'labels' is labels"):
        make({"kind": "range", "attribute": "labels"}, attributes(10))


def test_a_query_pass_makes_every_parts_index_before_its_clock_starts_and_only_for_a_map():
    # The worker times each query's filter map (QueryPass.single, .batch). The postings and sorted
    # order that maps are made from are built before the clock starts, so the first timed query
    # does not pay for them (at yfcc-10M the postings took 30 s inside it); a plugin that takes no
    # filter map gets none built. Here making an index takes 0.3 s, and no timed map may.
    operands = [(np.array([1], dtype=np.int32), (10.0, 60.0)), (np.array([0, 2], dtype=np.int32), (-np.inf, 50.0))]
    nothing_found = SimpleNamespace(filtered_query=lambda q, k, filter, valid: np.array([], dtype=np.int64),
                                    batch_filtered_query=lambda Q, k, filters, valid: [[]] * len(Q))
    for uses_filter_map in (True, False):
        for mode in ("single", "batch"):
            predicate = make(SPEC, attributes(500))
            made = []
            for part in predicate.parts:
                part.make_index = lambda original=part.make_index: made.append(time.sleep(0.3)) or original()
            ds = SimpleNamespace(test=np.zeros((2, 4), dtype=np.float32),
                                 scenarios={"and": SimpleNamespace(predicate=predicate, operands=operands)})
            timed = getattr(QueryPass(ds, "and", 10, np.arange(2)), mode)(nothing_found, uses_filter_map)
            assert len(made) == (2 if uses_filter_map else 0)
            assert np.max(timed[2]) < 0.3  # the filter-map time: maps only


def test_predicates_over_one_attribute_share_the_index_they_build_from_it():
    # Each scenario has its own predicate, and several read one attribute (yfcc's containment and
    # overlap both read `labels`): the postings are built once per attribute, not per scenario
    # (at yfcc-10M each copy took 0.5 GB and 21 s).
    shared = attributes(500)
    containment, overlap, both = (make(spec, shared) for spec in
                                  ({"kind": "containment", "attribute": "labels"},
                                   {"kind": "overlap", "attribute": "labels"}, SPEC))
    assert containment.index() is overlap.index() is both.parts[0].index()
    assert both.parts[1].index() is make({"kind": "range", "attribute": "price"}, shared).index()
    assert both.parts[1].index() is not containment.index()
    assert make({"kind": "containment", "attribute": "labels"}, attributes(500)).index() is not containment.index()
