"""overlap: the base vector carries at least one query label, L_q ∩ L_i ≠ ∅.

Operands: the query's label ids. Filter map: the OR of the labels' postings. Workload: 1 to 3 of
the query item's own labels (the FANNS paper)."""
import numpy as np

from harness.predicates._labels import LabelPredicate, subset


class Overlap(LabelPredicate):
    kind = "overlap"
    verb = "include one of"
    words = "the vector carries at least one query label (L_q ∩ L_i ≠ ∅)"

    def filter_map(self, operands):
        return self.index().any_of(operands)

    def passes_many(self, ids, owners, operands):
        shared, _, _ = self.shared_labels(ids, owners, operands)
        return shared > 0

    def describe(self, operands):
        names = " or ".join(self.attribute.label_name(int(x)) for x in operands) or "no label"
        return f"{self.name} include {names}"

    def candidate(self, labels, rng):
        return subset(labels, rng)


KIND = Overlap
