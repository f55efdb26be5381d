"""NHQ-kgraph (Wang et al., NeurIPS 2023), our own C++ in native/src/nhq.cpp.

Built on a label attribute whose items all carry the same number of labels, one per attribute
position (`fixed_length_labels`): NHQ's attribute vectors. The graph is built and searched over a
fusion of vector distance and attribute distance, and only items whose attributes equal the
query's enter the result. Equality on such an attribute is the only predicate it answers, as the
FANNS paper's Table 2 says; other scenarios are skipped with a line saying why.
"""
import numpy as np

from algorithms.base import NativeIndex

# The fusion adds a non-negative attribute term to the vector distance, so angular data is
# normalized and searched by L2, which ranks unit vectors as the angle does.
METRICS = {"euclidean": "l2", "angular": "l2"}


class Nhq(NativeIndex):
    native_class = "Nhq"
    predicates = ("equality",)
    builds_on_attribute = True
    uses_filter_map = False
    fixed_length_labels = True

    def __init__(self, distance, K=40, L=50, iter=8, S=10, R=40, RANGE=32, PL=100, B=4, M=1.0, seed=100):
        super().__init__(distance)
        if distance not in METRICS:
            raise ValueError(f"NHQ: distance must be one of {', '.join(METRICS)}, not '{distance}'")
        self.params = dict(K=int(K), L=int(L), iter=int(iter), S=int(S), R=int(R), RANGE=int(RANGE), PL=int(PL), B=int(B),
                           M=float(M))
        self.native.check_nhq_params(**self.params)  # before any data is read
        self.seed = int(seed)
        self.L_search = 100

    def fit(self, X, attribute):
        lengths = np.diff(attribute.indptr)
        if len(lengths) and lengths.min() != lengths.max():
            raise ValueError(f"NHQ: attribute '{getattr(attribute, 'name', '?')}' has items with {lengths.min()} to {lengths.max()} "
                             "labels; NHQ needs the same number for every item (one label per attribute position)")
        X = self.vectors(X)
        self.n, d = X.shape
        self.index = self.native.Nhq(d, METRICS[self.distance], seed=self.seed, **self.params)
        self.index.build(X, attribute.indptr, attribute.indices, self.threads)

    def set_query_arguments(self, L_search=100):
        if int(L_search) < 1:
            raise ValueError(f"NHQ: L_search must be at least 1, got {L_search}")
        self.L_search = int(L_search)

    @staticmethod
    def labels(filter):
        if filter is None or filter.kind != "equality":
            raise ValueError(f"NHQ answers equality; '{'unfiltered' if filter is None else filter.kind}' is refused")
        return filter.operands

    def filtered_query(self, q, k, filter, valid):
        ids = self.index.search(self.vectors(np.asarray(q).reshape(1, -1))[0], k, self.labels(filter), self.L_search)
        return ids[ids >= 0].astype(np.int64)

    def batch_filtered_query(self, Q, k, filters, valid_rows):
        return self.index.search_batch(self.vectors(Q), k, [self.labels(f) for f in filters], self.L_search,
                                       self.threads).astype(np.int64)
