"""The dataset file: HDF5, a superset of ann-benchmarks' layout.

    attrs: name, distance ("euclidean" | "angular" | "ip"), dimension, point_type, source,
           license, builder_version, content_hash
    train                  [n, d]      base vectors
    test                   [nq, d]     query vectors (held out of the base)
    neighbors, distances   [nq, K]     unfiltered ground truth
    labels/indptr, labels/indices, labels/vocabulary     CSR of the base label sets
    test_labels/indptr, test_labels/indices               the query items' own label sets
    scenarios/<scenario>/
        query_labels/indptr, query_labels/indices         CSR, one row per query
        neighbors int32 [nq, K], distances float32 [nq, K]   filtered ground truth, -1 / inf padded
        selectivity float32 [nq], valid_count int64 [nq]
        base_labels/indptr, base_labels/indices, base_labels/vocabulary
                                                          (fixed_equality: its own base label sets)
        groups/<name> uint8 [nq]                          query groups (query_groups below); computed
                                                          on load for files without them

A plain ann-benchmarks file (train, test, neighbors, distances) loads and runs unfiltered.

What is checked on load, each with a one-line error: shapes and dtypes, finite vectors (NaN or
inf would make every distance meaningless), label ids inside the vocabulary (query labels too),
ground-truth ids inside the base, and the name (it becomes a directory under the results). The
content hash that identifies the dataset in results is computed from the content on every load;
the `content_hash` attribute written at build time is never trusted, so an edited copy is a
different dataset.

Workers get a copy without the ground truth (`worker_copy`): a plugin cannot read the answers.
"""
import hashlib
import json
import os

import h5py
import numpy as np

from harness.filters import SCENARIOS, UNFILTERED, LabelIndex
from harness.names import UnsafeName, check_name

GROUND_TRUTH = ("neighbors", "distances")  # the arrays (at the root and per scenario) a worker never sees

DISTANCES = ("euclidean", "angular", "ip")
SELECTIVITY_PERCENTILES = (1, 25, 50, 75)  # the FANNS paper's selectivity groups
TOP_K_MARKS = (1, 10, 50, 100)


