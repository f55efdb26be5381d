"""Metrics, computed by the harness from the ids a plugin returned, never taken from the plugin.

Recall@k (tie-aware): for each query, m = min(k, number of valid base vectors). A returned id is
a hit when it is in range, not a duplicate, passes the filter, and its distance to the query,
recomputed here in float64, is at most t + 1e-6·|t|, where t is the exact distance of the
m-th true neighbour. recall = hits / m. Every other returned id is counted as what it is:
-1 padding, out of range, duplicate, or a filter violation.

Label metrics (datasets where every item has one class, run unfiltered; the fashion study):
    label precision@k = mean over queries of |{returned neighbours of the query's class}| / k
    kNN classification: the predicted class is the majority class of the returned neighbours
    (a tie goes to the tied class of the nearest neighbour); precision, recall and F1 are
    macro-averaged over the classes that occur as truth or prediction.
Query vectors are held out of the base, so a query is never its own neighbour.
"""
import numpy as np

from harness.filters import UNFILTERED, bits_test
from harness.groundtruth import exact_distances


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
        """Exact distance of each query's min(k, valid)-th true neighbour, and min(k, valid)."""
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
            self._thresholds[key] = (t, m)
        return self._thresholds[key]

    def evaluate(self, neighbors, scenario, k):
        """Metrics of the returned ids of the first len(neighbors) queries. Where k exceeds the
        ground truth's depth, recall cannot be computed (None); the label metrics still can."""
        ds = self.ds
        gt, valid_count = self._truth(scenario)
        if np.any(np.minimum(k, valid_count) > gt.shape[1]):
            thresholds, m = None, np.minimum(k, valid_count)
        else:
            thresholds, m = self.thresholds(scenario, k)
        index = None if scenario == UNFILTERED else ds.label_index(scenario)
        rows = None if scenario == UNFILTERED else ds.scenarios[scenario].query_labels
        nq = len(neighbors)
        recall = np.zeros(nq)
        counts = dict(padding=0, out_of_range=0, duplicates=0, violations=0, queries_with_violations=0,
                      fewer_than_k=0)
        kept = []  # per query: the valid returned ids, in returned order (for label metrics)
        for i in range(nq):
            row = np.asarray(neighbors[i][:k], dtype=np.int64)
            counts["padding"] += int(np.sum(row == -1))
            in_range = (row >= 0) & (row < ds.n)
            counts["out_of_range"] += int(np.sum(~in_range & (row != -1)))
            ids = row[in_range]
            _, first = np.unique(ids, return_index=True)
            counts["duplicates"] += len(ids) - len(first)
            ids = ids[np.sort(first)]
            if index is not None and len(ids):
                passing = bits_test(index.filter_map(rows.row(i), scenario), ids)
                bad = int(np.sum(~passing))
                counts["violations"] += bad
                counts["queries_with_violations"] += bad > 0
                ids = ids[passing]
            if len(ids) < m[i]:
                counts["fewer_than_k"] += 1
            kept.append(ids)
            if len(ids) and thresholds is not None:
                d = exact_distances(ds.distance, ds.test[i], ds.train[ids])
                t = thresholds[i]
                hits = int(np.sum(d <= t + 1e-6 * abs(t)))
                recall[i] = min(hits, m[i]) / m[i]
        out = {"recall": None, "recall_p10": None, "recall_below_half": None, **counts}
        if thresholds is not None:
            out.update(recall=float(recall.mean()), recall_p10=float(np.percentile(recall, 10)),
                       recall_below_half=float(np.mean(recall < 0.5)))
        classes = ds.single_label_classes()
        if scenario == UNFILTERED and classes is not None:
            out.update(label_metrics(kept, classes[0], classes[1], k))
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
