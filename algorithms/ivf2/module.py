"""IVF²: inverted files over the tags and over the vectors, as the NeurIPS'23 filter track's winners
use them (ParlayANN's IVF², ../shared/docs/anchors.md). Our own numpy, written from that description.

Build: every tag's posting list (the ids that carry it, sorted), and one k-means of the whole base
into `nlist` clusters. A tag that at least `frequent` vectors carry gets its posting grouped by
cluster as well, an IVF over just its vectors; so does a pair of tags that `frequent` vectors carry
together (found by counting, per frequent tag, the tags its members carry).

Query (containment of any number of tags; unfiltered is the IVF over the whole base):
- the candidates are the vectors that carry every query tag: a posting, or the intersection of the
  postings (each a binary search of the rarest posting's ids in the others);
- at most `scan_below` of them are scanned exactly;
- more, where a tag or a pair of the query's has its IVF: the `nprobe` clusters nearest the query
  among those that hold any of that IVF's vectors (the smallest stored pair's IVF); their members that carry every other query tag are scanned
  exactly. Tags of which no pair has an IVF are carried together by fewer than `frequent` vectors:
  their intersection is scanned.
"""
from itertools import combinations

import faiss
import numpy as np

from algorithms.bruteforce.module import BruteForce
from harness.attributes import gather_rows


class _Ivf:
    """The members of one tag, pair or the whole base, grouped by cluster; `clusters` are the
    clusters that hold any (a tag's vectors gather in few: probing the nearest of those, not of
    all, is what makes it the tag's own IVF)."""

    def __init__(self, members, cluster_of, nlist):
        grouped = members[np.argsort(cluster_of[members], kind="stable")]
        self.ids = grouped.astype(np.int32)
        offsets = np.searchsorted(cluster_of[grouped], np.arange(nlist + 1)).astype(np.int64)
        self.clusters = np.flatnonzero(np.diff(offsets))
        self.starts, self.ends = offsets[self.clusters], offsets[self.clusters + 1]

    def members(self, centroid_scores, nprobe):
        """The members of the nprobe clusters nearest the query among those that hold any."""
        scores = centroid_scores[self.clusters]
        if nprobe < len(scores):
            nearest = np.argpartition(scores, nprobe - 1)[:nprobe]
        else:
            nearest = np.arange(len(scores))
        return np.concatenate([self.ids[self.starts[c]:self.ends[c]] for c in nearest])

    @property
    def nbytes(self):
        return self.ids.nbytes + self.clusters.nbytes + self.starts.nbytes + self.ends.nbytes


