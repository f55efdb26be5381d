"""Metrics, computed by the harness from the ids a plugin returned, never taken from the plugin.

Recall@k (tie-aware): for each query, m = min(k, number of valid base vectors). A returned id is
a hit when it is in range, not a duplicate, passes the filter, and its distance to the query,
recomputed here in float64, ties with or beats t, the exact distance of the m-th true neighbour.
recall = hits / m. Every other returned id is counted as what it is: -1 padding, out of range,
duplicate, or a filter violation.

The tie rule. Vectors are float32 and every plugin computes distances in float32, so two vectors
whose exact distances differ by less than float32 arithmetic can resolve are tied for any of
them: an exact search may return either. A returned vector x ties with t when

    dist(x) <= t + 1e-6·|t|        (relative: a few float32 ulps of the distance), or
    score(x) - score(t) <= γ·S     (absolute: the rounding error bound of the computation),

where score is what searches rank by (squared L2 for euclidean, 1 - cosine for angular, -q·x
for ip), γ = n·u / (1 - n·u) with u = 2^-24 (float32's unit roundoff) and n = d + 2 operations,
the bound on the rounding error of a float32 dot product of length d (Higham, Accuracy and
Stability of Numerical Algorithms, §3.1), and S the magnitude of the computation: (|q| + |x|)²
for squared L2 (|x|² - 2q·x + |q|², as BLAS-based searches compute it), 2 for angular (the
normalised dot product and the normalisation), |q|·|x| for inner product; |x| is the larger
norm of the two vectors compared. The relative term alone fails at t = 0, where exact duplicates
of the query come out 1e-16 to 1e-13 apart in float64 and were counted as misses.

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

RELATIVE_TIE = 1e-6
FLOAT32_ROUNDOFF = 2.0 ** -24
EXACT_RECALL_FLOOR = 0.999  # an exact plugin below this is a harness defect, never the data


def rounding_bound(dimension):
    """γ_n for a float32 dot product of length `dimension` (n = dimension + 2 operations)."""
    n = dimension + 2
    return n * FLOAT32_ROUNDOFF / (1 - n * FLOAT32_ROUNDOFF)


def ties(distance, dist, t, q_norm, x_norm, t_norm, dimension):
    """Whether each exact distance in `dist` (float64) ties with or beats the threshold t: the
    tie rule of this module's docstring. x_norm: the norms of the vectors at `dist`; t_norm: the
    norm of the vector at t."""
    dist = np.asarray(dist, dtype=np.float64)
    within_relative = dist <= t + RELATIVE_TIE * abs(t)
    gamma = rounding_bound(dimension)
    norm = np.maximum(x_norm, t_norm)
    if distance == "euclidean":
        within_rounding = dist * dist - t * t <= gamma * (q_norm + norm) ** 2
    elif distance == "angular":
        within_rounding = dist - t <= gamma * 2.0
    else:  # ip
        within_rounding = dist - t <= gamma * q_norm * norm
    return within_relative | within_rounding


class Evaluator:
    """Evaluates result neighbours against one dataset's ground truth (thresholds cached)."""

    def __init__(self, ds):
        self.ds = ds
        self._thresholds = {}
        self._norms = None

    def _truth(self, scenario):
        if scenario == UNFILTERED:
            return self.ds.neighbors, np.full(self.ds.nq, self.ds.n, dtype=np.int64)
        sc = self.ds.scenarios[scenario]
        return sc.neighbors, sc.valid_count

    def norms(self):
        """Norms of the base vectors (the tie rule's scale), computed once."""
        if self._norms is None:
            X = self.ds.train
            self._norms = np.concatenate([np.linalg.norm(X[a:a + 65536].astype(np.float64), axis=1)
                                          for a in range(0, len(X), 65536)]) if len(X) else np.zeros(0)
        return self._norms

    def thresholds(self, scenario, k):
        """Exact distance of each query's min(k, valid)-th true neighbour, its id, and min(k, valid)."""
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
            t = np.array([exact_distances(self.ds.distance, self.ds.test[i], self.ds.train[kth[i]:kth[i] + 1])[0]
                          for i in range(self.ds.nq)])
            self._thresholds[key] = (t, kth, m)
        return self._thresholds[key]

    def evaluate(self, neighbors, scenario, k, query_ids=None):
        """Metrics of returned ids: row i answers query query_ids[i] (default: the first
        len(neighbors) queries). Where k exceeds the ground truth's depth, recall cannot be
        computed (None); the label metrics still can."""
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
            thresholds, kth, m = self.thresholds(scenario, k)
            norms = self.norms()
        sc = None if scenario == UNFILTERED else ds.scenarios[scenario]
        nq = len(neighbors)
        recall = np.zeros(nq)
        counts = dict(padding=0, out_of_range=0, duplicates=0, violations=0, queries_with_violations=0,
                      fewer_than_k=0)
        kept = []  # per query: the valid returned ids, in returned order (for label metrics)
        for i, qi in enumerate(query_ids):
            row = np.asarray(neighbors[i][:k], dtype=np.int64)
            counts["padding"] += int(np.sum(row == -1))
            in_range = (row >= 0) & (row < ds.n)
            counts["out_of_range"] += int(np.sum(~in_range & (row != -1)))
            ids = row[in_range]
            _, first = np.unique(ids, return_index=True)
            counts["duplicates"] += len(ids) - len(first)
            ids = ids[np.sort(first)]
            if sc is not None and len(ids):
                passing = sc.predicate.passes(ids, sc.operands[qi])  # the kind's own exact check
                bad = int(np.sum(~passing))
                counts["violations"] += bad
                counts["queries_with_violations"] += bad > 0
                ids = ids[passing]
            if len(ids) < m[qi]:
                counts["fewer_than_k"] += 1
            kept.append(ids)
            if len(ids) and thresholds is not None:
                q = ds.test[qi]
                d = exact_distances(ds.distance, q, ds.train[ids])
                hit = ties(ds.distance, d, thresholds[qi], float(np.linalg.norm(q.astype(np.float64))), norms[ids],
                           norms[kth[qi]], ds.d)
                recall[i] = min(int(np.sum(hit)), m[qi]) / m[qi]
        out = {"recall": None, "recall_p10": None, "recall_below_half": None, **counts}
        if thresholds is not None:
            out.update(recall=float(recall.mean()), recall_p10=float(np.percentile(recall, 10)),
                       recall_below_half=float(np.mean(recall < 0.5)))
        classes = ds.single_label_classes()
        if scenario == UNFILTERED and classes is not None:
            out.update(label_metrics(kept, classes[0], classes[1][query_ids], k))
        return out, recall


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
