"""Exact (filtered) k-nearest-neighbour ground truth, and the distances the harness trusts.

Candidates are found with blocked BLAS (float32) and faiss' C++ heaps: a query block × base
block distance matrix, invalid items set to +inf from the filter maps, top-(K + margin) kept.
The candidates are then re-ranked with distances recomputed exactly in float64 and sorted by
(distance, id), so the stored K-th distance is exact and ties are broken by id. Recall compares
a returned id's exact distance with that K-th distance, so equal-distance items all count.

Distances (smaller is nearer): euclidean = L2, angular = 1 - cosine, ip = -inner product.
"""
import os
from concurrent.futures import ThreadPoolExecutor

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from harness.filters import bitset_to_ids, popcount

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

    A query that passes few base vectors (< n/16, where gathering their rows costs less than
    scanning all) is answered from just those, queries in parallel threads; the others share
    blocked scans of the whole base, masked by their filter maps.
    """
    X = _prepare(distance, train)
    Q = _prepare(distance, test)
    n, nq = len(X), len(Q)
    # One GEMM gives the ranking score: [-2q, 1]·[x, |x|²] = |x|² - 2q·x for L2; -q·x otherwise.
    if distance == "euclidean":
        X_aug = np.hstack([X, (X * X).sum(1, keepdims=True)])
        Q_aug = np.hstack([-2 * Q, np.ones((nq, 1), np.float32)])
    else:
        X_aug, Q_aug = X, -Q
    keep = min(K + _MARGIN, n)
    base_block -= base_block % 8  # blocks start on bitset byte boundaries
    neighbors = np.full((nq, K), -1, dtype=np.int64)
    distances = np.full((nq, K), np.inf, dtype=np.float32)
    valid_count = np.full(nq, n, dtype=np.int64)

    def finish(qi, candidates):  # exact float64 re-ranking, ties broken by id
        exact = exact_distances(distance, test[qi], train[candidates])
        order = np.lexsort((candidates, exact))[:K]
        neighbors[qi, :len(order)] = candidates[order]
        distances[qi, :len(order)] = exact[order]

    pool = ThreadPoolExecutor(os.cpu_count() or 1)  # numpy drops the GIL while gathering and multiplying
    for q0 in range(0, nq, query_block):
        q1 = min(nq, q0 + query_block)
        maps = filter_maps(q0, q1) if filter_maps is not None else None
        dense = np.arange(q0, q1)
        if maps is not None:
            valid_count[q0:q1] = popcount(maps)
            sparse = valid_count[q0:q1] < n // 16

            def gathered(qi):
                ids = bitset_to_ids(maps[qi - q0], n)
                scores = X_aug[ids] @ Q_aug[qi]
                if len(ids) > keep:
                    ids = ids[np.argpartition(scores, keep - 1)[:keep]]
                finish(qi, ids)

            with threadpool_limits(limits=1, user_api="blas"):
                list(pool.map(gathered, dense[sparse]))
            dense, maps = dense[~sparse], maps[~sparse]
        if progress is not None:
            progress(q1 - q0)
        if len(dense) == 0:
            continue
        cand_d = np.empty((len(dense), keep), dtype=np.float32)
        cand_i = np.empty((len(dense), keep), dtype=np.int64)
        heaps = faiss.float_maxheap_array_t()
        heaps.k, heaps.nh = keep, len(dense)
        heaps.val, heaps.ids = faiss.swig_ptr(cand_d), faiss.swig_ptr(cand_i)
        heaps.heapify()
        for b0 in range(0, n, base_block):
            b1 = min(n, b0 + base_block)
            scores = Q_aug[dense] @ X_aug[b0:b1].T
            if maps is not None:
                mask = np.unpackbits(maps[:, b0 // 8:(b1 + 7) // 8], axis=1, count=b1 - b0, bitorder="little")
                np.copyto(scores, np.inf, where=mask == 0)
            scores = np.ascontiguousarray(scores, dtype=np.float32)
            heaps.addn(b1 - b0, faiss.swig_ptr(scores), b0, 0, len(dense))
        for row, qi in enumerate(dense):
            finish(qi, cand_i[row][(cand_i[row] >= 0) & np.isfinite(cand_d[row])])
    pool.shutdown()
    return neighbors, distances, valid_count
