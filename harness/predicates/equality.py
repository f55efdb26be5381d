"""equality: the base vector's label set is exactly the query's, L_i = L_q (the FANNS paper's
equality, and over a fixed-length attribute (F positions × V values) its fixed-length equality).

Operands: the query's label ids. Filter map: no candidate is scanned: L_i = L_q exactly when
L_q ⊆ L_i and |L_i| = |L_q|, so it is the AND of the labels' postings and the posting of sets of
that size. Workload: the query item's whole label set."""
import numpy as np

from harness.predicates._labels import LabelPredicate


class Equality(LabelPredicate):
    kind = "equality"
    verb = "are exactly"
    words = "the vector's label set equals the query's (L_i = L_q)"

    def filter_map(self, operands):
        return self.index().all_of(operands, size=len(operands))

    def passes_many(self, ids, owners, operands):
        shared, distinct, wanted = self.shared_labels(ids, owners, operands)
        return (shared == wanted) & (distinct == wanted)

    def describe(self, operands):
        names = ", ".join(self.attribute.label_name(int(x)) for x in operands)
        return f"{self.name} are exactly {{{names}}}"

    def candidate(self, labels, rng):
        return np.sort(labels)


KIND = Equality
