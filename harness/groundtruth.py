"""Exact (filtered) k-nearest-neighbour ground truth, and the distances the harness trusts.

Candidates are found with blocked BLAS (float32) and faiss' C++ heaps: a query block × base
block distance matrix, invalid items set to +inf from the filter maps, top-(K + margin) kept.
The candidates are then re-ranked with distances recomputed exactly in float64 and sorted by
(distance, id), so the stored K-th distance is exact and ties are broken by id. Recall compares
a returned id's exact distance with that K-th distance, so equal-distance items all count.

Distances (smaller is nearer): euclidean = L2, angular = 1 - cosine, ip = -inner product.
"""
import faiss
import numpy as np

from harness.filters import popcount

_MARGIN = 16  # extra float32 candidates, so float32 rounding cannot push a true neighbour out


def exact_distances(distance, q, X):
    """Distances from one query q [d] to the rows of X [m, d], in float64."""
    q = np.asarray(q, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    if distance == "euclidean":
        diff = X - q
        return np.sqrt(np.einsum("ij,ij->i", diff, diff))
    if distance == "angular":
        norms = np.linalg.norm(X, axis=1) * np.linalg.norm(q)
        return 1.0 - (X @ q) / np.where(norms == 0, 1.0, norms)
    if distance == "ip":
        return -(X @ q)
    raise ValueError(f"unknown distance '{distance}'")


def _prepare(distance, X):
    X = np.ascontiguousarray(X, dtype=np.float32)
    if distance == "angular":
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        X = X / np.where(norms == 0, 1, norms)
    return X


def knn(train, test, distance, K=100, filter_maps=None, query_block=256, base_block=65536, progress=None):
    """Exact k-NN of each test vector among the train vectors valid under its filter map.

    filter_maps: None (unfiltered), or a callable (start, stop) -> uint8 [stop-start, ceil(n/8)]
    that returns the packed filter maps of those queries (so no nq × n matrix is ever held).
    Returns neighbors int64 [nq, K] (-1 padded), distances float32 [nq, K] (+inf padded),
    valid_count int64 [nq].
    """
    X = _prepare(distance, train)
    Q = _prepare(distance, test)
    n, nq = len(X), len(Q)
    x_norms = (X * X).sum(1) if distance == "euclidean" else None
    keep = min(K + _MARGIN, n)
    base_block -= base_block % 8  # blocks start on bitset byte boundaries
    neighbors = np.full((nq, K), -1, dtype=np.int64)
    distances = np.full((nq, K), np.inf, dtype=np.float32)
    valid_count = np.full(nq, n, dtype=np.int64)
    for q0 in range(0, nq, query_block):
        q1 = min(nq, q0 + query_block)
        maps = filter_maps(q0, q1) if filter_maps is not None else None
        if maps is not None:
            valid_count[q0:q1] = popcount(maps)
        cand_d = np.empty((q1 - q0, keep), dtype=np.float32)
        cand_i = np.empty((q1 - q0, keep), dtype=np.int64)
        heaps = faiss.float_maxheap_array_t()
        heaps.k, heaps.nh = keep, q1 - q0
        heaps.val, heaps.ids = faiss.swig_ptr(cand_d), faiss.swig_ptr(cand_i)
        heaps.heapify()
        for b0 in range(0, n, base_block):
            b1 = min(n, b0 + base_block)
            scores = Q[q0:q1] @ X[b0:b1].T
            if distance == "euclidean":
                scores *= -2
                scores += x_norms[b0:b1]  # |q|² is the same for a whole row: ranking needs no more
            else:
                np.negative(scores, out=scores)
            if maps is not None:
                mask = np.unpackbits(maps[:, b0 // 8:(b1 + 7) // 8], axis=1, count=b1 - b0, bitorder="little")
                scores[mask == 0] = np.inf
            scores = np.ascontiguousarray(scores, dtype=np.float32)
            heaps.addn(b1 - b0, faiss.swig_ptr(scores), b0, 0, q1 - q0)
        for row, qi in enumerate(range(q0, q1)):
            ids = cand_i[row][(cand_i[row] >= 0) & np.isfinite(cand_d[row])]
            exact = exact_distances(distance, test[qi], train[ids])
            order = np.lexsort((ids, exact))[:K]
            neighbors[qi, :len(order)] = ids[order]
            distances[qi, :len(order)] = exact[order]
        if progress is not None:
            progress(q1 - q0)
    return neighbors, distances, valid_count
