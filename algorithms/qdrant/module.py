"""Qdrant: the real Qdrant engine embedded in the process (PyPI qdrant-edge-py, Qdrant Edge), one
shard in a temporary folder with its HNSW index and a payload index per attribute.

Each base vector is a point whose payload holds every attribute (a label attribute as a list of
label ids, an Integer index; a numeric one as a number, a Float index). A query is a `must` filter
built from the predicate: containment one MatchValue per query label, overlap MatchAny, equality
the labels plus a values_count of exactly that many, range a RangeFloat, `and` the parts' filters
nested. Qdrant's planner decides per query between the HNSW graph (with the filter checked during
the walk, or its ACORN variant with `acorn`) and a scan of the payload index's matches (below
full_scan_threshold). Build time covers upserting, indexing payloads and optimizing into one
indexed segment; index size is the shard's folder on disk.
"""
import os
import shutil
import tempfile

import numpy as np

from algorithms.base import FilteredANN
from harness.attributes import LABELS

try:
    import qdrant_edge as qe
except ImportError:  # --local without the plugin's packages
    qe = None

UPSERT_BATCH = 1000


def condition(filter, keys):
    """The predicate as a Qdrant Filter. keys: attribute name -> payload key."""
    if filter.kind == "and":
        return qe.Filter(must=[condition(part, keys) for part in filter.operands])
    key = keys[filter.attribute]
    if filter.kind == "range":
        lo, hi = filter.operands
        return qe.Filter(must=[qe.FieldCondition(key, range=qe.RangeFloat(gte=float(lo) if np.isfinite(lo) else None,
                                                                         lte=float(hi) if np.isfinite(hi) else None))])
    labels = sorted({int(label) for label in filter.operands})
    if filter.kind == "overlap":
        return qe.Filter(must=[qe.FieldCondition(key, match=qe.MatchAny(labels))])
    must = [qe.FieldCondition(key, match=qe.MatchValue(label)) for label in labels]
    if filter.kind == "equality":
        must.append(qe.FieldCondition(key, values_count=qe.ValuesCount(gte=len(labels), lte=len(labels)))
                    if labels else qe.FieldCondition(key, is_empty=True))
    return qe.Filter(must=must)


class Qdrant(FilteredANN):
    predicates = ("unfiltered", "containment", "overlap", "equality", "range", "and")
    builds_on_attribute = "all"
    uses_filter_map = False

    def __init__(self, distance, m=16, ef_construct=100, full_scan_threshold=10000):
        super().__init__(distance)
        if qe is None:
            raise ImportError("qdrant needs qdrant-edge-py: pip install -r algorithms/qdrant/requirements.txt, or run "
                              "it in Docker (python -m install --algorithm qdrant)")
        if distance not in ("euclidean", "angular"):
            raise ValueError(f"qdrant: distance must be euclidean or angular, not '{distance}'")
        self.m, self.ef_construct, self.full_scan_threshold = int(m), int(ef_construct), int(full_scan_threshold)
        self.folder = self.shard = None
        self.params = None

    def fit(self, X, attributes):
        X = self.vectors(X)
        self.n, d = X.shape
        self.folder = tempfile.mkdtemp(prefix="qdrant-")
        config = qe.EdgeConfig(
            vectors=qe.EdgeVectorParams(size=d, distance=qe.Distance.Euclid),
            hnsw_config=qe.HnswIndexConfig(m=self.m, ef_construct=self.ef_construct,
                                           full_scan_threshold=self.full_scan_threshold,
                                           max_indexing_threads=self.threads),
            # one segment, indexed whatever its size: the HNSW graph is what is measured
            optimizers=qe.EdgeOptimizersConfig(default_segment_number=1, indexing_threshold=1),
            # A search runs in the calling thread: one query, one thread, as the harness measures it,
            # and a forked client (run.py --clients) has no pool whose threads stayed in its parent.
            max_search_threads=1)
        self.shard = qe.EdgeShard.create(os.path.join(self.folder, "shard"), config)
        self.keys = {name: f"a{i}" for i, name in enumerate(attributes)}
        for name, a in attributes.items():
            kind = qe.PayloadSchemaType.Integer if a.kind == LABELS else qe.PayloadSchemaType.Float
            self.shard.update(qe.UpdateOperation.create_field_index(self.keys[name], kind))
        columns = {self.keys[name]: (a.rows() if a.kind == LABELS else a.values) for name, a in attributes.items()}
        kinds = {self.keys[name]: a.kind for name, a in attributes.items()}
        for start in range(0, self.n, UPSERT_BATCH):
            points = []
            for i in range(start, min(self.n, start + UPSERT_BATCH)):
                payload = {key: ([int(v) for v in column[i]] if kinds[key] == LABELS else float(column[i]))
                           for key, column in columns.items()}
                points.append(qe.Point(i, X[i].tolist(), payload))
            self.shard.update(qe.UpdateOperation.upsert_points(points))
        self.shard.optimize()
        self.shard.flush()

    # Defaults are Qdrant's own (hnsw_ef: ef_construct when unset; ACORN off), so the site can say
    # what a user who sets nothing gets.
    def set_query_arguments(self, hnsw_ef=100, exact=False, acorn=False, acorn_max_selectivity=0.4):
        self.params = qe.SearchParams(hnsw_ef=int(hnsw_ef), exact=bool(exact),
                                      acorn=qe.AcornSearchParams(enable=bool(acorn),
                                                                 max_selectivity=float(acorn_max_selectivity)))
        self.settings = {"hnsw_ef": int(hnsw_ef), "exact": bool(exact), "acorn": bool(acorn),
                         "acorn_max_selectivity": float(acorn_max_selectivity)}

    def filtered_query(self, q, k, filter, valid):
        q = self.vectors(np.reshape(q, (1, -1)))[0]
        request = qe.QueryRequest(limit=int(k), query=qe.Query.Nearest(q.tolist()), params=self.params,
                                  filter=None if filter is None else condition(filter, self.keys))
        return np.array([p.id for p in self.shard.query(request)], dtype=np.int64)

    def count(self, filter):
        """The engine's own count of points that pass (the translation test checks it against the filter map)."""
        return int(self.shard.count(qe.CountRequest(exact=True, filter=condition(filter, self.keys))))

    def index_size(self):
        return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(self.folder) for f in files)

    def engine(self):
        from importlib.metadata import version
        return {"name": "Qdrant (embedded, Qdrant Edge)", "version": f"qdrant-edge-py {version('qdrant-edge-py')}",
                "settings": {"m": self.m, "ef_construct": self.ef_construct,
                             "full_scan_threshold": self.full_scan_threshold, **getattr(self, "settings", {})}}

    def done(self):
        if self.shard is not None:
            self.shard.close()
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
