"""Exact (filtered) k-nearest-neighbour ground truth, and the distances the harness trusts.

Candidates are found with blocked BLAS (float32) and faiss' C++ heaps: a query block × base
block distance matrix, invalid items set to +inf from the filter maps, top-(K + margin) kept.
The candidates are then re-ranked with distances recomputed exactly in float64 and sorted by
(distance, id), so the stored K-th distance is exact and ties are broken by id. Recall compares
a returned id's exact distance with that K-th distance, so equal-distance items all count.

Distances (smaller is nearer): euclidean = L2, angular = 1 - cosine, ip = -inner product.
"""
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from harness.filters import bitset_to_ids, popcount
from harness.system import available_cpus

_MARGIN = 16  # extra float32 candidates, so float32 rounding cannot push a true neighbour out
_GATHER_BELOW = 1 / 32  # selectivity under which gathering the valid rows beats scanning all (measured)
_KEEP_BYTES = 2 << 30  # a base whose float32 rows fit here is converted once, not once per block of queries


def exact_distances(distance, q, X):
    """Distances from one query q [d] to the rows of X [m, d], or from each row of q [m, d] to the
    same row of X (many queries' candidates at once), in float64."""
    q = np.asarray(q, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    if distance == "euclidean":
        diff = X - q
        return np.sqrt(np.einsum("ij,ij->i", diff, diff))
    if distance not in ("angular", "ip"):
        raise ValueError(f"unknown distance '{distance}'")
    dots = X @ q if q.ndim == 1 else np.einsum("ij,ij->i", X, q)
    if distance == "angular":
        norms = np.linalg.norm(X, axis=1) * np.linalg.norm(q, axis=-1)
        return 1.0 - dots / np.where(norms == 0, 1.0, norms)
    return -dots


def _prepare(distance, X):
    X = np.ascontiguousarray(X, dtype=np.float32)
    if distance == "angular":
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        X = X / np.where(norms == 0, 1, norms)
    return X


def _augmented(distance, rows):
    """Base rows as the scan multiplies them: [x, |x|², 1] for L2, [x, 1] otherwise (float32)."""
    X = _prepare(distance, rows)
    ones = np.ones((len(X), 1), np.float32)
    return np.hstack([X, (X * X).sum(1, keepdims=True), ones] if distance == "euclidean" else [X, ones])


class _Checkpoint:
    """Finished blocks of queries saved in a directory, one file each, so that an interrupted ground
    truth resumes at the first unfinished block. The directory is the caller's: it must name these
    exact inputs (datasets.workloads names it by their hash)."""

    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)

    def _path(self, q0, q1):
        return os.path.join(self.directory, f"queries-{q0}-{q1}.npz")

    def load(self, q0, q1):
        try:
            with np.load(self._path(q0, q1)) as f:
                return f["neighbors"], f["distances"], f["valid_count"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):  # absent, or cut short by the interruption
            return None

    def save(self, q0, q1, neighbors, distances, valid_count):
        tmp = self._path(q0, q1) + ".tmp.npz"
        np.savez(tmp, neighbors=neighbors, distances=distances, valid_count=valid_count)
        os.replace(tmp, self._path(q0, q1))


