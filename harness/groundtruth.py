"""Exact (filtered) k-nearest-neighbour ground truth, and the distances the harness trusts.

Candidates are found with blocked BLAS (float32) and faiss' C++ heaps: a query block × base
block distance matrix, invalid items set to +inf from the filter maps, top-(K + margin) kept.
The candidates are then re-ranked with distances recomputed exactly in float64 and sorted by
(distance, id), so the stored K-th distance is exact and ties are broken by id. Recall compares
a returned id's exact distance with that K-th distance, so equal-distance items all count.

Distances (smaller is nearer): euclidean = L2, angular = 1 - cosine, ip = -inner product.
"""
from concurrent.futures import ThreadPoolExecutor

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from harness.filters import bits_test, bitset_to_ids, popcount
from harness.system import available_cpus

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


def knn(train, test, distance, K=100, filter_maps=None, query_block=1024, base_block=65536, progress=None):
    """Exact k-NN of each test vector among the train vectors valid under its filter map.

    filter_maps: None (unfiltered), or a callable (start, stop) -> uint8 [stop-start, ceil(n/8)]
    that returns the packed filter maps of those queries (so no nq × n matrix is ever held).
    Returns neighbors int64 [nq, K] (-1 padded), distances float32 [nq, K] (+inf padded),
    valid_count int64 [nq].

    Three routes to the same exact answer, by selectivity s of the query:
    - s < 1/16: distances to just the valid vectors (gathered), queries in parallel threads;
    - otherwise faiss' exact unfiltered search for the k' = 2·(K + margin)/s nearest: everything
      nearer than the k'-th is in that list, so when K + margin of them pass the filter they hold
      the filtered top K;
    - the queries where they do not: a blocked scan of the whole base masked by the filter map.
    """
    X = _prepare(distance, train)
    Q = _prepare(distance, test)
    n, nq = len(X), len(Q)
    metric = faiss.METRIC_L2 if distance == "euclidean" else faiss.METRIC_INNER_PRODUCT
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

    def gathered(qi, bits):
        ids = bitset_to_ids(bits, n)
        scores = X_aug[ids] @ Q_aug[qi]
        if len(ids) > keep:
            ids = ids[np.argpartition(scores, keep - 1)[:keep]]
        finish(qi, ids)

    def masked_scan(queries, maps):
        cand_d = np.empty((len(queries), keep), dtype=np.float32)
        cand_i = np.empty((len(queries), keep), dtype=np.int64)
        heaps = faiss.float_maxheap_array_t()
        heaps.k, heaps.nh = keep, len(queries)
        heaps.val, heaps.ids = faiss.swig_ptr(cand_d), faiss.swig_ptr(cand_i)
        heaps.heapify()
        for b0 in range(0, n, base_block):
            b1 = min(n, b0 + base_block)
            scores = Q_aug[queries] @ X_aug[b0:b1].T
            mask = np.unpackbits(maps[:, b0 // 8:(b1 + 7) // 8], axis=1, count=b1 - b0, bitorder="little")
            np.copyto(scores, np.inf, where=mask == 0)
            heaps.addn(b1 - b0, faiss.swig_ptr(np.ascontiguousarray(scores, dtype=np.float32)), b0, 0, len(queries))
        for row, qi in enumerate(queries):
            finish(qi, cand_i[row][(cand_i[row] >= 0) & np.isfinite(cand_d[row])])

    pool = ThreadPoolExecutor(available_cpus())  # numpy drops the GIL while gathering and multiplying
    for q0 in range(0, nq, query_block):
        q1 = min(nq, q0 + query_block)
        if filter_maps is None:
            _, ids = faiss.knn(Q[q0:q1], X, keep, metric=metric)
            for row, qi in enumerate(range(q0, q1)):
                finish(qi, ids[row][ids[row] >= 0])
        else:
            maps = filter_maps(q0, q1)
            count = valid_count[q0:q1] = popcount(maps)
            sparse = count < n // 16
            with threadpool_limits(limits=1, user_api="blas"):
                list(pool.map(lambda r: gathered(q0 + r, maps[r]), np.flatnonzero(sparse)))
            # Dense queries, grouped by depth k' (powers of two) for faiss' unfiltered search.
            rows = np.flatnonzero(~sparse)
            depth = np.minimum(n, 2 ** np.ceil(np.log2(2 * keep * n / np.maximum(count[rows], 1)))).astype(int)
            fallback = []
            for k_prime in np.unique(depth):
                group = rows[depth == k_prime]
                _, ids = faiss.knn(Q[q0 + group], X, int(k_prime), metric=metric)
                for r, found in zip(group, ids):
                    found = found[found >= 0]
                    passing = found[bits_test(maps[r], found)]
                    if len(passing) >= min(keep, count[r]):
                        finish(q0 + r, passing[:keep])
                    else:
                        fallback.append(r)
            if fallback:
                masked_scan(q0 + np.array(fallback), maps[fallback])
        if progress is not None:
            progress(q1 - q0)
    pool.shutdown()
    return neighbors, distances, valid_count
