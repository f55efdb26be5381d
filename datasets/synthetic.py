"""random-filter-*: clustered Gaussian vectors with Zipf-distributed multi-labels (seeded).

The shape of big-ann-benchmarks' `random-filter-s` (100,000 vectors of dimension 50, 1,000
queries). Labels are correlated with clusters, as real tags are with content: half of an item's
labels come from its cluster's own popularity order, half from the global one, both Zipf.

Two numeric attributes: `cluster_value` follows the clusters (the cluster's place in a seeded
order plus a uniform fraction, so a range selects whole clusters, or a slice of one) and
`uniform_value` does not (uniform integers). Scenarios: the FANNS paper's four over the labels,
`range` over uniform_value, `range-correlated` over cluster_value, and `containment-and-range`
(a containment of the query item's labels and a range over uniform_value at 10% or 50%).
"""
import numpy as np

from datasets.workloads import LABEL_SCENARIOS, SYNTHETIC_FIXED, build_arrays, fixed_length_labels, label_attributes
from harness.attributes import Csr, NumericAttribute

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
    attributes, query_attributes = label_attributes(labels, fixed, base, queries)
    numbers = np.random.default_rng([seed, 1])  # a stream of its own: the labels and vectors stay as they were
    cluster_value = numbers.permutation(CLUSTERS)[clusters] + numbers.random(total)
    uniform_value = numbers.integers(0, 1_000_000, total)
    for attribute in (NumericAttribute("cluster_value", cluster_value), NumericAttribute("uniform_value", uniform_value)):
        attributes[attribute.name], query_attributes[attribute.name] = attribute.take(base), attribute.take(queries)
    scenarios = {**LABEL_SCENARIOS,
                 "range": {"kind": "range", "attribute": "uniform_value"},
                 "range-correlated": {"kind": "range", "attribute": "cluster_value"},
                 "containment-and-range": {"kind": "and", "parts": [
                     {"kind": "containment", "attribute": "labels"},
                     {"kind": "range", "attribute": "uniform_value", "levels": [0.1, 0.5]}]}}
    arrays, stats = build_arrays(vectors[:n], vectors[n:], "euclidean", attributes, query_attributes, scenarios, rng,
                                 log=log)
    attrs = {"distance": "euclidean", "dimension": d, "point_type": "float", "seed": seed,
             "source": "synthetic (datasets/synthetic.py): clustered Gaussians, Zipf multi-labels",
             "license": "CC0 (generated)", **stats, **SYNTHETIC_FIXED}
    return attrs, arrays