def knn(train, test, distance, K=100, filter_maps=None, query_block=None, base_block=65536, progress=None,
        checkpoint=None):
    """Exact k-NN of each test vector among the train vectors valid under its filter map.

    train: [n, d] of any numeric type; uint8 stays uint8. Memory is bounded by blocks, not by n:
    the float32 rows the scan multiplies are made one base block at a time (kept while the whole
    base fits in _KEEP_BYTES), and a block of queries holds at most 256 MiB of filter maps.
    filter_maps: None (unfiltered), or a callable (start, stop) -> uint8 [stop-start, ceil(n/8)]
    that returns the packed filter maps of those queries (so no nq × n matrix is ever held).
    progress: called with the number of queries of each finished block, and whether it was read back
    from the checkpoint rather than computed.
    checkpoint: a directory that names these inputs; each finished block of queries is saved there
    and an interrupted run started again resumes after the last one saved.
    Returns neighbors int64 [nq, K] (-1 padded), distances float32 [nq, K] (+inf padded),
    valid_count int64 [nq].

    Two routes to the same exact answer, by the selectivity s of the query:
    - s < 1/32: distances to just the valid vectors (gathered rows), queries in parallel threads;
    - otherwise a blocked scan of the whole base (one GEMM per block of queries and base vectors)
      with the vectors that fail the filter set to +inf, top candidates kept by faiss' heaps.
    """
    Q = _prepare(distance, test)
    n, nq = len(train), len(Q)
    # Queries per block: as many as keep their filter maps within 256 MiB.
    query_block = query_block or int(np.clip((256 << 20) // max(1, n // 8), 64, 8192))
    base_block -= base_block % 8  # blocks start on bitset byte boundaries
    keep_blocks = n * (train.shape[1] + 2) * 4 <= _KEEP_BYTES
    kept = {}

    def block(b0):  # the augmented rows b0 .. b0 + base_block
        if b0 in kept:
            return kept[b0]
        rows = _augmented(distance, train[b0:b0 + base_block])
        if keep_blocks:
            kept[b0] = rows
        return rows

    # One GEMM gives a ranking score that is strictly positive, so that dividing it by the
    # unpacked filter map (1 valid, 0 not) sends exactly the invalid vectors to +inf, the
    # cheapest masking numpy has:  [-2q, 1, |q|² + c]·[x, |x|², 1] = |x - q|² + c for L2,
    # [-q, |q|·max|x| + c]·[x, 1] = -q·x + |q|·max|x| + c otherwise. c dwarfs float32 rounding.
    d = train.shape[1]

    def max_norm(rows):  # of augmented rows
        return float(np.sqrt(rows[:, d].max() if distance == "euclidean" else (rows[:, :d] ** 2).sum(1).max()))
    x_max = max((max_norm(block(b0)) for b0 in range(0, n, base_block)), default=0.0)
    q_norm = np.sqrt((Q * Q).sum(1, keepdims=True))
    c = 1e-4 * (q_norm + x_max) ** 2 + 1e-30
    if distance == "euclidean":
        Q_aug = np.hstack([-2 * Q, np.ones((nq, 1), np.float32), q_norm ** 2 + c]).astype(np.float32)
    else:
        Q_aug = np.hstack([-Q, q_norm * x_max + c]).astype(np.float32)
    keep = min(K + _MARGIN, n)
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
        scores = _augmented(distance, train[ids]) @ Q_aug[qi]
        if len(ids) > keep:
            ids = ids[np.argpartition(scores, keep - 1)[:keep]]
        finish(qi, ids)

    def scan(queries, maps, chunk=1024):  # a score block is at most chunk × base_block floats
        for c0 in range(0, len(queries), chunk):
            scan_chunk(queries[c0:c0 + chunk], None if maps is None else maps[c0:c0 + chunk])

    def scan_chunk(queries, maps):
        cand_d = np.empty((len(queries), keep), dtype=np.float32)
        cand_i = np.empty((len(queries), keep), dtype=np.int64)
        heaps = faiss.float_maxheap_array_t()
        heaps.k, heaps.nh = keep, len(queries)
        heaps.val, heaps.ids = faiss.swig_ptr(cand_d), faiss.swig_ptr(cand_i)
        heaps.heapify()
        Qb = Q_aug[queries]
        for b0 in range(0, n, base_block):
            b1 = min(n, b0 + base_block)
            scores = Qb @ block(b0).T
            if maps is not None:
                valid = np.unpackbits(maps[:, b0 // 8:(b1 + 7) // 8], axis=1, count=b1 - b0, bitorder="little")
                with np.errstate(divide="ignore"):
                    np.divide(scores, valid, out=scores)  # score / 0 = +inf: the invalid ones
            heaps.addn(b1 - b0, faiss.swig_ptr(np.ascontiguousarray(scores, dtype=np.float32)), b0, 0, len(queries))
        for row, qi in enumerate(queries):
            finish(qi, cand_i[row][(cand_i[row] >= 0) & np.isfinite(cand_d[row])])

    saved = _Checkpoint(checkpoint) if checkpoint else None
    pool = ThreadPoolExecutor(available_cpus())  # numpy drops the GIL while gathering and multiplying
    for q0 in range(0, nq, query_block):
        q1 = min(nq, q0 + query_block)
        done = saved.load(q0, q1) if saved else None
        if done is not None:
            neighbors[q0:q1], distances[q0:q1], valid_count[q0:q1] = done
        elif filter_maps is None:
            scan(np.arange(q0, q1), None)
        else:
            maps = filter_maps(q0, q1)
            count = valid_count[q0:q1] = popcount(maps)
            sparse = count < n * _GATHER_BELOW
            with threadpool_limits(limits=1, user_api="blas"):
                list(pool.map(lambda r: gathered(q0 + r, maps[r]), np.flatnonzero(sparse)))
            dense = np.flatnonzero(~sparse)
            if len(dense):
                scan(q0 + dense, maps[dense])
        if saved and done is None:
            saved.save(q0, q1, neighbors[q0:q1], distances[q0:q1], valid_count[q0:q1])
        if progress is not None:
            progress(q1 - q0, done is not None)
    pool.shutdown()
    return neighbors, distances, valid_count
