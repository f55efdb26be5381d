"""Metrics, computed by the harness from the ids a plugin returned, never taken from the plugin.

Recall@k (tie-aware): for each query, m = min(k, number of valid base vectors). A returned id is
a hit when it is in range, not a duplicate, passes the filter, and its distance to the query,
recomputed here in float64, ties with or beats t, the exact distance of the m-th true neighbour.
recall = hits / m. Every other returned id is counted as what it is: -1 padding, out of range,
duplicate, or a filter violation.

The tie rule. Vectors are float32 and plugins compute distances in float32, so two vectors whose
exact distances differ by less than float32 rounding can resolve are tied: an exact search may
return either. A returned vector x ties with the m-th true neighbour y when

    score(x) - score(y) <= TIE_SIGMAS · u · sqrt((d + 2) / 3) · sqrt(M(x)² + M(y)²)

where score is what searches rank by (squared L2 for euclidean, 1 - cosine for angular, -q·x for
ip), u = 2^-24 (float32's unit roundoff) and M(v) the magnitude of the float32 computation of
v's score: |v|² + 2·Σ|q_i v_i| + |q|² for squared L2 (as BLAS-based searches expand it),
Σ|q̂_i v̂_i| + |cos(q, v)|/2 for angular (the dot product of the normalised vectors, and the
normalisation of v), Σ|q_i v_i| for inner product. The rounding error of a float32 sum of d
products has a standard deviation of at most u · sqrt(d / 3) · M, whatever the order of
summation (each of the d roundings errs by at most u times a partial sum no larger than M, and
they are independent: the errors grow like sqrt(d)·u, not like the worst case d·u); the errors of
x and of y are independent, hence the square root of the sum of squares; TIE_SIGMAS = 4 of that
bound is more than 10 standard deviations of what sequential float32 summation measures (the
worst order; BLAS and SIMD kernels err less). Measured at d = 1536 on unit vectors at cosine
about 0.6 to the query: sequential float32 errs by at most 1.5e-6 in 1 - cosine, numpy's sgemm by
5e-7, faiss by 2e-7, and the tolerance is about 8e-6 (the earlier worst-case bound, γ_(d+2)·2,
was 1.8e-4). The tolerance is never zero, so exact duplicates of the query, whose distances come
out 1e-16 to 1e-13 apart in float64, tie with t = 0.

Label metrics (datasets where every item has one class, run unfiltered; the fashion study):
    label precision@k = mean over queries of |{returned neighbours of the query's class}| / k
    kNN classification: the predicted class is the majority class of the returned neighbours
    (a tie goes to the tied class of the nearest neighbour); precision, recall and F1 are
    macro-averaged over the classes that occur as truth or prediction.
Query vectors are held out of the base, so a query is never its own neighbour.
"""
import numpy as np

from harness.filters import UNFILTERED
from harness.groundtruth import exact_distances

FLOAT32_ROUNDOFF = 2.0 ** -24
TIE_SIGMAS = 4.0
EXACT_RECALL_FLOOR = 0.999  # an exact plugin below this is a harness defect, never the data