class Ivf2(BruteForce):  # its scans are the bruteforce plugin's, over the candidates
    predicates = ("unfiltered", "containment")
    stored_vectors = True  # a uint8 base (yfcc) stays bytes: its scans gather a quarter of the memory
    builds_on_attribute = True
    uses_filter_map = False  # it filters with its own postings

    def __init__(self, distance, nlist=1024, frequent=5000, seed=1):
        super().__init__(distance)
        self.nlist, self.frequent, self.seed = int(nlist), int(frequent), int(seed)
        if self.nlist < 1 or self.frequent < 1:
            raise ValueError("ivf2: nlist and frequent must be at least 1")
        self.nprobe, self.scan_below = 16, self.frequent

    def fit(self, X, attribute):
        super().fit(X, None)
        d = self.X.shape[1]
        faiss.omp_set_num_threads(self.threads)
        kmeans = faiss.Kmeans(d, min(self.nlist, self.n), niter=10, seed=self.seed,
                              spherical=self.distance != "euclidean")
        floats = self.vectors(self.X)  # k-means takes float32: a copy while it runs, where the base is bytes
        kmeans.train(floats)
        self.centroids = kmeans.centroids
        self.centroid_sq_norms = (self.centroids * self.centroids).sum(1)
        cluster_of = kmeans.index.search(floats, 1)[1].ravel()
        del floats
        nlist = len(self.centroids)
        # Postings: the attribute's CSR transposed (rows are visited in id order, so each posting is sorted).
        tags = attribute.indices.astype(np.int64)
        self.n_tags = max(attribute.n_labels, int(tags.max()) + 1 if len(tags) else 0)
        counts = np.bincount(tags, minlength=self.n_tags)
        self.tag_ptr = np.concatenate([[0], np.cumsum(counts)])
        rows = np.repeat(np.arange(self.n, dtype=np.int32), np.diff(attribute.indptr))
        self.posting_ids = rows[np.argsort(tags, kind="stable")]
        self.ivfs = {(): _Ivf(np.arange(self.n), cluster_of, nlist)}
        frequent = np.flatnonzero(counts >= self.frequent)
        for tag in frequent:
            self.ivfs[(int(tag),)] = _Ivf(self.posting(tag), cluster_of, nlist)
        is_frequent = np.zeros(self.n_tags, dtype=bool)
        is_frequent[frequent] = True
        for a in frequent:  # pairs (a, b), a < b, that `frequent` members carry together
            _, carried = gather_rows(attribute.indptr, attribute.indices, self.posting(a))
            carried = carried[(carried > a) & is_frequent[carried]]
            together = np.bincount(carried, minlength=self.n_tags)
            for b in np.flatnonzero(together >= self.frequent):
                self.ivfs[(int(a), int(b))] = _Ivf(self.intersect([a, b]), cluster_of, nlist)

    def posting(self, tag):
        return self.posting_ids[self.tag_ptr[tag]:self.tag_ptr[tag + 1]]

    def carries(self, ids, tag):
        posting = self.posting(tag)
        at = np.searchsorted(posting, ids)
        return (at < len(posting)) & (posting[np.minimum(at, len(posting) - 1)] == ids) if len(posting) else \
            np.zeros(len(ids), dtype=bool)

    def intersect(self, tags):
        """Ids that carry every tag: the rarest posting, filtered by the others."""
        tags = sorted(tags, key=lambda t: self.tag_ptr[t + 1] - self.tag_ptr[t])
        ids = self.posting(tags[0])
        for tag in tags[1:]:
            ids = ids[self.carries(ids, tag)]
        return ids

    def set_query_arguments(self, nprobe=16, scan_below=None):
        self.nprobe = int(nprobe)
        self.scan_below = self.frequent if scan_below is None else int(scan_below)

    def filtered_query(self, q, k, filter, valid):
        tags = [] if filter is None else sorted({int(t) for t in filter.operands})
        if any(t < 0 or t >= self.n_tags for t in tags):
            return np.zeros(0, dtype=np.int64)
        q = self.vectors(np.asarray(q).reshape(1, -1))[0]
        sizes = {t: self.tag_ptr[t + 1] - self.tag_ptr[t] for t in tags}
        if tags and min(sizes.values()) <= self.scan_below:  # few candidates: scan them all
            return self.scan(q, k, self.intersect(tags))
        # The IVF of the query's vectors: the smallest stored pair's, else its tag's, else the base's.
        # Tags of which no pair has an IVF are carried together by fewer than `frequent`: scanned.
        pairs = [pair for pair in combinations(tags, 2) if pair in self.ivfs]
        if len(tags) >= 2 and not pairs or len(tags) == 1 and (tags[0],) not in self.ivfs:
            return self.scan(q, k, self.intersect(tags))
        key = min(pairs, key=lambda pair: len(self.ivfs[pair].ids)) if pairs else tuple(tags)
        candidates = self.ivfs[key].members(self.centroid_scores(q), self.nprobe)
        for tag in set(tags) - set(key):
            candidates = candidates[self.carries(candidates, tag)]
        return self.scan(q, k, candidates)

    def centroid_scores(self, q):
        self.distance_computations += len(self.centroids)
        if self.distance == "euclidean":
            return self.centroid_sq_norms - 2 * self.centroids @ q
        return -(self.centroids @ q)

    def index_size(self):
        return int(super().index_size() + self.centroids.nbytes + self.posting_ids.nbytes + self.tag_ptr.nbytes
                   + sum(ivf.nbytes for ivf in self.ivfs.values()))

