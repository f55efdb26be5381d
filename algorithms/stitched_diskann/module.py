"""Stitched-DiskANN (Gollapudi et al., WWW 2023), our own C++ in native/src/stitched.cpp.

Built on a label attribute (each attribute its predicates read is a build of its own). It filters
on its own structure, not the harness's filter map: a search walks only the points that carry the
query's rarest label (overlap: any of the query's labels) and checks the whole predicate before a
point enters the result, growing its list when fewer than k pass. The paper answers one label per
query; label sets are the FANNS paper's extension. Unfiltered queries and ranges are not its kind:
skipped (a point without labels lies in no label's graph).
"""
import numpy as np

from algorithms.base import NativeIndex

# alpha-pruning compares distances, so angular data is normalized and searched by L2, which ranks
# unit vectors as the angle does.
METRICS = {"euclidean": "l2", "angular": "l2"}


class StitchedDiskann(NativeIndex):
    native_class = "Stitched"
    predicates = ("containment", "overlap", "equality")
    builds_on_attribute = True
    uses_filter_map = False

    def __init__(self, distance, R_small=32, L_small=100, R_stitched=64, alpha=1.2, seed=100):
        super().__init__(distance)
        if distance not in METRICS:
            raise ValueError(f"Stitched-DiskANN: distance must be one of {', '.join(METRICS)}, not '{distance}'")
        self.params = dict(R_small=int(R_small), L_small=int(L_small), R_stitched=int(R_stitched), alpha=float(alpha),
                           seed=int(seed))
        self.native.check_stitched_params(R_small=self.params["R_small"], L_small=self.params["L_small"],
                                          R_stitched=self.params["R_stitched"], alpha=self.params["alpha"])
        self.L_search = 100

    def fit(self, X, attribute):
        X = self.vectors(X)
        self.n, d = X.shape
        self.index = self.native.Stitched(d, METRICS[self.distance], **self.params)
        self.index.build(X, attribute.indptr, attribute.indices, self.threads)

    def set_query_arguments(self, L_search=100):
        if int(L_search) < 1:
            raise ValueError(f"Stitched-DiskANN: L_search must be at least 1, got {L_search}")
        self.L_search = int(L_search)

    @staticmethod
    def kind(filter):
        if filter is None or filter.kind not in StitchedDiskann.predicates:
            raise ValueError(f"Stitched-DiskANN answers {', '.join(StitchedDiskann.predicates)}; "
                             f"'{'unfiltered' if filter is None else filter.kind}' is refused")
        return filter.kind

    def filtered_query(self, q, k, filter, valid):
        ids = self.index.search(self.vectors(np.asarray(q).reshape(1, -1))[0], k, filter.operands, self.kind(filter),
                                self.L_search)
        return ids[ids >= 0].astype(np.int64)

    def batch_filtered_query(self, Q, k, filters, valid_rows):
        kinds = {self.kind(f) for f in filters}
        if len(kinds) != 1:
            raise ValueError("Stitched-DiskANN's batch search takes one predicate kind per batch")
        return self.index.search_batch(self.vectors(Q), k, [f.operands for f in filters], kinds.pop(), self.L_search,
                                       self.threads).astype(np.int64)

    def stats(self):
        return {**super().stats(), "grown_searches": int(self.index.grown_searches)}