def query_groups(selectivity, label_counts, valid_count):
    """The queries of one scenario in the FANNS paper's groups, {name: bool mask}:
    selectivity_q1..q4   quartiles of selectivity (q1: the 25% that pass the fewest base vectors);
    selectivity_p1, _p25, _p50, _p75
                         the 5% of queries (at least one) whose selectivity rank is nearest that percentile;
    labels_short, labels_medium, labels_long
                         1, 2 to 3, and 4 or more query labels;
    top1, top10, top50, top100
                         queries with at least that many valid base vectors (the top-k experiment)."""
    selectivity, label_counts = np.asarray(selectivity), np.asarray(label_counts)
    nq = len(selectivity)
    groups = {}
    quartile = np.searchsorted(np.quantile(selectivity, [0.25, 0.5, 0.75]), selectivity, side="right")
    for q in range(4):
        groups[f"selectivity_q{q + 1}"] = quartile == q
    rank = np.empty(nq)
    rank[np.argsort(selectivity, kind="stable")] = np.arange(nq) * 100.0 / max(nq - 1, 1)
    for p in SELECTIVITY_PERCENTILES:
        mask = np.zeros(nq, dtype=bool)
        mask[np.argsort(np.abs(rank - p), kind="stable")[:max(1, nq // 20)]] = True
        groups[f"selectivity_p{p}"] = mask
    groups["labels_short"] = label_counts == 1
    groups["labels_medium"] = (label_counts >= 2) & (label_counts <= 3)
    groups["labels_long"] = label_counts >= 4
    for k in TOP_K_MARKS:
        groups[f"top{k}"] = np.asarray(valid_count) >= k
    return groups


class DatasetError(Exception):
    """A dataset file that is missing, unreadable or malformed; the message names what is wrong."""


class Csr:
    """Label sets as CSR: row i is indices[indptr[i]:indptr[i+1]]."""

    def __init__(self, indptr, indices, vocabulary=None):
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.indices = np.asarray(indices, dtype=np.int32)
        self.vocabulary = vocabulary

    @classmethod
    def from_rows(cls, rows, vocabulary=None):
        rows = [np.unique(np.asarray(r, dtype=np.int64)) for r in rows]
        indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
        indices = np.concatenate(rows).astype(np.int32) if rows else np.zeros(0, np.int32)
        return cls(indptr, indices, vocabulary)

    def __len__(self):
        return len(self.indptr) - 1

    def row(self, i):
        return self.indices[self.indptr[i]:self.indptr[i + 1]]

    def rows(self):
        return [self.row(i) for i in range(len(self))]

    def sizes(self):
        return np.diff(self.indptr)

    @property
    def n_labels(self):
        if self.vocabulary is not None:
            return len(self.vocabulary)
        return int(self.indices.max()) + 1 if len(self.indices) else 0


class Scenario:
    def __init__(self, name, query_labels, neighbors, distances, selectivity, valid_count, base_labels, groups):
        self.name = name
        self.query_labels = query_labels
        self.neighbors = neighbors
        self.distances = distances
        self.selectivity = selectivity
        self.valid_count = valid_count
        self.base_labels = base_labels  # the label assignment this scenario filters on
        self.groups = groups  # {name: bool mask over the queries} (query_groups)


class Dataset:
    """A loaded and validated dataset; vectors are held in memory as float32."""

    def __init__(self, path):
        self.path = str(path)
        if not os.path.exists(self.path):
            raise DatasetError(f"{self.path}: no such dataset file")
        try:
            f = h5py.File(self.path, "r")
        except OSError as e:
            raise DatasetError(f"{self.path}: not a readable HDF5 file ({e})") from None
        try:
            with f:
                self._load(f)
        except (OSError, KeyError, ValueError, TypeError) as e:  # truncated or corrupt inside
            raise DatasetError(f"{self.path}: unreadable ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
        self._label_indexes = {}

    def _fail(self, what):
        raise DatasetError(f"{self.path}: {what}")

    def _array(self, f, key, ndim=None, kind=None):
        if key not in f:
            self._fail(f"missing '{key}'")
        a = f[key][()]
        if ndim is not None and a.ndim != ndim:
            self._fail(f"'{key}' has {a.ndim} dimensions, expected {ndim}")
        if kind is not None and a.dtype.kind not in kind:
            self._fail(f"'{key}' has dtype {a.dtype}, expected {'an integer' if 'i' in kind else 'a float'} type")
        return a

    def _csr(self, f, key, rows, n_labels=None):
        indptr = self._array(f, f"{key}/indptr", 1, "iu").astype(np.int64)
        indices = self._array(f, f"{key}/indices", 1, "iu").astype(np.int64)
        vocabulary = None
        if f"{key}/vocabulary" in f:
            vocabulary = [v.decode() if isinstance(v, bytes) else str(v) for v in f[f"{key}/vocabulary"][()]]
        if len(indptr) != rows + 1:
            self._fail(f"'{key}/indptr' has {len(indptr)} entries, expected {rows + 1} (one per row + 1)")
        if indptr[0] != 0 or np.any(np.diff(indptr) < 0) or indptr[-1] != len(indices):
            self._fail(f"'{key}/indptr' must start at 0, never decrease and end at len(indices)={len(indices)}")
        limit = n_labels if n_labels is not None else (len(vocabulary) if vocabulary is not None else None)
        if len(indices) and (indices.min() < 0 or (limit is not None and indices.max() >= limit)):
            self._fail(f"'{key}/indices' has label ids outside [0, {limit}): min {indices.min()}, max {indices.max()}")
        return Csr(indptr, indices, vocabulary)

    def _ground_truth(self, f, prefix, nq):
        if self.worker_copy:  # the worker's copy holds no ground truth
            return np.zeros((nq, 0), dtype=np.int64), np.zeros((nq, 0), dtype=np.float32)
        neighbors = self._array(f, f"{prefix}neighbors", 2, "iu").astype(np.int64)
        distances = self._array(f, f"{prefix}distances", 2, "f").astype(np.float32)
        if neighbors.shape[0] != nq or distances.shape != neighbors.shape:
            self._fail(f"'{prefix}neighbors' {neighbors.shape} and '{prefix}distances' {distances.shape} "
                       f"must both be ({nq}, K)")
        if len(neighbors) and (neighbors.min() < -1 or neighbors.max() >= self.n):
            self._fail(f"'{prefix}neighbors' has ids outside [-1, {self.n})")
        return neighbors, distances

    def _load(self, f):
        attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in f.attrs.items()}
        self.name = str(attrs.get("name", os.path.splitext(os.path.basename(self.path))[0]))
        try:
            check_name(self.name, "dataset name")
        except UnsafeName as e:
            self._fail(str(e))
        self.distance = str(attrs.get("distance", "euclidean"))
        if self.distance not in DISTANCES:
            self._fail(f"distance '{self.distance}' is not supported (one of {', '.join(DISTANCES)})")
        self.attrs = attrs
        self.worker_copy = bool(attrs.get("worker_copy", False))
        self.train = self._array(f, "train", 2, "fiu").astype(np.float32, copy=False)
        self.test = self._array(f, "test", 2, "fiu").astype(np.float32, copy=False)
        self.n, self.d = self.train.shape
        self.nq = len(self.test)
        if self.test.shape[1] != self.d:
            self._fail(f"'test' has dimension {self.test.shape[1]} but 'train' has {self.d}")
        for key, vectors in (("train", self.train), ("test", self.test)):
            bad = _non_finite_rows(vectors)
            if len(bad):
                self._fail(f"'{key}' has {len(bad)} vectors with NaN or infinite values (first: row {bad[0]}); "
                           f"distances to them mean nothing")
        if self.n == 0 or self.nq == 0:
            self._fail(f"'train' has {self.n} vectors and 'test' {self.nq}: both need at least one")
        if "dimension" in attrs and int(attrs["dimension"]) != self.d:
            self._fail(f"attribute dimension={attrs['dimension']} but 'train' has dimension {self.d}")
        self.neighbors, self.distances = self._ground_truth(f, "", self.nq)
        self.labels = self._csr(f, "labels", self.n) if "labels" in f else None
        self.test_labels = self._csr(f, "test_labels", self.nq, self.labels.n_labels if self.labels else None) \
            if "test_labels" in f else None
        self.scenarios = {}
        for name in f.get("scenarios", {}):
            if name not in SCENARIOS:
                self._fail(f"unknown scenario 'scenarios/{name}' (known: {', '.join(SCENARIOS)})")
            p = f"scenarios/{name}/"
            if f"{p}base_labels" in f:
                base = self._csr(f, f"{p}base_labels", self.n)
            elif self.labels is not None:
                base = self.labels
            else:
                self._fail(f"scenario '{name}' needs 'labels' or '{p}base_labels'")
            # A query label the vocabulary does not have is a malformed workload, not an empty result.
            query_labels = self._csr(f, f"{p}query_labels", self.nq, base.n_labels)
            neighbors, distances = self._ground_truth(f, p, self.nq)
            selectivity = self._array(f, f"{p}selectivity", 1, "f")
            valid_count = self._array(f, f"{p}valid_count", 1, "iu") if f"{p}valid_count" in f \
                else np.rint(selectivity.astype(np.float64) * self.n).astype(np.int64)
            if len(selectivity) != self.nq or len(valid_count) != self.nq:
                self._fail(f"'{p}selectivity' and '{p}valid_count' must have {self.nq} entries")
            if f"{p}groups" in f:
                groups = {g: f[f"{p}groups/{g}"][:].astype(bool) for g in f[f"{p}groups"]}
                if any(len(mask) != self.nq for mask in groups.values()):
                    self._fail(f"'{p}groups' must have {self.nq} entries per group")
            else:
                groups = query_groups(selectivity, query_labels.sizes(), valid_count)
            self.scenarios[name] = Scenario(name, query_labels, neighbors, distances, selectivity,
                                            valid_count.astype(np.int64), base, groups)
        self.content_hash = str(attrs["source_content_hash"]) if self.worker_copy else content_hash(f)

    @property
    def scenario_names(self):
        return [UNFILTERED] + list(self.scenarios)

    def label_index(self, scenario):
        """The LabelIndex of a scenario's base-label assignment (cached; scenarios may share one)."""
        base = self.scenarios[scenario].base_labels
        if id(base) not in self._label_indexes:
            self._label_indexes[id(base)] = LabelIndex(base.indptr, base.indices, base.n_labels)
        return self._label_indexes[id(base)]

    def single_label_classes(self):
        """Class of each base and query item when every item has exactly one label, else None."""
        if self.labels is None or self.test_labels is None:
            return None
        if np.any(self.labels.sizes() != 1) or np.any(self.test_labels.sizes() != 1):
            return None
        return self.labels.indices.astype(np.int64), self.test_labels.indices.astype(np.int64)


def _non_finite_rows(vectors, block=65536):
    """Row numbers of vectors with a NaN or infinite value (integer vectors have none)."""
    if vectors.dtype.kind != "f":
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([a + np.flatnonzero(~np.isfinite(vectors[a:a + block]).all(axis=1))
                           for a in range(0, len(vectors), block)] or [np.zeros(0, dtype=np.int64)])


def _plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    return value


def _update(h, key, value):
    """Feeds one named array into a hash in a form that does not depend on how it was stored
    (strings as UTF-8, whether they come back from HDF5 as bytes or were written as str)."""
    a = np.asarray(value)
    h.update(key.encode() + b"\0" + str(a.shape).encode())
    if a.dtype.kind in "USO":
        for item in a.reshape(-1):
            text = (item.decode() if isinstance(item, bytes) else str(item)).encode()
            h.update(len(text).to_bytes(8, "little") + text)
    else:
        h.update(str(a.dtype).encode())
        h.update(np.ascontiguousarray(a).tobytes())


# The attributes that change what a search must return; the others describe (source, licence,
# build timings) and may differ between two builds of the same data.
HASHED_ATTRS = ("distance",)


def _hash(arrays, attrs):
    h = hashlib.sha256()
    for key in sorted(arrays):
        _update(h, key, arrays[key])
    for key in HASHED_ATTRS:
        h.update(f"attr {key}={json.dumps(_plain(attrs.get(key)))}".encode())
    return h.hexdigest()[:16]


def content_hash(f):
    """The content hash of an open dataset file: every array and the distance, computed from what
    the file holds (the results of a dataset are tied to it; the `content_hash` attribute is not
    read)."""
    arrays = {}
    f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return _hash(arrays, dict(f.attrs))


def dataset_content_hash(path):
    """A dataset file's content hash (None if it cannot be read)."""
    try:
        with h5py.File(path, "r") as f:
            return content_hash(f)
    except (OSError, KeyError, ValueError, TypeError):
        return None


def file_hash(path):
    """Hash of a file's bytes (byte-identical builds have the same)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()[:16]


def write_dataset(path, attrs, arrays):
    """Writes a dataset atomically. `arrays` maps HDF5 paths (e.g. 'scenarios/overlap/neighbors')
    to arrays; strings lists are stored as UTF-8. The content hash becomes an attribute too (for
    people reading the file; the harness recomputes it)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with h5py.File(tmp, "w", track_order=False) as f:
        for k, v in attrs.items():
            f.attrs[k] = v
        for key, value in sorted(arrays.items()):
            a = _as_array(value)
            if a.dtype.kind in "US":
                f.create_dataset(key, data=a.astype(object), dtype=h5py.string_dtype())
            else:
                f.create_dataset(key, data=a)
    with h5py.File(tmp, "r+") as f:
        digest = f.attrs["content_hash"] = content_hash(f)
    os.replace(tmp, path)
    return digest


def worker_copy(ds, directory):
    """The dataset as a worker sees it: everything but the ground truth, which a plugin must not
    be able to read. Made once per content hash in `directory`; returns its path."""
    path = os.path.join(directory, f"{ds.name}-{ds.content_hash}.worker.hdf5")
    if os.path.exists(path):
        return path
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with h5py.File(ds.path, "r") as src, h5py.File(tmp, "w") as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        dst.attrs["worker_copy"] = True
        dst.attrs["source_content_hash"] = ds.content_hash

        def copy(name, obj):
            if isinstance(obj, h5py.Dataset) and name.rsplit("/", 1)[-1] not in GROUND_TRUTH:
                src.copy(obj, dst, name=name)
        src.visititems(copy)
    os.replace(tmp, path)
    return path


def _as_array(value):
    if isinstance(value, list) and value and isinstance(value[0], str):
        return np.array(value, dtype=str)
    return np.asarray(value)
