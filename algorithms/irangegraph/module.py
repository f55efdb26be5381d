"""iRangeGraph (Xu, Gao, Gou, Long and Jensen, SIGMOD 2025), our own C++ in native/src/irange.cpp:
range filters (lo <= x <= hi over one numeric attribute) with elemental graphs over the segments
of a segment tree on the attribute's order, improvised into a graph for each query's range.

Built on the numeric attribute its scenario's range reads (one build per attribute); it filters
on its own structure, so the harness builds no filter map for it. Ranges only: label predicates,
their combinations and unfiltered queries are not its kind, and are skipped.
"""
import numpy as np

from algorithms.base import NativeIndex

# Angular data is normalized and searched by inner product, which ranks unit vectors as the angle does.
METRICS = {"euclidean": "l2", "angular": "ip", "ip": "ip"}
# entry_points 'cover', the default: entries by need. Each whole segment of the range's cover in
# the segment tree is entered at its own entries: the member nearest its mean, as the paper enters
# each, and more only where searches of its graph from those miss members (native/src/irange.h,
# find_segment_entries); a part of a leaf at its middle. An integer instead spreads that many
# entries evenly through the range. Where the attribute follows the clusters a range is a run of
# clusters that its graph barely links (random-filter-s range-correlated, ef_search 256: recall
# 0.89 from 4 spread entries, 0.96 from 64); entries by need reach it there too, with fewer entries
# where the graph leads everywhere (python -m benchmarks.official, README).
COVER = "cover"
ENTRY_POINTS = COVER
BY_COST = -1  # exact_below that lets the expected work choose, per query


def check_entry_points(entry_points):
    """entry_points is 'cover' or a number of entries of at least 1; else a ValueError that says so."""
    if entry_points != COVER and (isinstance(entry_points, str) or int(entry_points) < 1):
        raise ValueError(f"entry_points must be at least 1 or {COVER!r}, got {entry_points!r}")


class IRangeGraph(NativeIndex):
    native_class = "IRangeGraph"
    predicates = ("range",)
    builds_on_attribute = True
    uses_filter_map = False

    def __init__(self, distance, M=16, ef_construction=100, seed=100):
        super().__init__(distance)
        self.M, self.ef_construction, self.seed = int(M), int(ef_construction), int(seed)
        self.native.check_irange_params(self.M, self.ef_construction)  # before any data
        self.set_query_arguments()  # the defaults, until the runner sets its own

    def fit(self, X, attribute):
        if attribute is None or attribute.kind != "numeric":
            raise ValueError("iRangeGraph is built on a numeric attribute")
        X = self.vectors(X)
        self.n, d = X.shape
        self.index = self.native.IRangeGraph(d, METRICS[self.distance], self.M, self.ef_construction, self.seed)
        self.index.build(X, np.asarray(attribute.values, dtype=np.float64), self.threads)

    def set_query_arguments(self, ef_search=64, exact_below=None, entry_points=ENTRY_POINTS):
        """ef_search: the search list; entry_points: the search starts ('cover', the default) from
        the entries of each segment of the range's cover in the segment tree (one, more where its
        graph needs them; the middle of a part of a leaf), or from this many vectors spread evenly
        through the range. A range is scanned instead (its
        vectors are contiguous in the index) when that is expected to do less work than the
        search (native/src/irange.h, calibrate); exact_below fixes it instead: ranges of at most
        this many vectors are scanned."""
        check_entry_points(entry_points)
        # The native index takes 0 for the cover (IRangeIndex::COVER_ENTRIES).
        self.ef_search, self.entry_points = int(ef_search), 0 if entry_points == COVER else int(entry_points)
        self.exact_below = BY_COST if exact_below is None else int(exact_below)
        if self.exact_below == BY_COST and getattr(self, "index", None) is not None:
            self.index.calibrate(self.ef_search, self.entry_points)  # here, so that no timed query pays for it

    @staticmethod
    def bounds(filter):
        if filter is None or filter.kind != "range":
            raise ValueError(f"iRangeGraph answers range filters only, not {filter.kind if filter else 'unfiltered'}")
        return filter.operands

    def filtered_query(self, q, k, filter, valid):
        lo, hi = self.bounds(filter)
        ids, _ = self.index.search(self.vectors(np.asarray(q).reshape(1, -1))[0], k, lo, hi, self.ef_search,
                                   self.exact_below, self.entry_points)
        return ids[ids >= 0].astype(np.int64)

    def batch_filtered_query(self, Q, k, filters, valid_rows):
        lo, hi = (np.array([self.bounds(f)[j] for f in filters], dtype=np.float64) for j in (0, 1))
        return self.index.search_batch(self.vectors(Q), k, lo, hi, self.ef_search, self.exact_below,
                                       self.entry_points, self.threads).astype(np.int64)

    def stats(self):
        return {"distance_computations": int(self.index.distance_computations),
                "graph_queries": int(self.index.graph_queries), "exact_queries": int(self.index.exact_queries)}
