"""UNG, the Unified Navigating Graph (Cai et al., SIGMOD 2025), our own C++ in native/src/ung.cpp.

Label-aware: the index is built from the base labels (a new label assignment is a rebuild). It
filters on its own structure, not the harness's filter map: containment and equality never
leave the valid region; overlap runs one containment search per query label and merges them.
Unfiltered queries are containment of the empty set: they start from the groups whose sets have
no subset among the base's.
"""
import numpy as np

from algorithms.base import NativeIndex

# UNG compares distances when it prunes, so angular data is normalized and searched by L2,
# which ranks unit vectors as the angle does.
METRICS = {"euclidean": "l2", "angular": "l2"}
PREDICATES = {"unfiltered": "containment", "containment": "containment", "overlap": "overlap",
              "equality": "equality", "fixed_equality": "equality"}
NO_LABELS = np.zeros(0, dtype=np.int32)


class Ung(NativeIndex):
    native_class = "Ung"

    def __init__(self, distance, R=32, L_build=100, alpha=1.2, cross_edges=6, seed=100):
        super().__init__(distance)
        if distance not in METRICS:
            raise ValueError(f"UNG: distance must be one of {', '.join(METRICS)}, not '{distance}'")
        self.params = dict(R=int(R), L_build=int(L_build), alpha=float(alpha), cross_edges=int(cross_edges),
                           seed=int(seed))
        self.native.check_ung_params(R=self.params["R"], L_build=self.params["L_build"], alpha=self.params["alpha"],
                                     cross_edges=self.params["cross_edges"])  # before any data is read
        self.L_search, self.entry_points = 100, 1

    def fit(self, X, labels):
        X = self.vectors(X)
        self.n, d = X.shape
        indptr, indices = (labels.indptr, labels.indices) if labels is not None else (np.zeros(self.n + 1, np.int64), NO_LABELS)
        self.index = self.native.Ung(d, METRICS[self.distance], **self.params)
        self.index.build(X, indptr, indices, self.threads)

    def set_query_arguments(self, L_search=100, entry_points=1):
        self.L_search, self.entry_points = int(L_search), int(entry_points)

    @staticmethod
    def predicate(scenario):
        if scenario not in PREDICATES:
            raise ValueError(f"UNG answers {', '.join(PREDICATES)}; '{scenario}' is refused")
        return PREDICATES[scenario]

    def filtered_query(self, q, k, query_labels, scenario, valid):
        ids = self.index.search(self.vectors(np.asarray(q).reshape(1, -1))[0], k,
                                NO_LABELS if query_labels is None else query_labels, self.predicate(scenario),
                                self.L_search, self.entry_points)
        return ids[ids >= 0].astype(np.int64)

    def batch_filtered_query(self, Q, k, query_label_rows, scenario, valid_rows):
        rows = [NO_LABELS] * len(Q) if query_label_rows is None else list(query_label_rows)
        return self.index.search_batch(self.vectors(Q), k, rows, self.predicate(scenario),
                                       self.L_search, self.entry_points, self.threads).astype(np.int64)
