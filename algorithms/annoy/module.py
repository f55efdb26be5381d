"""Annoy (random-projection trees). No filtering of its own: post-filtered with a growing depth.
Its metric is a build argument (angular, euclidean, manhattan, as in the fashion study); a run
whose metric differs from the dataset's is marked so and judged mainly by the label metrics."""
import os
import tempfile

import numpy as np
from annoy import AnnoyIndex

from algorithms.base import FilteredANN, post_filter

DATASET_METRICS = {"euclidean": "euclidean", "angular": "angular", "ip": "dot"}


class Annoy(FilteredANN):
    def __init__(self, distance, n_trees=100, metric="dataset", seed=1):
        super().__init__(distance)
        if metric not in ("dataset", "angular", "euclidean", "manhattan", "dot"):
            raise ValueError(f"annoy: metric must be dataset, angular, euclidean, manhattan or dot, not '{metric}'")
        self.metric = DATASET_METRICS[distance] if metric == "dataset" else metric
        self.n_trees, self.seed = int(n_trees), int(seed)

    def fit(self, X, attribute):
        self.n, d = X.shape
        self.index = AnnoyIndex(d, self.metric)
        self.index.set_seed(self.seed)
        for i, x in enumerate(X):
            self.index.add_item(i, x)
        self.index.build(self.n_trees, n_jobs=self.threads)

    def set_query_arguments(self, search_k=-1, max_depth=None):
        self.search_k, self.max_depth = int(search_k), max_depth

    def filtered_query(self, q, k, filter, valid):
        # search_k (nodes inspected) scales with the depth asked for, as annoy's default
        # (n_trees × depth) does, so a deeper post-filter search is not starved of candidates.
        def search(depth):
            search_k = -1 if self.search_k < 0 else self.search_k * max(1, depth // k)
            return self.index.get_nns_by_vector(q, depth, search_k=search_k)
        if valid is None:
            return np.asarray(search(k), dtype=np.int64)
        return post_filter(search, k, valid, self.n, self.max_depth)

    def index_size(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "index.ann")
            self.index.save(path)  # annoy then maps the saved file; the mapping outlives its deletion
            return os.path.getsize(path)
