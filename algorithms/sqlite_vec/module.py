"""sqlite-vec: SQLite's vector extension (PyPI sqlite-vec), loaded into an in-memory SQLite
database through apsw (this Python's sqlite3 module cannot load extensions).

vec0 is an exact search: a KNN query (embedding MATCH q AND k = K) scans the vectors of the rows
that its constraints leave. The base is a vec0 table with the id, the vector and a metadata
column per numeric attribute (and per label attribute the number of labels, for equality), and a
plain table (label, id) per label attribute, its primary key the index a label lookup uses. A
predicate becomes constraints of the KNN query: a metadata range, and `id IN (SELECT id FROM
<labels> WHERE label IN (...) [GROUP BY id HAVING count(*) = n])` for label sets. Build time
covers inserting every row; index size is the database's pages.
"""
import numpy as np

from algorithms.base import FilteredANN, range_sides
from harness.attributes import LABELS

try:
    import apsw
    import sqlite_vec
except ImportError:  # --local without the plugin's packages
    apsw = None


def constraints(filter, columns):
    """The predicate as SQL constraints of the KNN query and their parameters. columns:
    attribute name -> (metadata column, label table or None)."""
    if filter.kind == "and":
        parts = [constraints(part, columns) for part in filter.operands]
        return " AND ".join(sql for sql, _ in parts), [p for _, params in parts for p in params]
    column, table = columns[filter.attribute]
    if filter.kind == "range":
        sides = range_sides(*filter.operands)
        return (" AND ".join(f"{column} {op} ?" for op, _ in sides) or "1"), [bound for _, bound in sides]
    labels = sorted({int(label) for label in filter.operands})
    marks = ", ".join("?" * len(labels))
    if filter.kind == "overlap":
        return f"id IN (SELECT id FROM {table} WHERE label IN ({marks}))", labels
    if not labels:  # every label set contains the empty set; only empty ones equal it
        return ("1", []) if filter.kind == "containment" else (f"{column} = 0", [])
    sql = f"id IN (SELECT id FROM {table} WHERE label IN ({marks}) GROUP BY id HAVING count(*) = {len(labels)})"
    return (f"{sql} AND {column} = {len(labels)}" if filter.kind == "equality" else sql), labels


class SqliteVec(FilteredANN):
    predicates = ("unfiltered", "containment", "overlap", "equality", "range", "and")
    builds_on_attribute = "all"
    uses_filter_map = False

    def __init__(self, distance):
        super().__init__(distance)
        if apsw is None:
            raise ImportError("sqlite-vec needs sqlite-vec and apsw: pip install -r algorithms/sqlite_vec/requirements.txt, "
                              "or run it in Docker (python -m install --algorithm sqlite-vec)")
        if distance not in ("euclidean", "angular"):
            raise ValueError(f"sqlite-vec: distance must be euclidean or angular, not '{distance}'")
        self.db = None

    def fit(self, X, attributes):
        X = self.vectors(X)
        self.n, d = X.shape
        self.db = apsw.Connection(":memory:")
        self.db.enable_load_extension(True)
        self.db.load_extension(sqlite_vec.loadable_path())
        self.db.enable_load_extension(False)
        self.columns = {name: (f"a{i}" if a.kind != LABELS else f"a{i}_count", f"labels_a{i}" if a.kind == LABELS else None)
                        for i, (name, a) in enumerate(attributes.items())}
        metadata = "".join(f", {column} {'integer' if table else 'float'}" for column, table in self.columns.values())
        self.db.execute(f"CREATE VIRTUAL TABLE items USING vec0(id integer primary key, embedding float[{d}] "
                        f"distance_metric=l2{metadata})")
        names = list(attributes)
        values = [attributes[a].rows() if attributes[a].kind == LABELS else attributes[a].values for a in names]
        marks = ", ".join("?" * (2 + len(names)))
        with self.db:
            self.db.executemany(f"INSERT INTO items VALUES ({marks})",
                                ((i, X[i].tobytes(), *[len(set(map(int, v[i]))) if self.columns[a][1] else float(v[i])
                                                       for a, v in zip(names, values)]) for i in range(self.n)))
            for a, v in zip(names, values):
                table = self.columns[a][1]
                if table:
                    self.db.execute(f"CREATE TABLE {table} (label integer, id integer, PRIMARY KEY (label, id)) WITHOUT ROWID")
                    self.db.executemany(f"INSERT INTO {table} VALUES (?, ?)",
                                        ((int(label), i) for i in range(self.n) for label in set(map(int, v[i]))))
        self.db.execute("ANALYZE")

    def filtered_query(self, q, k, filter, valid):
        q = self.vectors(np.reshape(q, (1, -1)))[0]
        condition, params = ("1", []) if filter is None else constraints(filter, self.columns)
        rows = self.db.execute(f"SELECT id FROM items WHERE embedding MATCH ? AND k = ? AND {condition} ORDER BY distance",
                               [q.tobytes(), int(k)] + params)
        return np.array([r[0] for r in rows], dtype=np.int64)

    def count(self, filter):
        """The engine's own count of rows that pass (the translation test checks it against the filter map)."""
        condition, params = constraints(filter, self.columns)
        return int(self.db.execute(f"SELECT count(*) FROM items WHERE {condition}", params).fetchall()[0][0])

    def index_size(self):
        page_count = self.db.execute("PRAGMA page_count").fetchall()[0][0]
        return int(page_count * self.db.execute("PRAGMA page_size").fetchall()[0][0])

    def engine(self):
        vec, lite = self.db.execute("SELECT vec_version(), sqlite_version()").fetchall()[0]
        return {"name": "SQLite + sqlite-vec", "version": f"SQLite {lite}, sqlite-vec {vec}", "settings": {}}

    def done(self):
        if self.db is not None:
            self.db.close()