def rounding_magnitudes(distance, q, X):
    """M(v) of the tie rule for each row v of X against the query q [d] (or, row-wise, against
    the rows of q [m, d]): the magnitude of a float32 computation of v's score, which its rounding
    error grows with."""
    q = np.asarray(q, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    rowwise = (lambda A, B: np.einsum("ij,ij->i", A, B)) if q.ndim == 2 else (lambda A, b: A @ b)
    abs_dots = rowwise(np.abs(X), np.abs(q))
    if distance == "euclidean":
        return np.einsum("ij,ij->i", X, X) + 2 * abs_dots + np.einsum("...i,...i->...", q, q)
    if distance == "angular":
        norms = np.linalg.norm(X, axis=1) * np.linalg.norm(q, axis=-1)
        norms = np.where(norms == 0, 1.0, norms)
        return (abs_dots + 0.5 * np.abs(rowwise(X, q))) / norms
    return abs_dots


def tie_tolerance(dimension, x_magnitudes, t_magnitude):
    """How far a score may lie beyond the threshold's and still tie with it (the tie rule)."""
    spread = np.sqrt(np.square(np.asarray(x_magnitudes, dtype=np.float64))
                     + np.square(np.asarray(t_magnitude, dtype=np.float64)))
    return TIE_SIGMAS * FLOAT32_ROUNDOFF * np.sqrt((dimension + 2) / 3) * spread


def ties(distance, dist, t, x_magnitudes, t_magnitude, dimension):
    """Whether each exact distance in `dist` (float64) ties with or beats the threshold t (the
    exact distance of the m-th true neighbour): the tie rule of this module's docstring.
    x_magnitudes: M of the vectors at `dist`; t_magnitude: M of the vector at t (t and t_magnitude
    may also be arrays, one per distance: many queries at once)."""
    dist = np.asarray(dist, dtype=np.float64)
    beyond = dist * dist - t * t if distance == "euclidean" else dist - t
    return beyond <= tie_tolerance(dimension, x_magnitudes, t_magnitude)


class Evaluator:
    """Evaluates result neighbours against one dataset's ground truth (thresholds cached)."""

    def __init__(self, ds):
        self.ds = ds
        self._thresholds = {}

    def _truth(self, scenario):
        if scenario == UNFILTERED:
            return self.ds.neighbors, np.full(self.ds.nq, self.ds.n, dtype=np.int64)
        sc = self.ds.scenarios[scenario]
        return sc.neighbors, sc.valid_count

    def thresholds(self, scenario, k):
        """Exact distance of each query's min(k, valid)-th true neighbour, its tie-rule magnitude
        M, and min(k, valid)."""
        key = (scenario, k)
        if key not in self._thresholds:
            gt, valid_count = self._truth(scenario)
            m = np.minimum(k, valid_count)
            if np.any(m > gt.shape[1]):
                raise ValueError(f"{self.ds.path}: ground truth of '{scenario}' holds {gt.shape[1]} neighbours; "
                                 f"k={k} needs {int(m.max())}")
            kth = gt[np.arange(self.ds.nq), m - 1]
            if np.any(kth < 0):
                raise ValueError(f"{self.ds.path}: ground truth of '{scenario}' has -1 where a neighbour is due")
            ds = self.ds
            t, magnitude = np.empty(ds.nq), np.empty(ds.nq)
            for a, b in _blocks(ds.nq, _PAIRS_PER_BLOCK // max(1, ds.d)):
                Y = ds.train[kth[a:b]]
                t[a:b] = exact_distances(ds.distance, ds.test[a:b], Y)
                magnitude[a:b] = rounding_magnitudes(ds.distance, ds.test[a:b], Y)
            self._thresholds[key] = (t, magnitude, m)
        return self._thresholds[key]

    def evaluate(self, neighbors, scenario, k, query_ids=None):
        """Metrics of returned ids: row i answers query query_ids[i] (default: the first
        len(neighbors) queries). Where k exceeds the ground truth's depth, recall cannot be
        computed (None); the label metrics still can. Vectorised over blocks of queries: at a
        million base vectors the per-query loop cost more than a flat scan's search."""
        ds = self.ds
        neighbors = np.asarray(neighbors)
        if neighbors.dtype.kind not in "iu":
            raise ValueError(f"returned ids have dtype {neighbors.dtype}, not an integer type")
        query_ids = np.arange(len(neighbors)) if query_ids is None else np.asarray(query_ids, dtype=np.int64)
        if len(query_ids) != len(neighbors) or (len(query_ids) and (query_ids.min() < 0 or query_ids.max() >= ds.nq)):
            raise ValueError(f"{len(neighbors)} rows of ids for query ids {query_ids[:5]}... of {ds.nq} queries")
        gt, valid_count = self._truth(scenario)
        thresholds = None
        m = np.minimum(k, valid_count)
        if not np.any(m > gt.shape[1]):
            thresholds, t_magnitudes, m = self.thresholds(scenario, k)
        sc = None if scenario == UNFILTERED else ds.scenarios[scenario]
        nq = len(neighbors)
        rows = neighbors.reshape(nq, -1)[:, :k].astype(np.int64) if nq else np.zeros((0, k), dtype=np.int64)
        recall = np.zeros(nq)
        counts = dict(padding=0, out_of_range=0, duplicates=0, violations=0, queries_with_violations=0,
                      fewer_than_k=0)
        kept = []  # per query: the valid returned ids, in returned order (for label metrics)
        for a, b in _blocks(nq, _PAIRS_PER_BLOCK // max(1, rows.shape[1] * ds.d)):
            block = rows[a:b]
            padding = block == -1
            in_range = (block >= 0) & (block < ds.n)
            counts["padding"] += int(padding.sum())
            counts["out_of_range"] += int((~in_range & ~padding).sum())
            first = in_range & ~_repeats(block)
            counts["duplicates"] += int(in_range.sum() - first.sum())
            owner, col = np.nonzero(first)  # row-major: per query, in returned order
            ids = block[owner, col]
            if sc is not None and len(ids):
                passing = sc.predicate.passes_many(ids, owner, [sc.operands[qi] for qi in query_ids[a:b]])
                bad = np.bincount(owner[~passing], minlength=b - a)  # the kind's own exact check
                counts["violations"] += int(bad.sum())
                counts["queries_with_violations"] += int((bad > 0).sum())
                owner, ids = owner[passing], ids[passing]
            per_query = np.bincount(owner, minlength=b - a)
            counts["fewer_than_k"] += int((per_query < m[query_ids[a:b]]).sum())
            kept += np.split(ids, np.cumsum(per_query)[:-1])
            if len(ids) and thresholds is not None:
                qi = query_ids[a:b][owner]
                q, X = ds.test[qi], ds.train[ids]
                hit = ties(ds.distance, exact_distances(ds.distance, q, X), thresholds[qi],
                           rounding_magnitudes(ds.distance, q, X), t_magnitudes[qi], ds.d)
                hits = np.bincount(owner[hit], minlength=b - a)
                mq = m[query_ids[a:b]]
                recall[a:b] = np.minimum(hits, mq) / np.maximum(mq, 1)
        out = {"recall": None, "recall_p10": None, "recall_below_half": None, **counts}
        if thresholds is not None:
            out.update(recall=float(recall.mean()), recall_p10=float(np.percentile(recall, 10)),
                       recall_below_half=float(np.mean(recall < 0.5)))
        classes = ds.single_label_classes()
        if scenario == UNFILTERED and classes is not None:
            out.update(label_metrics(kept, classes[0], classes[1][query_ids], k))
        return out, recall


_PAIRS_PER_BLOCK = 1 << 22  # query-candidate coordinates per block: 32 MiB of float64


def _blocks(count, per_block):
    per_block = max(1, int(per_block))
    return [(a, min(count, a + per_block)) for a in range(0, count, per_block)]


def _repeats(rows):
    """Per entry of each row: whether an earlier entry of the same row holds the same value."""
    order = np.argsort(rows, axis=1, kind="stable")  # equal values keep their returned order
    ordered = np.take_along_axis(rows, order, axis=1)
    later = np.zeros(rows.shape, dtype=bool)
    later[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    out = np.zeros(rows.shape, dtype=bool)
    np.put_along_axis(out, order, later, axis=1)
    return out


def label_metrics(neighbor_ids, base_classes, query_classes, k):
    """The fashion study's label precision@k and macro kNN-classification P/R/F1."""
    n_classes = int(max(base_classes.max(), query_classes.max())) + 1
    precision_at_k = np.zeros(len(query_classes))
    predicted = np.full(len(query_classes), -1)
    for i, ids in enumerate(neighbor_ids):
        if len(ids) == 0:
            continue
        cls = base_classes[ids]
        precision_at_k[i] = np.sum(cls == query_classes[i]) / k
        votes = np.bincount(cls, minlength=n_classes)
        tied = np.flatnonzero(votes == votes.max())
        predicted[i] = cls[np.isin(cls, tied)][0]  # the nearest neighbour among the tied classes
    truth = query_classes
    present = np.union1d(truth, predicted[predicted >= 0])
    p, r, f = [], [], []
    for c in present:
        tp = np.sum((predicted == c) & (truth == c))
        fp = np.sum((predicted == c) & (truth != c))
        fn = np.sum((predicted != c) & (truth == c))
        pc = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        p.append(pc)
        r.append(rc)
        f.append(2 * pc * rc / (pc + rc) if pc + rc else 0.0)
    return {"label_precision": float(precision_at_k.mean()), "knn_precision": float(np.mean(p)),
            "knn_recall": float(np.mean(r)), "knn_f1": float(np.mean(f))}
