"""equality: L_i = L_q, over a label attribute; over a fixed-length one it is the FANNS paper's
fixed-length equality (harness/predicates/equality.py)."""
import numpy as np
from hypothesis import given, settings, strategies as st

from datasets.workloads import fixed_length_labels
from harness.attributes import LabelAttribute
from harness.predicates import make
from tests.predicate_spec import agrees_with_reference, draws_are_sound, labels, plugins_get_a_filter, survives_the_file

SPEC = {"kind": "equality", "attribute": "labels"}


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 31), query=st.sets(st.integers(0, 13), max_size=4))
def test_passes_exactly_the_vectors_whose_label_set_is_the_query(seed, query):
    attribute = labels(np.random.default_rng(seed), 300, vocabulary=5, most=3)  # many equal sets
    predicate = make(SPEC, {"labels": attribute})
    agrees_with_reference(predicate, np.array(sorted(query), dtype=np.int32),
                          [set(query) == set(row) for row in attribute.rows()])


def test_the_empty_set_passes_the_unlabelled_vectors():
    attribute = labels(np.random.default_rng(1), 80)
    predicate = make(SPEC, {"labels": attribute})
    assert predicate.valid_count(np.array([], dtype=np.int32)) == int(np.sum(attribute.sizes() == 0))


def test_fixed_length_equality_draws_the_query_items_whole_assignment(tmp_path):
    rng = np.random.default_rng(2)
    fixed = fixed_length_labels(2040, rng)
    base, items = LabelAttribute.of("fixed", fixed.take(range(2000))), LabelAttribute.of("fixed", fixed.take(range(2000, 2040)))
    predicate, drawn = draws_are_sound({"kind": "equality", "attribute": "fixed"}, {"fixed": base}, {"fixed": items})
    assert all(len(o) == 4 for o in drawn)
    assert sum(np.array_equal(o, items.row(i)) for i, o in enumerate(drawn)) >= 38  # 81 combinations, 2,000 vectors
    survives_the_file(predicate, drawn, tmp_path)
    assert predicate.describe(drawn[0]).startswith("fixed are exactly {f0=")
    plugins_get_a_filter(predicate, drawn[0], "equality", "fixed")
