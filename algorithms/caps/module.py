"""CAPS (Gupta et al., 2023), our own C++ in native/src/caps.cpp; the k-means partitions come
from faiss, inside fit(), so the build time holds everything a query needs.

Built on a label attribute. Equality over a fixed-length attribute is CAPS's own filter (each
vector has one value per position). Equality on free label sets is our extension: a set is matched
as a whole, and an empty set behaves as one reserved value. Unfiltered queries scan the probed
partitions whole (an IVF search). Other predicates are not its kind: skipped.
"""
import faiss
import numpy as np

from algorithms.base import NativeIndex

# Angular data is normalized and partitioned and searched by L2, which ranks unit vectors as the angle does.
METRICS = {"euclidean": "l2", "angular": "l2"}


class Caps(NativeIndex):
    native_class = "Caps"
    predicates = ("unfiltered", "equality")
    builds_on_attribute = True
    uses_filter_map = False

    def __init__(self, distance, partitions=1024, height=8, kmeans_iterations=20, seed=1234):
        super().__init__(distance)
        if distance not in METRICS:
            raise ValueError(f"CAPS: distance must be one of {', '.join(METRICS)}, not '{distance}'")
        if int(partitions) < 1 or int(height) < 0:
            raise ValueError(f"CAPS: partitions must be >= 1 and height >= 0, got {partitions} and {height}")
        self.partitions, self.height = int(partitions), int(height)
        self.kmeans_iterations, self.seed = int(kmeans_iterations), int(seed)
        self.nprobe, self.budget = 16, 0

    def fit(self, X, attribute):
        X = self.vectors(X)
        self.n, d = X.shape
        partitions = min(self.partitions, self.n)  # k-means needs a vector per centroid
        faiss.omp_set_num_threads(self.threads)
        kmeans = faiss.Kmeans(d, partitions, niter=self.kmeans_iterations, seed=self.seed)
        kmeans.train(X)
        _, assignment = kmeans.index.search(X, 1)
        self.index = self.native.Caps(d, METRICS[self.distance], self.height)
        indptr, indices = (attribute.indptr, attribute.indices) if attribute is not None else \
            (np.zeros(self.n + 1, np.int64), np.zeros(0, np.int32))
        self.index.build(X, kmeans.centroids, assignment.ravel().astype(np.int32), indptr, indices)

    def set_query_arguments(self, nprobe=16, budget=0):
        """nprobe: partitions probed; budget: matching candidates scored at most (0: no limit)."""
        self.nprobe, self.budget = int(nprobe), int(budget)

    @staticmethod
    def labels(filter):
        """The query's label set (None: unfiltered)."""
        if filter is None:
            return None
        if filter.kind != "equality":
            raise ValueError(f"CAPS answers equality (and unfiltered queries) only; '{filter.kind}' is refused")
        return filter.operands

    def filtered_query(self, q, k, filter, valid):
        ids = self.index.search(self.vectors(np.asarray(q).reshape(1, -1))[0], k, self.labels(filter), self.nprobe,
                                self.budget)
        return ids[ids >= 0].astype(np.int64)

    def batch_filtered_query(self, Q, k, filters, valid_rows):
        rows = [self.labels(f) for f in filters]
        rows = None if all(r is None for r in rows) else rows
        return self.index.search_batch(self.vectors(Q), k, rows, self.nprobe, self.budget,
                                       self.threads).astype(np.int64)
