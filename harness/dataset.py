"""The dataset file: HDF5, a superset of ann-benchmarks' layout.

    attrs: name, distance ("euclidean" | "angular" | "ip"), dimension, point_type, source,
           license, builder_version, content_hash
    train                  [n, d]      base vectors
    test                   [nq, d]     query vectors (held out of the base)
    neighbors, distances   [nq, K]     unfiltered ground truth
    attributes/<name>/...              the base vectors' attributes (harness.attributes): label
                                       sets (indptr, indices, vocabulary) or numbers (values, unit)
    query_attributes/<name>/...        the query items' own attributes, where known (workloads
                                       are drawn from them)
    scenarios/<scenario>/
        predicate          one string: the JSON spec of its predicate (harness.predicates), e.g.
                           {"kind": "containment", "attribute": "labels"}
        operands/...       each query's operands, as the predicate's kind stores them
        neighbors int32 [nq, K], distances float32 [nq, K]   filtered ground truth, -1 / inf padded
        selectivity float32 [nq], valid_count int64 [nq]
        groups/<name> uint8 [nq]       query groups (query_groups below, and the kind's own);
                                       computed on load for files without them

Files written before attributes existed still load: `labels/` and `test_labels/` are the
attribute `labels`, `scenarios/fixed_equality/base_labels/` the attribute `fixed`, and the
scenarios containment, overlap, equality (over `labels`) and fixed_equality (equality over
`fixed`) keep their operands in `query_labels/`. A plain ann-benchmarks file (train, test,
neighbors, distances) loads and runs unfiltered.

What is checked on load, each with a one-line error: shapes and dtypes, finite vectors (NaN or
inf would make every distance meaningless), label ids inside the vocabulary (query labels too),
predicates and their operands (a range with lo > hi, say), ground-truth ids inside the base and
passing their query's predicate (a NaN written over an attribute after the ground truth was
computed would otherwise surface as a harness defect), and the names (they become directories
under the results). The content hash that identifies the dataset in results is
computed from the content on every load; the `content_hash` attribute written at build time is
never trusted, so an edited copy is a different dataset.

Workers get a copy without the ground truth (`worker_copy`): a plugin cannot read the answers.
"""
import functools
import hashlib
import json
import os

import h5py
import numpy as np

from harness.attributes import Csr, LabelAttribute, NumericAttribute  # noqa: F401 (Csr: imported from here too)
from harness.filters import UNFILTERED
from harness.names import UnsafeName, check_name
from harness.predicates import make

GROUND_TRUTH = ("neighbors", "distances")  # the arrays (at the root and per scenario) a worker never sees

DISTANCES = ("euclidean", "angular", "ip")
SELECTIVITY_PERCENTILES = (1, 25, 50, 75)  # the FANNS paper's selectivity groups
TOP_K_MARKS = (1, 10, 50, 100)
# The scenarios of files written before predicates were stored with them.
LEGACY_SCENARIOS = {"containment": {"kind": "containment", "attribute": "labels"},
                    "overlap": {"kind": "overlap", "attribute": "labels"},
                    "equality": {"kind": "equality", "attribute": "labels"},
                    "fixed_equality": {"kind": "equality", "attribute": "fixed"}}


def query_groups(selectivity, valid_count, kind_groups=None):
    """The queries of one scenario in the FANNS paper's groups, {name: bool mask}:
    selectivity_q1..q4   quartiles of selectivity (q1: the 25% that pass the fewest base vectors);
    selectivity_p1, _p25, _p50, _p75
                         the 5% of queries (at least one) whose selectivity rank is nearest that percentile;
    top1, top10, top50, top100
                         queries with at least that many valid base vectors (the top-k experiment);
    and the groups of the scenario's predicate kind (kind_groups), e.g. labels_short, _medium,
    _long (1, 2 to 3, 4 or more query labels) or the target levels of ranges."""
    selectivity = np.asarray(selectivity)
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
    for k in TOP_K_MARKS:
        groups[f"top{k}"] = np.asarray(valid_count) >= k
    groups.update(kind_groups or {})
    return groups


class DatasetError(Exception):
    """A dataset file that is missing, unreadable or malformed; the message names what is wrong."""


class Scenario:
    """A named predicate with its queries' operands and exact ground truth."""

    def __init__(self, name, predicate, operands, neighbors, distances, selectivity, valid_count, groups):
        self.name = name
        self.predicate = predicate  # harness.predicates.Predicate over the dataset's attributes
        self.operands = operands    # one per query
        self.neighbors = neighbors
        self.distances = distances
        self.selectivity = selectivity
        self.valid_count = valid_count
        self.groups = groups  # {name: bool mask over the queries} (query_groups)

    @property
    def kind(self):
        return self.predicate.kind

    def filter(self, i):
        """Query i's predicate as plugins receive it."""
        return self.predicate.filter(self.operands[i])

    def filter_map(self, i):
        return self.predicate.filter_map(self.operands[i])

    def describe(self, i):
        return self.predicate.describe(self.operands[i])


