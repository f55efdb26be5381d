"""ACORN-γ and ACORN-1 (Patel et al., SIGMOD 2024), our own C++ in native/src/acorn.cpp.

The graph is built without labels; search follows the harness's filter map, scoring only passing
nodes. Each query is answered by the graph or by an exact scan of the passing vectors, whichever
is expected to do less work: the scan's is passing × d, the graph's is measured once per efSearch
on a seeded sample (native/src/acorn.h, calibrate) and interpolated at the query's selectivity.
The paper prescribes the scan for predicates under its 1/γ bound; the cost decides it per query
instead. `fallback_selectivity` fixes a threshold instead (a share of the base: below it, the
scan), and 0 turns the scan off to measure the pure graph. stats() counts both paths.
"""
import numpy as np

from algorithms.base import NativeIndex

METRICS = {"euclidean": "l2", "angular": "ip", "ip": "ip"}
BY_COST = -1.0  # fallback_selectivity that lets the expected work choose, per query


class Acorn(NativeIndex):
    native_class = "Acorn"
    stored_vectors = True  # a uint8 base goes to the native build as is; it widens it into its own copy

    def __init__(self, distance, M=32, gamma=1, M_beta=None, efConstruction=0, seed=100):
        super().__init__(distance)
        self.M, self.gamma = int(M), int(gamma)
        self.M_beta = int(M_beta) if M_beta is not None else 2 * self.M
        self.efConstruction, self.seed = int(efConstruction), int(seed)
        self.native.check_acorn_params(self.M, self.gamma, self.M_beta, self.efConstruction)  # before any data
        self.efSearch, self.fallback = 16, BY_COST

    def fit(self, X, attribute):
        if X.dtype != np.uint8 or self.distance == "angular":  # angular data is normalized first
            X = self.vectors(X)
        self.n, d = X.shape
        self.index = self.native.Acorn(d, METRICS[self.distance], self.M, self.gamma, self.M_beta,
                                       self.efConstruction, self.seed)
        self.index.build(X, self.threads)

    def set_query_arguments(self, efSearch=16, fallback_selectivity=None):
        self.efSearch = int(efSearch)
        self.fallback = BY_COST if fallback_selectivity is None else float(fallback_selectivity)
        if self.fallback == BY_COST and hasattr(self, "index"):
            self.index.calibrate(self.efSearch)  # here, so that no timed query pays for it

    def filtered_query(self, q, k, filter, valid):
        ids, _ = self.index.search(self.vectors(np.asarray(q).reshape(1, -1))[0], k, valid, self.efSearch,
                                   self.fallback)
        return ids[ids >= 0].astype(np.int64)

    def batch_filtered_query(self, Q, k, filters, valid_rows):
        return self.index.search_batch(self.vectors(Q), k, valid_rows, self.efSearch, self.fallback,
                                       self.threads).astype(np.int64)

    def stats(self):
        return {"distance_computations": int(self.index.distance_computations),
                "filter_checks": int(self.index.filter_checks),
                "graph_queries": int(self.index.graph_queries), "exact_queries": int(self.index.exact_queries)}
