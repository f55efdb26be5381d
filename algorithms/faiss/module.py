"""faiss-cpu indexes, filtered two ways:

- post-filter (every index): search unfiltered with a growing depth, keep the ids that pass
  (algorithms.base.post_filter, the FANNS paper's method);
- in-search (HNSW and IVF): faiss skips non-passing ids while it searches, through
  IDSelectorBitmap on the harness's filter map. HNSW still computes distances to non-passing
  nodes to navigate; it only keeps them out of the results.
"""
import faiss
import numpy as np

from algorithms.base import FilteredANN, post_filter

FILTERINGS = ("post", "in-search")
TRAIN_ROWS = 1 << 20  # a larger base trains on a seeded sample of this many rows (faiss's k-means
                      # samples at most 256 per centroid of them; PQ 256 per code)
ADD_ROWS = 1 << 20    # rows converted to float32 per add(), so the base is never held as float32 twice


class FaissIndex(FilteredANN):
    """An index made by faiss.index_factory; subclasses name the factory string and search params."""

    supports_in_search = False
    stored_vectors = True  # fit converts the base to float32 ADD_ROWS rows at a time

    def __init__(self, distance, filtering="post"):
        super().__init__(distance)
        if filtering not in FILTERINGS or (filtering == "in-search" and not self.supports_in_search):
            allowed = FILTERINGS if self.supports_in_search else ("post",)
            raise ValueError(f"{type(self).__name__}: filtering must be one of {allowed}, not '{filtering}'")
        self.filtering = filtering
        self.max_depth = 0

    def set_query_arguments(self, max_depth=0):
        """max_depth: the most results a post-filtered search asks for (0: half the base)."""
        self.max_depth = max_depth

    def factory(self, d):
        raise NotImplementedError


    def fit(self, X, attribute):
        self.n, d = X.shape
        metric = faiss.METRIC_L2 if self.distance == "euclidean" else faiss.METRIC_INNER_PRODUCT
        self.index = faiss.index_factory(d, self.factory(d), metric)
        self.configure_build()
        faiss.omp_set_num_threads(self.threads)
        if not self.index.is_trained:
            rows = np.sort(np.random.default_rng(0).choice(self.n, TRAIN_ROWS, replace=False)) \
                if self.n > TRAIN_ROWS else slice(None)
            self.index.train(self.vectors(X[rows]))
        self.add(X)

    def add(self, X):
        for start in range(0, self.n, ADD_ROWS):
            self.index.add(self.vectors(X[start:start + ADD_ROWS]))

    def configure_build(self):
        pass

    def set_threads(self, n):
        super().set_threads(n)
        faiss.omp_set_num_threads(n)

    def search_params(self, depth, selector):
        """faiss SearchParameters for one search of `depth` results (None: the index has none)."""
        return faiss.SearchParameters(sel=selector) if selector is not None else None

    def _search(self, q, depth, selector=None):
        _, ids = self.index.search(q, depth, params=self.search_params(depth, selector))
        return ids[0]

    def filtered_query(self, q, k, filter, valid):
        q = self.vectors(np.asarray(q).reshape(1, -1))
        if valid is None:
            return self._search(q, k)
        if self.filtering == "in-search":
            return self._search(q, k, faiss.IDSelectorBitmap(valid))
        return post_filter(lambda depth: self._search(q, depth), k, valid, self.n, self.max_depth)

    def batch_filtered_query(self, Q, k, filters, valid_rows):
        if valid_rows is None:  # faiss batches unfiltered queries itself, across its threads
            Q = self.vectors(Q)
            _, ids = self.index.search(Q, k, params=self.search_params(k, None))
            return ids
        # One selector per query: run queries in parallel Python threads (faiss drops the GIL).
        faiss.omp_set_num_threads(1)
        try:
            return super().batch_filtered_query(Q, k, filters, valid_rows)
        finally:
            faiss.omp_set_num_threads(self.threads)

    def index_size(self):
        """The serialized size, counted as faiss writes it out in 1 MiB pieces: serialize_index would
        hold a copy of the whole index beside it (at yfcc-10M, 7.7 GB more, and the worker was
        killed for memory)."""
        size = 0

        def count(piece):
            nonlocal size
            size += len(piece)

        faiss.write_index(self.index, faiss.PyCallbackIOWriter(count, 1 << 20))
        return size


