"""LanceDB: the embedded database on the Lance columnar format (PyPI lancedb), one table in a
temporary folder: the id, the vector, and a column per attribute (a list of label ids with a
LABEL_LIST scalar index per label attribute, a number with a BTREE index per numeric one).

A query is LanceDB's own search with a SQL filter (DataFusion): array_has_all for containment,
array_has_any for overlap, array_has_all plus array_length for equality, BETWEEN-style bounds for
ranges. `prefilter` (a query argument) says whether the filter is applied before the vector index
(LanceDB's default since 0.8: true) or to the index's top candidates only (false: fewer than k,
often none, pass a selective filter). Build time covers writing the table and every index; index
size is the table's folder on disk.
"""
import os
import shutil
import tempfile

import numpy as np

from algorithms.base import FilteredANN, range_sides
from harness.attributes import LABELS

try:
    import lancedb
    import pyarrow as pa
except ImportError:  # --local without the plugin's packages
    lancedb = None


def sql_filter(filter, columns):
    """The predicate as a LanceDB (DataFusion SQL) filter. columns: attribute name -> column."""
    if filter.kind == "and":
        return " AND ".join(f"({sql_filter(part, columns)})" for part in filter.operands)
    column = columns[filter.attribute]
    if filter.kind == "range":
        return " AND ".join(f"{column} {op} {bound!r}" for op, bound in range_sides(*filter.operands)) or "TRUE"
    labels = sorted({int(label) for label in filter.operands})
    listed = f"[{', '.join(map(str, labels))}]"
    if filter.kind == "overlap":
        return f"array_has_any({column}, {listed})" if labels else "FALSE"
    contains = f"array_has_all({column}, {listed})" if labels else "TRUE"
    if filter.kind == "equality":
        return f"{contains} AND coalesce(array_length({column}), 0) = {len(labels)}"
    return contains


class LanceDB(FilteredANN):
    predicates = ("unfiltered", "containment", "overlap", "equality", "range", "and")
    builds_on_attribute = "all"
    uses_filter_map = False

    # Defaults are LanceDB's own (create_index: IVF_PQ, about sqrt(n) partitions; search: nprobes 20,
    # prefilter on), so the site can say what a user who sets nothing gets.
    def __init__(self, distance, index="IVF_PQ", num_partitions=0, m=20, ef_construction=300):
        super().__init__(distance)
        if lancedb is None:
            raise ImportError("lancedb needs its package: pip install -r algorithms/lancedb/requirements.txt, or run "
                              "it in Docker (python -m install --algorithm lancedb)")
        if index not in ("IVF_HNSW_SQ", "IVF_PQ", "IVF_FLAT", "none"):
            raise ValueError(f"lancedb: index must be IVF_HNSW_SQ, IVF_PQ, IVF_FLAT or none (an exact scan), not '{index}'")
        if distance not in ("euclidean", "angular"):
            raise ValueError(f"lancedb: distance must be euclidean or angular, not '{distance}'")
        self.index, self.num_partitions, self.m, self.ef_construction = index, int(num_partitions), int(m), int(ef_construction)
        self.folder = self.table = None
        self.settings = {}

    def fit(self, X, attributes):
        X = self.vectors(X)
        self.n, d = X.shape
        self.folder = tempfile.mkdtemp(prefix="lancedb-")
        self.columns = {name: f"a{i}" for i, name in enumerate(attributes)}
        data = {"id": pa.array(np.arange(self.n, dtype=np.int64)),
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), d)}
        for name, a in attributes.items():
            data[self.columns[name]] = (pa.array([sorted(map(int, row)) for row in a.rows()], type=pa.list_(pa.int32()))
                                        if a.kind == LABELS else pa.array(np.asarray(a.values, dtype=np.float64)))
        self.table = lancedb.connect(self.folder).create_table("items", pa.table(data))
        if self.index != "none":
            # LanceDB's default partition count: about sqrt(n)
            partitions = self.num_partitions or max(1, int(np.sqrt(self.n)))
            kwargs = {"m": self.m, "ef_construction": self.ef_construction} if self.index == "IVF_HNSW_SQ" else {}
            self.table.create_index(metric="l2", vector_column_name="vector", index_type=self.index,
                                    num_partitions=partitions, **kwargs)
        for name, a in attributes.items():
            self.table.create_scalar_index(self.columns[name], index_type="LABEL_LIST" if a.kind == LABELS else "BTREE")

    def set_query_arguments(self, prefilter=True, nprobes=20, ef=64, refine_factor=0):
        self.settings = {"prefilter": bool(prefilter), "nprobes": int(nprobes), "ef": int(ef),
                         "refine_factor": int(refine_factor)}

    def filtered_query(self, q, k, filter, valid):
        q = self.vectors(np.reshape(q, (1, -1)))[0]
        # _distance asked for explicitly: LanceDB warns on every query that leaves it out
        search = self.table.search(q, vector_column_name="vector").limit(int(k)).select(["id", "_distance"])
        if self.index == "none":
            search = search.bypass_vector_index()
        else:
            search = search.nprobes(self.settings["nprobes"]).ef(self.settings["ef"])
            if self.settings["refine_factor"]:
                search = search.refine_factor(self.settings["refine_factor"])
        if filter is not None:
            search = search.where(sql_filter(filter, self.columns), prefilter=self.settings["prefilter"])
        return search.to_arrow()["id"].to_numpy().astype(np.int64)

    # LanceDB calls its fork support experimental, and forked clients crashed (SIGSEGV) or hung in
    # its runtime even with a connection of their own: clients are fresh processes that open the
    # table from its folder.
    clients_by = "spawn"

    def __getstate__(self):
        return {key: value for key, value in self.__dict__.items() if key != "table"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.table = lancedb.connect(self.folder).open_table("items")

    def count(self, filter):
        """The engine's own count of rows that pass (the translation test checks it against the filter map)."""
        return int(self.table.count_rows(sql_filter(filter, self.columns)))

    def index_size(self):
        return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(self.folder) for f in files)

    def engine(self):
        return {"name": "LanceDB", "version": f"lancedb {lancedb.__version__}",
                "settings": {"index": self.index, "num_partitions": self.num_partitions, **self.settings}}

    def done(self):
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
