"""random-filter-*: clustered Gaussian vectors with Zipf-distributed multi-labels (seeded).

The shape of big-ann-benchmarks' `random-filter-s` (100,000 vectors of dimension 50, 1,000
queries). Labels are correlated with clusters, as real tags are with content: half of an item's
labels come from its cluster's own popularity order, half from the global one, both Zipf.
"""
import numpy as np

from harness.dataset import Csr
from datasets.workloads import build_arrays, fixed_length_labels

VOCABULARY = 1000
CLUSTERS = 64
ZIPF_S = 1.1
MEAN_LABELS = 3  # labels per item: 1 + Poisson(MEAN_LABELS - 1), at most MAX_LABELS
MAX_LABELS = 10


def _labels(clusters, rng):
    n = len(clusters)
    weights = 1.0 / np.arange(1, VOCABULARY + 1) ** ZIPF_S
    weights /= weights.sum()
    ranks = rng.choice(VOCABULARY, size=(n, 2 * MAX_LABELS), p=weights)
    cluster_order = np.array([rng.permutation(VOCABULARY) for _ in range(CLUSTERS)])
    from_cluster = rng.random((n, 2 * MAX_LABELS)) < 0.5
    candidates = np.where(from_cluster, cluster_order[clusters][np.arange(n)[:, None], ranks], ranks)
    sizes = np.minimum(1 + rng.poisson(MEAN_LABELS - 1, n), MAX_LABELS)
    rows = []
    for row, size in zip(candidates, sizes):
        _, first = np.unique(row, return_index=True)
        rows.append(row[np.sort(first)][:size])
    return Csr.from_rows(rows, [f"label{i}" for i in range(VOCABULARY)])


def build(n, nq, d, seed, log=print):
    rng = np.random.default_rng(seed)
    total = n + nq
    centers = rng.normal(0, 3.0, size=(CLUSTERS, d)).astype(np.float32)
    clusters = rng.integers(0, CLUSTERS, total)
    vectors = (centers[clusters] + rng.normal(0, 1.0, size=(total, d))).astype(np.float32)
    labels = _labels(clusters, rng)
    fixed = fixed_length_labels(total, rng)
    # The last nq items are the queries: held out of the base.
    base, queries = np.arange(n), np.arange(n, total)
    take = lambda csr, ids: Csr.from_rows([csr.row(i) for i in ids], csr.vocabulary)
    arrays, stats = build_arrays(vectors[:n], vectors[n:], "euclidean", take(labels, base), take(labels, queries),
                                 take(fixed, base), take(fixed, queries), rng, log=log)
    attrs = {"distance": "euclidean", "dimension": d, "point_type": "float", "seed": seed,
             "source": "synthetic (datasets/synthetic.py): clustered Gaussians, Zipf multi-labels",
             "license": "CC0 (generated)", **stats}
    return attrs, arrays
