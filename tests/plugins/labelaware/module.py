"""A label-aware plugin that filters with the base labels it was fitted with, ignoring the
harness's filter map: exact only if the harness refits it for each base-label assignment."""
from algorithms.bruteforce.module import BruteForce
from harness.filters import LabelIndex


class OwnLabelsExact(BruteForce):
    fits = 0

    def fit(self, X, labels):
        super().fit(X, labels)
        self.own = LabelIndex(labels.indptr, labels.indices, labels.n_labels)
        OwnLabelsExact.fits += 1
        self.fit_number = OwnLabelsExact.fits

    def filtered_query(self, q, k, query_labels, scenario, valid):
        assert valid is None, "uses_filter_map: false, so the harness passes no filter map"
        own = None if query_labels is None else self.own.filter_map(query_labels, scenario)
        return super().filtered_query(q, k, query_labels, scenario, own)

    def stats(self):
        return {"fit_number": self.fit_number}
