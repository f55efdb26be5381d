"""overlap: L_q ∩ L_i ≠ ∅, over a label attribute (harness/predicates/overlap.py)."""
import numpy as np
from hypothesis import given, settings, strategies as st

from harness.predicates import make
from tests.predicate_spec import agrees_with_reference, draws_are_sound, labels, plugins_get_a_filter, survives_the_file

SPEC = {"kind": "overlap", "attribute": "labels"}


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 31), query=st.sets(st.integers(0, 13), max_size=4))
def test_passes_exactly_the_vectors_that_share_a_label_with_the_query(seed, query):
    attribute = labels(np.random.default_rng(seed), 300)
    predicate = make(SPEC, {"labels": attribute})
    agrees_with_reference(predicate, np.array(sorted(query), dtype=np.int32),
                          [bool(set(query) & set(row)) for row in attribute.rows()])


def test_the_empty_set_passes_nothing():
    predicate = make(SPEC, {"labels": labels(np.random.default_rng(1), 50)})
    assert predicate.valid_count(np.array([], dtype=np.int32)) == 0


def test_draws_keep_enough_valid_vectors(tmp_path):
    rng = np.random.default_rng(2)
    predicate, drawn = draws_are_sound(SPEC, {"labels": labels(rng, 2000, vocabulary=30)},
                                       {"labels": labels(rng, 40, vocabulary=30)})
    survives_the_file(predicate, drawn, tmp_path)


def test_words_and_filter():
    predicate = make(SPEC, {"labels": labels(np.random.default_rng(3), 10)})
    assert predicate.describe(np.array([2, 5])) == "labels include l2 or l5"
    plugins_get_a_filter(predicate, np.array([2, 5]), "overlap", "labels")
