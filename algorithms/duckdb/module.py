"""DuckDB with its vss extension: the in-process analytical database (PyPI duckdb) and its HNSW
index, the extension loaded offline from its PyPI package by file path.

The base is one table: the id, the vector as FLOAT[d], and a column per attribute (INTEGER[] of
label ids, or DOUBLE). A query is SQL: WHERE <the predicate> ORDER BY array_distance(vec, q)
LIMIT k. With an HNSW index, DuckDB's optimizer answers that from the index's top candidates and
applies the WHERE clause to them, so a selective filter returns fewer than k (vss's documented
behaviour); with index none it is an exact scan. Build time covers loading and indexing; index
size is DuckDB's own memory use for the database.
"""
import glob
import os

import numpy as np

from algorithms.base import FilteredANN, range_sides
from harness.attributes import LABELS

try:
    import duckdb
    import duckdb_extension_vss
    import pyarrow as pa
except ImportError:  # --local without the plugin's packages
    duckdb = None


def sql_filter(filter, columns):
    """The predicate as a DuckDB SQL condition. columns: attribute name -> column."""
    if filter.kind == "and":
        return " AND ".join(f"({sql_filter(part, columns)})" for part in filter.operands)
    column = columns[filter.attribute]
    if filter.kind == "range":
        return " AND ".join(f"{column} {op} {bound!r}" for op, bound in range_sides(*filter.operands)) or "TRUE"
    labels = sorted({int(label) for label in filter.operands})
    listed = f"[{', '.join(map(str, labels))}]::INTEGER[]"
    if filter.kind == "overlap":
        return f"list_has_any({column}, {listed})"
    contains = f"list_has_all({column}, {listed})"
    return f"{contains} AND len({column}) = {len(labels)}" if filter.kind == "equality" else contains


def vss_extension():
    found = glob.glob(os.path.join(os.path.dirname(duckdb_extension_vss.__file__), "extensions", "*",
                                   "vss.duckdb_extension"))
    if not found:
        raise FileNotFoundError("duckdb-extension-vss holds no vss.duckdb_extension file")
    return found[0]


class DuckDB(FilteredANN):
    predicates = ("unfiltered", "containment", "overlap", "equality", "range", "and")
    builds_on_attribute = "all"
    uses_filter_map = False

    def __init__(self, distance, index="hnsw", M=16, ef_construction=128):
        super().__init__(distance)
        if duckdb is None:
            raise ImportError("duckdb needs duckdb and duckdb-extension-vss: pip install -r "
                              "algorithms/duckdb/requirements.txt, or run it in Docker (python -m install --algorithm duckdb)")
        if index not in ("hnsw", "none"):
            raise ValueError(f"duckdb: index must be hnsw or none (an exact scan), not '{index}'")
        if distance not in ("euclidean", "angular"):
            raise ValueError(f"duckdb: distance must be euclidean or angular, not '{distance}'")
        self.index, self.M, self.ef_construction = index, int(M), int(ef_construction)
        self.con = None
        self.ef_search = 64

    def set_threads(self, n):
        super().set_threads(n)
        if self.con is not None:
            self.con.execute(f"SET threads = {int(n)}")

    def fit(self, X, attributes):
        X = self.vectors(X)
        self.n, self.d = X.shape
        self.con = duckdb.connect(config={"threads": self.threads})
        self.con.execute(f"LOAD '{vss_extension()}'")
        self.columns = {name: f"a{i}" for i, name in enumerate(attributes)}
        data = {"id": pa.array(np.arange(self.n, dtype=np.int64)),
                "vec": pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), self.d)}
        for name, a in attributes.items():
            data[self.columns[name]] = (pa.array([sorted(map(int, row)) for row in a.rows()], type=pa.list_(pa.int32()))
                                        if a.kind == LABELS else pa.array(np.asarray(a.values, dtype=np.float64)))
        rows = pa.table(data)  # noqa: F841 - read by name in the SQL below (DuckDB's replacement scan)
        columns = "".join(f", {c}" for c in self.columns.values())
        self.con.execute(f"CREATE TABLE items AS SELECT id, vec::FLOAT[{self.d}] AS vec{columns} FROM rows")
        if self.index == "hnsw":
            self.con.execute(f"CREATE INDEX items_hnsw ON items USING HNSW (vec) "
                             f"WITH (metric = 'l2sq', M = {self.M}, ef_construction = {self.ef_construction})")

    def set_query_arguments(self, ef_search=64):
        self.ef_search = int(ef_search)
        self.con.execute(f"SET hnsw_ef_search = {self.ef_search}")

    def filtered_query(self, q, k, filter, valid):
        q = self.vectors(np.reshape(q, (1, -1)))[0]
        condition = "TRUE" if filter is None else sql_filter(filter, self.columns)
        rows = self.con.execute(f"SELECT id FROM items WHERE {condition} "
                                f"ORDER BY array_distance(vec, ?::FLOAT[{self.d}]) LIMIT {int(k)}", [q.tolist()]).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def count(self, filter):
        """The engine's own count of rows that pass (the translation test checks it against the filter map)."""
        return int(self.con.execute(f"SELECT count(*) FROM items WHERE {sql_filter(filter, self.columns)}").fetchone()[0])

    def index_size(self):
        return int(self.con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0])

    def engine(self):
        return {"name": "DuckDB + vss", "version": f"DuckDB {duckdb.__version__}",
                "settings": {"index": self.index, "M": self.M, "ef_construction": self.ef_construction,
                             "hnsw_ef_search": self.ef_search}}

    def done(self):
        if self.con is not None:
            self.con.close()
