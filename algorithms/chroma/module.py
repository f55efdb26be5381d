"""Chroma: the Chroma server (PyPI chromadb's `chroma run`, persisting to a temporary folder),
started by the plugin on the container's loopback, and its HTTP client, as applications use it.
(The embedded client cannot be forked into concurrent clients: its engine's threads hang in a
forked process; the server serves every client process.)

Each base vector is a record whose metadata holds every attribute: a label attribute as a list of
label ids (and their count, for equality), a numeric one as a number. A query is Chroma's `where`
filter: $contains per query label ($and for containment, $or for overlap, plus the count for
equality), $gte / $lte for ranges, $and over parts. Chroma searches its HNSW index (hnswlib) with
the filter's matches as an allow list. Build time covers adding every record and indexing; index
size is the server's folder on disk.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

from algorithms.base import FilteredANN, range_sides
from harness.attributes import LABELS

try:
    import chromadb
    from chromadb.config import Settings
except ImportError:  # --local without the plugin's packages
    chromadb = None

SERVER_START_SECONDS = 60


def all_of(conditions):
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


def where(filter, keys):
    """The predicate as a Chroma `where` filter. keys: attribute name -> metadata key."""
    if filter.kind == "and":
        return all_of([where(part, keys) for part in filter.operands])
    key = keys[filter.attribute]
    if filter.kind == "range":
        sides = [{key: {{">=": "$gte", "<=": "$lte"}[op]: bound}} for op, bound in range_sides(*filter.operands)]
        return all_of(sides) if sides else {key: {"$gte": float("-inf")}}
    labels = sorted({int(label) for label in filter.operands})
    has = [{key: {"$contains": label}} for label in labels]
    if filter.kind == "overlap":
        return has[0] if len(has) == 1 else {"$or": has}
    count = [{f"{key}_count": len(labels)}] if filter.kind == "equality" else []
    return all_of(has + count) if has + count else {f"{key}_count": {"$gte": 0}}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Chroma(FilteredANN):
    predicates = ("unfiltered", "containment", "overlap", "equality", "range", "and")
    builds_on_attribute = "all"
    uses_filter_map = False

    def __init__(self, distance, max_neighbors=16, ef_construction=100):
        super().__init__(distance)
        if chromadb is None:
            raise ImportError("chroma needs chromadb: pip install -r algorithms/chroma/requirements.txt, or run it in "
                              "Docker (python -m install --algorithm chroma)")
        if distance not in ("euclidean", "angular"):
            raise ValueError(f"chroma: distance must be euclidean or angular, not '{distance}'")
        self.max_neighbors, self.ef_construction = int(max_neighbors), int(ef_construction)
        self.server = self.folder = self.collection = None
        self.ef_search = None

    def start_server(self):
        self.folder = tempfile.mkdtemp(prefix="chroma-")
        self.port = free_port()
        chroma = os.path.join(os.path.dirname(sys.executable), "chroma")
        self.log = open(os.path.join(self.folder, "server.log"), "wb")
        self.server = subprocess.Popen([chroma, "run", "--path", os.path.join(self.folder, "data"), "--host", "127.0.0.1",
                                        "--port", str(self.port)], stdout=self.log, stderr=subprocess.STDOUT,
                                       env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            try:
                self.connect()
                return
            except Exception:
                if self.server.poll() is not None or time.monotonic() > deadline:
                    with open(self.log.name, "rb") as f:
                        tail = f.read().decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
                    raise RuntimeError(f"the Chroma server did not start: {tail[0][:300]}") from None
                time.sleep(0.2)

    def connect(self):
        self.client = chromadb.HttpClient(host="127.0.0.1", port=self.port,
                                          settings=Settings(anonymized_telemetry=False))
        self.client.heartbeat()
        if self.collection is not None:
            self.collection = self.client.get_collection("items")

    def fit(self, X, attributes):
        X = self.vectors(X)
        self.n = len(X)
        self.start_server()
        self.collection = self.client.create_collection(
            "items", configuration={"hnsw": {"space": "l2", "max_neighbors": self.max_neighbors,
                                             "ef_construction": self.ef_construction}})
        self.keys = {name: f"a{i}" for i, name in enumerate(attributes)}
        columns = {self.keys[name]: (a.rows() if a.kind == LABELS else a.values, a.kind) for name, a in attributes.items()}

        def metadata(i):
            out = {}
            for key, (values, kind) in columns.items():
                if kind == LABELS:
                    labels = sorted({int(v) for v in values[i]})
                    out[f"{key}_count"] = len(labels)
                    if labels:  # Chroma takes no empty list
                        out[key] = labels
                else:
                    out[key] = float(values[i])
            return out

        batch = self.client.get_max_batch_size()
        for start in range(0, self.n, batch):
            ids = range(start, min(self.n, start + batch))
            self.collection.add(ids=[str(i) for i in ids], embeddings=X[start:start + len(ids)],
                                metadatas=[metadata(i) for i in ids])

    def set_query_arguments(self, ef_search=100):
        if ef_search != self.ef_search:
            self.collection.modify(configuration={"hnsw": {"ef_search": int(ef_search)}})
            self.ef_search = int(ef_search)

    def filtered_query(self, q, k, filter, valid):
        q = self.vectors(np.reshape(q, (1, -1)))
        found = self.collection.query(query_embeddings=q, n_results=int(k), include=[],
                                      where=None if filter is None else where(filter, self.keys))
        return np.array([int(i) for i in found["ids"][0]], dtype=np.int64)

    def count(self, filter):
        """The engine's own count of records that pass (the translation test checks it against the filter map)."""
        return len(self.collection.get(where=where(filter, self.keys), include=[])["ids"])

    def after_fork(self):
        self.connect()  # a client of its own: the parent's HTTP connection pool is not shared

    def index_size(self):
        return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(os.path.join(self.folder, "data"))
                   for f in files)

    def engine(self):
        return {"name": "Chroma (server)", "version": f"chromadb {chromadb.__version__}",
                "settings": {"max_neighbors": self.max_neighbors, "ef_construction": self.ef_construction,
                             "ef_search": self.ef_search}}

    def done(self):
        if self.server is not None:
            self.server.terminate()
            try:
                self.server.wait(10)
            except subprocess.TimeoutExpired:
                self.server.kill()
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