class Dataset:
    """A loaded and validated dataset. Base vectors of one byte (uint8, int8: yfcc's) stay as stored,
    a quarter of their float32 size; all other vectors are held as float32."""

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

    def _attribute(self, f, group, name, rows, base=None):
        """One attribute under `group`: a label attribute (its ids inside the vocabulary of the
        base's attribute of that name, for query attributes) or a numeric one."""
        key = f"{group}/{name}"
        try:
            check_name(name, "attribute name")
        except UnsafeName as e:
            self._fail(str(e))
        if f"{key}/values" in f:
            values = self._array(f, f"{key}/values", 1, "iuf")
            if len(values) != rows:
                self._fail(f"'{key}/values' has {len(values)} entries, expected {rows}")
            unit = f[f"{key}/unit"][()][0] if f"{key}/unit" in f else b""
            return NumericAttribute(name, values, unit.decode() if isinstance(unit, bytes) else str(unit))
        limit = base.n_labels if base is not None and base.kind == "labels" else None
        csr = self._csr(f, key, rows, limit)
        if base is not None and csr.vocabulary is None:
            csr.vocabulary = base.vocabulary
        return LabelAttribute.of(name, csr)

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
        self.train = self._array(f, "train", 2, "fiu")
        if self.train.dtype.itemsize > 1:
            self.train = self.train.astype(np.float32, copy=False)
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
        self.attributes = {name: self._attribute(f, "attributes", name, self.n) for name in f.get("attributes", {})}
        self.query_attributes = {name: self._attribute(f, "query_attributes", name, self.nq, self.attributes.get(name))
                                 for name in f.get("query_attributes", {})}
        # Files written before attributes: labels/, test_labels/, fixed_equality's base_labels/.
        if "labels" in f and "labels" not in self.attributes:
            self.attributes["labels"] = LabelAttribute.of("labels", self._csr(f, "labels", self.n))
        if "test_labels" in f and "labels" not in self.query_attributes:
            self.query_attributes["labels"] = LabelAttribute.of(
                "labels", self._csr(f, "test_labels", self.nq, self.attributes["labels"].n_labels
                                    if "labels" in self.attributes else None))
        if "scenarios/fixed_equality/base_labels" in f and "fixed" not in self.attributes:
            self.attributes["fixed"] = LabelAttribute.of("fixed", self._csr(f, "scenarios/fixed_equality/base_labels",
                                                                            self.n))
        self.scenarios = {}
        for name in f.get("scenarios", {}):
            self.scenarios[name] = self._scenario(f, name)
        self.content_hash = str(attrs["source_content_hash"]) if self.worker_copy else content_hash(f)

    def _scenario(self, f, name):
        p = f"scenarios/{name}/"
        try:
            check_name(name, "scenario name")
        except UnsafeName as e:
            self._fail(str(e))
        if f"{p}predicate" in f:
            try:
                spec = json.loads(_text(f[f"{p}predicate"][()]))
            except ValueError:
                self._fail(f"'{p}predicate' is not a JSON predicate spec")
            prefix = p + "operands"
        elif name in LEGACY_SCENARIOS:
            spec, prefix = LEGACY_SCENARIOS[name], p + "query_labels"
        else:
            self._fail(f"scenario '{name}' has no '{p}predicate'")
        try:
            predicate = make(spec, self.attributes)
            operands = predicate.load(f, prefix, self.nq)
        except (ValueError, KeyError) as e:
            self._fail(f"scenario '{name}': {e.args[0] if e.args else e}")
        neighbors, distances = self._ground_truth(f, p, self.nq)
        self._check_ground_truth(name, predicate, operands, neighbors)
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
            groups = query_groups(selectivity, valid_count, predicate.groups(operands))
        return Scenario(name, predicate, operands, neighbors, distances, selectivity, valid_count.astype(np.int64),
                        groups)

    def _check_ground_truth(self, name, predicate, operands, neighbors):
        """Every stored neighbour passes its query's predicate: it did when the ground truth was
        computed, so one that fails now means attributes or operands were changed since (a NaN
        written over a value, say), and every recall of this file would be wrong."""
        owners, columns = np.nonzero(neighbors >= 0)
        ids = neighbors[owners, columns].astype(np.int64)
        failing = np.flatnonzero(~predicate.passes_many(ids, owners, operands))
        if len(failing):
            i, bad = int(owners[failing[0]]), int(ids[failing[0]])
            self._fail(f"scenario '{name}': query {i}: its ground-truth neighbour {bad} fails the query's predicate "
                       f"({predicate.describe(operands[i])}): the attributes or operands changed after the ground "
                       f"truth was computed; rebuild the dataset")

    @property
    def scenario_names(self):
        return [UNFILTERED] + list(self.scenarios)

    @functools.cached_property
    def fixed_length_attributes(self):
        """The label attributes whose base items all carry the same number of labels (NHQ's
        attribute vectors, one label per position), in name order."""
        return [name for name, a in sorted(self.attributes.items())
                if isinstance(a, LabelAttribute) and len(a.indptr) > 1 and np.ptp(np.diff(a.indptr)) == 0]

    @property
    def labels(self):
        """The label attribute `labels`, the label sets of most datasets (None without one)."""
        return self.attributes.get("labels")

    @property
    def test_labels(self):
        """The query items' own `labels`, where known."""
        return self.query_attributes.get("labels")

    def single_label_classes(self):
        """Class of each base and query item when every item has exactly one label, else None."""
        if self.labels is None or self.test_labels is None:
            return None
        if np.any(self.labels.sizes() != 1) or np.any(self.test_labels.sizes() != 1):
            return None
        return self.labels.indices.astype(np.int64), self.test_labels.indices.astype(np.int64)


def _text(value):
    """A string stored as an HDF5 string dataset (one element, or a scalar)."""
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0]
    return value.decode() if isinstance(value, bytes) else str(value)


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
