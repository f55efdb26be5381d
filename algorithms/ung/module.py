"""UNG, the Unified Navigating Graph (Cai et al., SIGMOD 2025), our own C++ in native/src/ung.cpp.

Built on a label attribute (each attribute its predicates read is a build of its own). It filters
on its own structure, not the harness's filter map: containment and equality never leave the
valid region; overlap runs one containment search per query label and merges them. Unfiltered
queries are containment of the empty set: they start from the groups whose sets have no subset
among the base's. Ranges and their combinations are not its kind of predicate: skipped.
"""
import numpy as np

from algorithms.base import NativeIndex

# UNG compares distances when it prunes, so angular data is normalized and searched by L2,
# which ranks unit vectors as the angle does.
METRICS = {"euclidean": "l2", "angular": "l2"}
NO_LABELS = np.zeros(0, dtype=np.int32)


class Ung(NativeIndex):
    native_class = "Ung"
    predicates = ("unfiltered", "containment", "overlap", "equality")
    builds_on_attribute = True
    uses_filter_map = False

    def __init__(self, distance, R=32, L_build=100, alpha=1.2, cross_edges=6, seed=100):
        super().__init__(distance)
        if distance not in METRICS:
            raise ValueError(f"UNG: distance must be one of {', '.join(METRICS)}, not '{distance}'")
        self.params = dict(R=int(R), L_build=int(L_build), alpha=float(alpha), cross_edges=int(cross_edges),
                           seed=int(seed))
        self.native.check_ung_params(R=self.params["R"], L_build=self.params["L_build"], alpha=self.params["alpha"],
                                     cross_edges=self.params["cross_edges"])  # before any data is read
        self.L_search, self.entry_points = 100, 1

    def fit(self, X, attribute):
        X = self.vectors(X)
        self.n, d = X.shape
        indptr, indices = (attribute.indptr, attribute.indices) if attribute is not None else \
            (np.zeros(self.n + 1, np.int64), NO_LABELS)
        self.index = self.native.Ung(d, METRICS[self.distance], **self.params)
        self.index.build(X, indptr, indices, self.threads)

    def set_query_arguments(self, L_search=100, entry_points=1):
        self.L_search, self.entry_points = int(L_search), int(entry_points)

    @staticmethod
    def query(filter):
        """(label ids, predicate) of a filter; unfiltered is containment of the empty set."""
        if filter is None:
            return NO_LABELS, "containment"
        if filter.kind not in Ung.predicates:
            raise ValueError(f"UNG answers {', '.join(Ung.predicates)}; '{filter.kind}' is refused")
        return filter.operands, filter.kind

    def filtered_query(self, q, k, filter, valid):
        labels, predicate = self.query(filter)
        ids = self.index.search(self.vectors(np.asarray(q).reshape(1, -1))[0], k, labels, predicate,
                                self.L_search, self.entry_points)
        return ids[ids >= 0].astype(np.int64)

    def batch_filtered_query(self, Q, k, filters, valid_rows):
        queries = [self.query(f) for f in filters]
        predicates = {predicate for _, predicate in queries}
        if len(predicates) != 1:
            raise ValueError("UNG's batch search takes one predicate kind per batch")
        return self.index.search_batch(self.vectors(Q), k, [labels for labels, _ in queries], predicates.pop(),
                                       self.L_search, self.entry_points, self.threads).astype(np.int64)
