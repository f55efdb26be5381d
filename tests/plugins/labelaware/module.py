"""A plugin built on the attribute its predicate reads, filtering with its own copy of it and
ignoring the harness's filter map: exact only if the harness refits it for each attribute."""
import numpy as np

from algorithms.bruteforce.module import BruteForce
from harness.filters import ids_to_bitset
from harness.predicates import make


class OwnLabelsExact(BruteForce):
    predicates = ("unfiltered", "containment", "overlap", "equality")
    builds_on_attribute = True
    uses_filter_map = False
    fits = 0

    def fit(self, X, attribute):
        super().fit(X, attribute)
        self.attribute = attribute
        OwnLabelsExact.fits += 1
        self.fit_number = OwnLabelsExact.fits

    def filtered_query(self, q, k, filter, valid):
        assert valid is None, "uses_filter_map = False, so the harness passes no filter map"
        if filter is None:
            return super().filtered_query(q, k, None, None)
        assert filter.attribute == self.attribute.name, "built on another attribute than the predicate reads"
        # The plain check of the predicate on its own attribute, every base vector.
        predicate = make({"kind": filter.kind, "attribute": filter.attribute}, {filter.attribute: self.attribute})
        own = ids_to_bitset(np.flatnonzero(predicate.passes(np.arange(self.n), filter.operands)), self.n)
        return super().filtered_query(q, k, filter, own)

    def stats(self):
        return {"fit_number": self.fit_number}
