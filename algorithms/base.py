"""The plugin API. A plugin is algorithms/<folder>/config.yml + module.py with a FilteredANN class.

The harness calls, in this order:
    algo = Class(distance, **build_args)       # distance: the dataset's metric
    algo.set_threads(n)                        # before fit (all cores) and before each query pass
    algo.fit(X, attribute)                     # attribute: see builds_on_attribute; else None
    algo.set_query_arguments(**query_args)
    algo.filtered_query(q, k, filter, valid)               -> ids, nearest first
    algo.batch_filtered_query(Q, k, filters, valid_rows)   -> ids [len(Q), k]
    algo.after_fork()                          # in each client process of run.py --clients
    algo.index_size(), algo.stats(), algo.done()

`filter` is the query's predicate, typed (harness.predicates.Filter): filter.kind ("containment",
"overlap", "equality", "range", "and", ...), filter.attribute (the attribute's name) and
filter.operands (the query's label ids; (lo, hi); the parts' Filters). `valid` is the harness's
filter map of the query, the same predicate evaluated: a little-endian packed uint8 bitset over
the base (harness.filters). Unfiltered queries get filter None and valid None. Return integer ids
(fewer than k, or padded with -1, when fewer are found); the harness checks every id against the
predicate and reports violations, duplicates and out-of-range ids, and fails a pass that returns
ids of any other type.

A class says once what it answers (the harness reads these from its source; configs never
repeat them):
    predicates = "all"            the predicate kinds it answers: "all" (it works from the filter
                                  map, so every kind, also ones added later), or a tuple of kinds,
                                  with "unfiltered" if it answers unfiltered queries
    builds_on_attribute = False   True: fit() gets the attribute its predicate reads (a
                                  harness.attributes.LabelAttribute, which is a Csr of label ids,
                                  or a NumericAttribute with .values), one build per attribute
                                  (for unfiltered queries: the attribute `labels`)
                                  "all": fit() gets every attribute of the dataset, {name:
                                  attribute}, in one build: a database that stores whole rows
                                  (an `and` reads two columns of one table)
    uses_filter_map = True        False: the harness builds no filter map for it (valid is None)
    fixed_length_labels = False   True: it answers predicates only on label attributes whose base
                                  items all carry the same number of labels, one per attribute
                                  position (NHQ's attribute vectors, e.g. `fixed`)
Scenarios whose predicate it does not answer are skipped, with a line saying so.

fit() gets X as float32 [n, d]. A class with `stored_vectors = True` gets it as the dataset stores
it (uint8 for yfcc) and converts it itself (self.vectors on pieces, or inside its native build),
so that the base is never held as float32 twice: at 10M x 192 each copy is 7.7 GB.

Build and query arguments are the parameters of `__init__` (after `distance`) and of
`set_query_arguments`, named explicitly with their defaults: the harness checks every config
against them when it loads it, so a misspelt argument is an error, not a silent default.
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from harness.filters import bits_test, popcount
from harness.system import available_cpus


class FilteredANN:
    predicates = "all"
    builds_on_attribute = False
    uses_filter_map = True
    fixed_length_labels = False
    stored_vectors = False

    def __init__(self, distance):
        self.distance = distance
        self.metric = distance  # the metric the index actually uses (annoy may differ)
        self.threads = available_cpus()
        self.n = 0

    def set_threads(self, n):
        self.threads = n

    @classmethod
    def base_for_fit(cls, X):
        """The base as fit() takes it: as stored for a stored_vectors class, else float32."""
        return X if cls.stored_vectors else np.asarray(X, dtype=np.float32)

    def vectors(self, X):
        """X (or some of its rows) as float32, unit length for angular data (which inner product or
        L2 then ranks)."""
        return normalize(X) if self.distance == "angular" else np.ascontiguousarray(X, dtype=np.float32)

    def fit(self, X, attribute):
        raise NotImplementedError

    def set_query_arguments(self):
        """A plugin with query arguments names them as the parameters of its own version; the
        harness checks every config's query arguments against them."""

    def filtered_query(self, q, k, filter, valid):
        raise NotImplementedError

    def batch_filtered_query(self, Q, k, filters, valid_rows):
        """Default: filtered_query across self.threads threads (useful where the library
        releases the GIL, as faiss does)."""
        out = np.full((len(Q), k), -1, dtype=np.int64)

        def one(i):
            ids = np.asarray(self.filtered_query(Q[i], k, filters[i], None if valid_rows is None else valid_rows[i]))[:k]
            out[i, :len(ids)] = ids

        if self.threads <= 1:
            for i in range(len(Q)):
                one(i)
        else:  # parallel across queries, so each query's BLAS calls get one thread
            with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(self.threads) as pool:
                list(pool.map(one, range(len(Q))))
        return out

    def engine(self):
        """What a database plugin runs, recorded with every result: {"name", "version",
        "settings"} (the server's own version, not the Python package's), else {}."""
        return {}

    clients_by = "fork"  # run.py --clients: "fork" the built plugin into each client process, or
                         # "spawn" fresh processes that unpickle it (an engine that cannot be forked:
                         # the class's __getstate__/__setstate__ reopen what it stored on disk)

    def after_fork(self):
        """Called in each client process of run.py --clients, before its first query: reopen what
        does not survive a fork (a database connection, an engine's thread pool). A forked
        client shares the index with the parent, copy-on-write."""

    def index_size(self):
        """Index size in bytes where the library can tell (serialized size), else None."""
        return None

    def stats(self):
        """Cumulative counters, e.g. {"distance_computations": int}; the harness takes differences."""
        return {}

    def done(self):
        pass


