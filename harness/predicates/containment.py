"""containment: the base vector's label set contains every query label, L_q ⊆ L_i.

Operands: the query's label ids. Filter map: the AND of the labels' postings. Workload: 1 to 3
of the query item's own labels (the FANNS paper). The empty set passes every vector."""
import numpy as np

from harness.predicates._labels import LabelPredicate, subset


class Containment(LabelPredicate):
    kind = "containment"
    verb = "contain"
    words = "the vector's labels contain every query label (L_q ⊆ L_i)"

    def filter_map(self, operands):
        return self.index().all_of(operands)

    def passing_count(self, operands):
        return self.index().count_all_of(operands)

    def passes_many(self, ids, owners, operands):
        shared, _, wanted = self.shared_labels(ids, owners, operands)
        return shared == wanted

    def candidate(self, labels, rng):
        return subset(labels, rng)


KIND = Containment
