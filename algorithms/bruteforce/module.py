"""Pre-filter, then exact search over the valid subset: the FANNS paper's baseline."""
import numpy as np

from algorithms.base import FilteredANN
from harness.filters import bitset_to_ids


ROWS = 1 << 16  # rows converted at a time where the base is kept as bytes


class BruteForce(FilteredANN):
    def fit(self, X, attribute):
        # A subclass that takes the stored base (IVF²) keeps a uint8 base as bytes: a scan then gathers
        # 192 bytes a row rather than 768, and the float32 scores of byte vectors are exact.
        self.X = X if X.dtype == np.uint8 and self.distance != "angular" else self.vectors(X)
        self.n = len(self.X)
        self.sq_norms = np.concatenate([squared_norms(self.X[s:s + ROWS]) for s in range(0, self.n, ROWS)]) \
            if self.X.dtype == np.uint8 else (self.X * self.X).sum(1)
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
        scores = (self.X[ids].astype(np.float32, copy=False) @ q) if len(ids) < self.n // 4 else (self.X @ q)[ids]
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


def squared_norms(rows):
    return (rows.astype(np.float32) ** 2).sum(1)  # exact for bytes: at most d x 255² < 2^24 for d <= 258