class FaissFlat(FaissIndex):
    """Exact: the post-filter depth may grow to the whole base (max_depth 0), so every valid vector
    can be found however few pass."""

    def factory(self, d):
        return "Flat"

    def set_query_arguments(self, max_depth=0):
        self.max_depth = max_depth or self.n


class FaissHNSW(FaissIndex):
    supports_in_search = True

    def __init__(self, distance, M=32, efConstruction=40, filtering="post"):
        super().__init__(distance, filtering)
        self.M, self.efConstruction = int(M), int(efConstruction)
        self.efSearch = 16

    def set_query_arguments(self, efSearch=16, max_depth=0):
        super().set_query_arguments(max_depth)
        self.efSearch = int(efSearch)

    def factory(self, d):
        return f"HNSW{self.M},Flat"

    def configure_build(self):
        self.index.hnsw.efConstruction = self.efConstruction

    def search_params(self, depth, selector):
        ef = max(self.efSearch, depth)
        return faiss.SearchParametersHNSW(efSearch=ef, sel=selector)

    def stats(self):
        return {"distance_computations": int(faiss.cvar.hnsw_stats.ndis)}


class FaissIVF(FaissIndex):
    """IVF with flat, scalar-quantized (SQ8) or product-quantized (PQ, m sub-vectors × nbits) codes."""
    supports_in_search = True

    def __init__(self, distance, nlist=1024, encoding="Flat", m=8, nbits=8, filtering="post"):
        super().__init__(distance, filtering)
        if encoding not in ("Flat", "SQ8", "PQ"):
            raise ValueError(f"faiss IVF: encoding must be Flat, SQ8 or PQ, not '{encoding}'")
        self.nlist, self.encoding, self.m, self.nbits = int(nlist), encoding, int(m), int(nbits)
        self.nprobe = 1

    def set_query_arguments(self, nprobe=1, max_depth=0):
        super().set_query_arguments(max_depth)
        self.nprobe = int(nprobe)

    def factory(self, d):
        code = f"PQ{self.m}x{self.nbits}" if self.encoding == "PQ" else self.encoding
        return f"IVF{self.nlist},{code}"

    def search_params(self, depth, selector):
        return faiss.SearchParametersIVF(nprobe=self.nprobe, sel=selector)

    def add(self, X):
        """Assigns every vector to its list first and reserves each list's exact size, then adds the
        vectors with those assignments (what index.add does, but faiss grows a list as its vectors
        arrive, doubling its capacity: at 10M x 192 that held the 7.7 GB of lists up to twice)."""
        starts = range(0, self.n, ADD_ROWS)
        lists = np.concatenate([self.index.quantizer.search(self.vectors(X[s:s + ADD_ROWS]), 1)[1].ravel()
                                for s in starts])
        for list_no, size in enumerate(np.bincount(lists, minlength=self.index.nlist)):
            self.index.invlists.resize(list_no, int(size))  # the capacity stays when it shrinks back
            self.index.invlists.resize(list_no, 0)
        for s in starts:
            rows = self.vectors(X[s:s + ADD_ROWS])
            self.index.add_core(len(rows), faiss.swig_ptr(rows), None, faiss.swig_ptr(lists[s:s + len(rows)]))

    def stats(self):
        return {"distance_computations": int(faiss.cvar.indexIVF_stats.ndis)}


class FaissPQ(FaissIndex):
    def __init__(self, distance, m=8, nbits=8):
        super().__init__(distance)
        self.m, self.nbits = int(m), int(nbits)

    def factory(self, d):
        return f"PQ{self.m}x{self.nbits}np"  # np: no polysemous training (slow; its search is not used)


class FaissLSH(FaissIndex):
    """Random-projection LSH with `nbits` bits, searched by Hamming distance."""
    stored_vectors = False  # its fit takes the whole base as float32

    def __init__(self, distance, nbits=256):
        super().__init__(distance)
        self.nbits = int(nbits)

    def fit(self, X, attribute):
        X = self.vectors(X)
        self.n, d = X.shape
        self.index = faiss.IndexLSH(d, self.nbits, True, True)  # rotate, train thresholds
        faiss.omp_set_num_threads(self.threads)
        self.index.train(X)
        self.index.add(X)
