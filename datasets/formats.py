"""Readers (and, for tests and exports, writers) of the vector and label formats in the wild.

big-ann-benchmarks (the NeurIPS'23 filter track, YFCC):
    .fbin / .u8bin / .i8bin   int32 n, int32 d, then n*d float32 / uint8 / int8
    .ibin (ground truth)      int32 n, int32 k, then n*k int32 ids, then n*k float32 distances
    .spmat (labels, CSR)      int64 nrow, ncol, nnz; int64 indptr[nrow+1]; int32 indices[nnz]; float32 data[nnz]
TEXMEX / the FANNS benchmark's release:
    .fvecs / .ivecs / .bvecs  per vector: int32 d, then d float32 / int32 / uint8
    .bin                      uint32 n, uint32 d, then n*d float32
    labels .txt               one line per vector: comma-separated integer label ids (may be empty)
    ground truth              n*K pairs of (uint32 id, float32 distance), no header

Readers memory-map where they can and check every size against the file's, naming what is off.
"""
import os

import numpy as np

from harness.dataset import Csr

_BIN_DTYPES = {".fbin": np.float32, ".u8bin": np.uint8, ".i8bin": np.int8, ".bin": np.float32}
_VECS_DTYPES = {".fvecs": np.float32, ".ivecs": np.int32, ".bvecs": np.uint8}


class FormatError(Exception):
    """A file whose size or header does not match its format; the message names the file."""


def _size_check(path, expected):
    actual = os.path.getsize(path)
    if actual != expected:
        raise FormatError(f"{path}: {actual} bytes, but its header promises {expected} (truncated or not this format)")


def read_vectors(path, rows=None):
    """Vectors of any supported format as an [n, d] array (memory-mapped for the .bin family);
    rows: read only the first `rows` vectors (the big-ann files allow it)."""
    ext = os.path.splitext(path)[1]
    if not os.path.exists(path):
        raise FormatError(f"{path}: no such file")
    if ext in _BIN_DTYPES:
        n, d = np.fromfile(path, dtype=np.uint32 if ext == ".bin" else np.int32, count=2)
        dtype = _BIN_DTYPES[ext]
        _size_check(path, 8 + int(n) * int(d) * np.dtype(dtype).itemsize)
        data = np.memmap(path, dtype=dtype, mode="r", offset=8, shape=(int(n), int(d)))
        return data if rows is None else data[:rows]
    if ext in _VECS_DTYPES:
        dtype = np.dtype(_VECS_DTYPES[ext])
        d = int(np.fromfile(path, dtype=np.int32, count=1)[0])
        record = 4 + d * dtype.itemsize
        size = os.path.getsize(path)
        if size % record:
            raise FormatError(f"{path}: {size} bytes is not a whole number of {record}-byte records (d={d})")
        raw = np.fromfile(path, dtype=np.uint8).reshape(-1, record)
        if np.any(raw[:, :4].view(np.int32) != d):
            raise FormatError(f"{path}: records of different dimensions")
        data = raw[:, 4:].copy().view(dtype)
        return data if rows is None else data[:rows]
    raise FormatError(f"{path}: unknown vector format '{ext}' (known: {', '.join(list(_BIN_DTYPES) + list(_VECS_DTYPES))})")


def write_vectors(path, X):
    ext = os.path.splitext(path)[1]
    X = np.ascontiguousarray(X)
    with open(path, "wb") as f:
        if ext in _BIN_DTYPES:
            np.array(X.shape, dtype=np.uint32 if ext == ".bin" else np.int32).tofile(f)
            X.astype(_BIN_DTYPES[ext]).tofile(f)
        elif ext in _VECS_DTYPES:
            body = X.astype(_VECS_DTYPES[ext])
            for row in body:
                np.array([len(row)], dtype=np.int32).tofile(f)
                row.tofile(f)
        else:
            raise FormatError(f"{path}: unknown vector format '{ext}'")


def read_spmat(path):
    """A big-ann .spmat CSR matrix as Csr (the values are ignored: labels are present or not)."""
    if not os.path.exists(path):
        raise FormatError(f"{path}: no such file")
    nrow, ncol, nnz = (int(v) for v in np.fromfile(path, dtype=np.int64, count=3))
    _size_check(path, 24 + (nrow + 1) * 8 + nnz * 4 + nnz * 4)
    indptr = np.fromfile(path, dtype=np.int64, count=nrow + 1, offset=24)
    indices = np.fromfile(path, dtype=np.int32, count=nnz, offset=24 + (nrow + 1) * 8)
    if indptr[0] != 0 or indptr[-1] != nnz or np.any(np.diff(indptr) < 0):
        raise FormatError(f"{path}: indptr does not run from 0 to nnz={nnz}")
    if nnz and (indices.min() < 0 or indices.max() >= ncol):
        raise FormatError(f"{path}: label ids outside [0, {ncol})")
    csr = Csr(indptr, indices)
    csr.vocabulary = [str(i) for i in range(ncol)]
    return csr


def write_spmat(path, csr, ncol):
    with open(path, "wb") as f:
        np.array([len(csr), ncol, len(csr.indices)], dtype=np.int64).tofile(f)
        csr.indptr.astype(np.int64).tofile(f)
        csr.indices.astype(np.int32).tofile(f)
        np.ones(len(csr.indices), dtype=np.float32).tofile(f)


def read_ibin(path):
    """big-ann ground truth: (ids int32 [n, k], distances float32 [n, k])."""
    n, k = (int(v) for v in np.fromfile(path, dtype=np.int32, count=2))
    _size_check(path, 8 + n * k * 8)
    ids = np.fromfile(path, dtype=np.int32, count=n * k, offset=8).reshape(n, k)
    dist = np.fromfile(path, dtype=np.float32, count=n * k, offset=8 + n * k * 4).reshape(n, k)
    return ids, dist


def write_ibin(path, ids, dist):
    with open(path, "wb") as f:
        np.array(ids.shape, dtype=np.int32).tofile(f)
        ids.astype(np.int32).tofile(f)
        dist.astype(np.float32).tofile(f)


def read_label_lines(path):
    """FANNS / generic label text: one line per vector, comma-separated integer label ids."""
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            try:
                rows.append([int(x) for x in line.split(",") if x.strip()] if line else [])
            except ValueError:
                raise FormatError(f"{path}:{number}: '{line[:60]}' is not comma-separated integer label ids") from None
    return Csr.from_rows(rows)


def write_label_lines(path, csr):
    with open(path, "w") as f:
        for row in csr.rows():
            f.write(",".join(str(int(x)) for x in row) + "\n")


def read_pair_ground_truth(path, n_queries):
    """FANNS ground truth: n*K (uint32 id, float32 distance) pairs, no header."""
    size = os.path.getsize(path)
    if size % (8 * n_queries):
        raise FormatError(f"{path}: {size} bytes is not {n_queries} queries × K × 8 bytes")
    raw = np.fromfile(path, dtype=np.uint32).reshape(n_queries, -1, 2)
    return raw[:, :, 0].astype(np.int64), raw[:, :, 1].copy().view(np.float32)
