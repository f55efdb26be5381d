"""hnswlib, filtered two ways: its own filter callback (called from C++ for every candidate it
would return: a Python call per candidate, so it holds the GIL and runs single-threaded), and
post-filtering with a growing depth."""
import hnswlib
import numpy as np

from algorithms.base import FilteredANN, post_filter

SPACES = {"euclidean": "l2", "angular": "cosine", "ip": "ip"}


class Hnswlib(FilteredANN):
    def __init__(self, distance, M=16, efConstruction=200, filtering="callback", seed=100):
        super().__init__(distance)
        if filtering not in ("callback", "post"):
            raise ValueError(f"hnswlib: filtering must be 'callback' or 'post', not '{filtering}'")
        self.M, self.efConstruction, self.filtering, self.seed = int(M), int(efConstruction), filtering, int(seed)

    def fit(self, X, attribute):
        X = np.ascontiguousarray(X, dtype=np.float32)
        self.n, d = X.shape
        self.index = hnswlib.Index(space=SPACES[self.distance], dim=d)
        self.index.init_index(max_elements=self.n, M=self.M, ef_construction=self.efConstruction,
                              random_seed=self.seed)
        self.index.add_items(X, np.arange(self.n), num_threads=self.threads)

    def set_query_arguments(self, ef=10, max_depth=None):
        self.ef, self.max_depth = int(ef), max_depth
        self.index.set_ef(self.ef)

    def _knn(self, q, k, filter=None):
        # hnswlib raises when it finds fewer than k results; ask for fewer then, down to 1.
        while k >= 1:
            try:
                ids, _ = self.index.knn_query(q, k=k, num_threads=1, filter=filter)
                return ids[0].astype(np.int64)
            except RuntimeError:
                k //= 2
        return np.zeros(0, dtype=np.int64)

    def filtered_query(self, q, k, filter, valid):
        if valid is None:
            return self._knn(q, k)
        if self.filtering == "callback":
            bits = valid.tobytes()  # bytes indexing is the cheapest bit test from Python
            return self._knn(q, k, filter=lambda i: (bits[i >> 3] >> (i & 7)) & 1)

        def search(depth):
            self.index.set_ef(max(self.ef, depth))
            return self._knn(q, min(depth, self.n))
        try:
            return post_filter(search, k, valid, self.n, self.max_depth)
        finally:
            self.index.set_ef(self.ef)

    def batch_filtered_query(self, Q, k, filters, valid_rows):
        if valid_rows is None:
            ids, _ = self.index.knn_query(Q, k=k, num_threads=self.threads)
            return ids.astype(np.int64)
        return super().batch_filtered_query(Q, k, filters, valid_rows)

    def index_size(self):
        return int(self.index.index_file_size())
