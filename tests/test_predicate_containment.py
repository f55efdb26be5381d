"""containment: L_q ⊆ L_i, over a label attribute (harness/predicates/containment.py)."""
import numpy as np
from hypothesis import given, settings, strategies as st

from harness.predicates import make
from tests.predicate_spec import agrees_with_reference, draws_are_sound, labels, plugins_get_a_filter, survives_the_file

SPEC = {"kind": "containment", "attribute": "labels"}


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 31), query=st.sets(st.integers(0, 13), max_size=4))
def test_passes_exactly_the_vectors_whose_labels_contain_the_query(seed, query):
    attribute = labels(np.random.default_rng(seed), 300)  # ids 12 and 13 are no label of the vocabulary
    predicate = make(SPEC, {"labels": attribute})
    operands = np.array(sorted(query), dtype=np.int32)
    agrees_with_reference(predicate, operands, [set(query) <= set(row) for row in attribute.rows()])


def test_the_empty_set_passes_everything_and_an_unknown_label_nothing():
    attribute = labels(np.random.default_rng(1), 50)
    predicate = make(SPEC, {"labels": attribute})
    assert predicate.valid_count(np.array([], dtype=np.int32)) == 50
    assert predicate.valid_count(np.array([99], dtype=np.int32)) == 0


def test_draws_are_subsets_of_the_query_items_own_labels(tmp_path):
    rng = np.random.default_rng(2)
    base, items = labels(rng, 2000, vocabulary=8), labels(rng, 40, vocabulary=8)
    predicate, drawn = draws_are_sound(SPEC, {"labels": base}, {"labels": items})
    assert all(1 <= len(o) <= 3 for o in drawn)
    own = sum(set(o) <= set(items.row(i)) for i, o in enumerate(drawn))
    assert own >= 30  # the rest were redrawn from random base items
    survives_the_file(predicate, drawn, tmp_path)
    assert set(predicate.groups(drawn)) == {"labels_short", "labels_medium", "labels_long"}


def test_words_and_filter():
    predicate = make(SPEC, {"labels": labels(np.random.default_rng(3), 10)})
    operands = np.array([1, 4], dtype=np.int32)
    assert predicate.describe(operands) == "labels contain l1 and l4"
    assert predicate.about() == "labels contain the query's labels"
    assert plugins_get_a_filter(predicate, operands, "containment", "labels").operands is operands
