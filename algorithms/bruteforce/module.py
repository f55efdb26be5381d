"""Pre-filter, then exact search over the valid subset: the FANNS paper's baseline."""
import numpy as np

from algorithms.base import FilteredANN
from harness.filters import bitset_to_ids


class BruteForce(FilteredANN):
    def fit(self, X, attribute):
        self.X = self.vectors(X)
        self.n = len(self.X)
        self.sq_norms = (self.X * self.X).sum(1)
        self.distance_computations = 0

    def filtered_query(self, q, k, filter, valid):
        return self.scan(q, k, np.arange(self.n) if valid is None else bitset_to_ids(valid, self.n))

    def scan(self, q, k, ids):
        """The exact top-k among the base vectors `ids`, nearest first (ties by id)."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return ids
        q = np.asarray(q, dtype=np.float32)
        if self.distance == "angular":
            q = q / max(float(np.linalg.norm(q)), 1e-30)
        # Gathering the valid rows pays only while they are few; else scan all and pick.
        scores = (self.X[ids] @ q) if len(ids) < self.n // 4 else (self.X @ q)[ids]
        if self.distance == "euclidean":
            scores = self.sq_norms[ids] - 2 * scores  # |x|² - 2 q·x ranks like |x - q|²
        else:
            scores = -scores
        self.distance_computations += len(ids)
        if len(ids) > k:
            top = np.argpartition(scores, k - 1)[:k]
            ids, scores = ids[top], scores[top]
        return ids[np.lexsort((ids, scores))]

    def index_size(self):
        return self.X.nbytes + self.sq_norms.nbytes

    def stats(self):
        return {"distance_computations": self.distance_computations}