class NativeIndex(FilteredANN):
    """A plugin whose index (self.index) is a class of FilterBench's native extension (native/,
    `native: true` in its config): save/load, exact index size and distance computations."""

    native_class = ""  # the extension's class: "Acorn", "Ung", "Caps"

    def __init__(self, distance):
        super().__init__(distance)
        import native  # only native plugins' images carry it
        self.native = native.load()
        self.index = None

    def save(self, path):
        self.index.save(path)

    def load(self, path):
        self.index = getattr(self.native, self.native_class).load(path)
        self.n = self.index.n

    def index_size(self):
        return int(self.index.serialized_size())

    def stats(self):
        return {"distance_computations": int(self.index.distance_computations)}


def normalize(X):
    X = np.ascontiguousarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms == 0, 1, norms)


def range_sides(lo, hi):
    """(operator, bound) of a range predicate's closed sides, for a database's filter language:
    (">=", lo) and ("<=", hi), each only where finite (an open side is -inf or inf)."""
    return [(op, float(bound)) for op, bound in ((">=", lo), ("<=", hi)) if np.isfinite(bound)]


def post_filter(search, k, valid, n, max_depth=None):
    """Post-filtering as in the FANNS paper: ask the unfiltered index for `depth` results, keep
    those that pass the filter, and double the depth until k pass or the depth reaches max_depth
    (default n/2, the paper's cap; a query argument of the post-filter plugins, since the cost
    grows with it). The first depth is k / selectivity (read off the filter map): the number of
    results that holds k valid ones on average.

    search(depth) -> ids nearest first (-1 for missing). Returns at most k valid ids.
    """
    cap = max(k, min(n, int(max_depth)) if max_depth else n // 2)
    valid_count = int(popcount(valid))
    if valid_count == 0:
        return np.zeros(0, dtype=np.int64)
    depth = min(cap, max(k, int(np.ceil(k * n / valid_count))))
    while True:
        ids = np.asarray(search(depth), dtype=np.int64)
        ids = ids[ids >= 0]
        passing = ids[bits_test(valid, ids)]
        if len(passing) >= k or depth >= cap or len(ids) < depth:
            return passing[:k]
        depth = min(cap, depth * 2)
