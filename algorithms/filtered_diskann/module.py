"""Filtered-DiskANN (Gollapudi et al., WWW 2023): Microsoft's library, PyPI diskannpy 0.7.0.

The library searches with one label per query. Label sets are the FANNS paper's extension
(Section 5.1), done here: a search on the query's rarest label (overlap: one search per query
label, merged), asking the library for its whole search list, whose ids are checked against the
whole predicate (the harness's filter map) before they enter the result; while fewer than k pass,
the list doubles, up to the label's size. Nothing is hidden: ids the check cannot judge (outside
the base, as the library returns when a label's subgraph is cut off from its start node) stay in
the answer, and the harness counts them.

diskannpy pins numpy 1.25, which cannot share an environment with the project's numpy 2: the
plugin runs in its own image (python -m install --algorithm filtered-diskann), not with --local.
"""
import os
import shutil
import tempfile

import numpy as np

from algorithms.base import FilteredANN, normalize
from harness.filters import bits_test

try:
    import diskannpy
except ImportError:  # the host's environment (--local): numpy 2, no diskannpy
    diskannpy = None

NO_LABEL = "none"  # the label of base items without labels: no query asks for it


class FilteredDiskann(FilteredANN):
    predicates = ("unfiltered", "containment", "overlap", "equality")
    builds_on_attribute = True

    def __init__(self, distance, R=64, L=100, alpha=1.2):
        super().__init__(distance)
        if diskannpy is None:
            raise ImportError("filtered-diskann needs diskannpy 0.7.0, which pins numpy 1.25 and cannot share the "
                              "harness's environment: run it in Docker (python -m install --algorithm filtered-diskann, "
                              "then run.py without --local)")
        if distance not in ("euclidean", "angular"):
            raise ValueError(f"Filtered-DiskANN: distance must be euclidean or angular, not '{distance}'")
        if int(R) < 2 or int(L) < int(R) or not float(alpha) >= 1.0:
            raise ValueError(f"Filtered-DiskANN: needs R >= 2, L >= R and alpha >= 1 (got R={R}, L={L}, alpha={alpha})")
        self.R, self.L, self.alpha = int(R), int(L), float(alpha)
        self.L_search = 64
        self.folder = None

    def fit(self, X, attribute):
        # Angular data is normalized and searched by L2, which ranks unit vectors as the angle does.
        X = normalize(X) if self.distance == "angular" else np.ascontiguousarray(X, dtype=np.float32)
        self.n = len(X)
        labels = [[str(label) for label in attribute.row(i)] or [NO_LABEL] for i in range(self.n)]
        self.label_count = np.bincount(attribute.indices, minlength=int(attribute.indices.max(initial=-1)) + 1)
        self.folder = tempfile.mkdtemp(prefix="filtered-diskann-")
        diskannpy.build_memory_index(X, "l2", self.folder, complexity=self.L, graph_degree=self.R,
                                     num_threads=self.threads, alpha=self.alpha, filter_labels=labels,
                                     filter_complexity=self.L)
        self.index = diskannpy.StaticMemoryIndex(self.folder, num_threads=self.threads,
                                                 initial_search_complexity=self.L, enable_filters=True)

    def set_query_arguments(self, L_search=64):
        if int(L_search) < 1:
            raise ValueError(f"Filtered-DiskANN: L_search must be at least 1, got {L_search}")
        self.L_search = int(L_search)

    def count(self, label):
        return int(self.label_count[label]) if 0 <= label < len(self.label_count) else 0

    def search(self, q, label, depth):
        """The library's whole search list of this depth on one label (None: unfiltered), as
        (ids, distances) in its order."""
        kwargs = {} if label is None else {"filter_label": str(label)}
        response = self.index.search(q, depth, depth, **kwargs)
        return np.asarray(response.identifiers, dtype=np.int64), np.asarray(response.distances, dtype=np.float64)

    def filtered_query(self, q, k, filter, valid):
        q = normalize(np.reshape(q, (1, -1)))[0] if self.distance == "angular" else np.asarray(q, dtype=np.float32)
        if filter is None:
            return self.search(q, None, max(k, self.L_search))[0][:k]
        if filter.kind not in ("containment", "overlap", "equality"):
            raise ValueError(f"Filtered-DiskANN answers containment, overlap, equality; '{filter.kind}' is refused")
        labels = [int(label) for label in filter.operands]
        if filter.kind == "overlap":
            searched = [label for label in labels if self.count(label) > 0]
        elif labels and all(self.count(label) > 0 for label in labels):
            searched = [min(labels, key=self.count)]  # the rarest: the fewest candidates to check
        else:
            searched = []  # a label no base item carries, or none at all: no walk to take
        reach = sum(self.count(label) for label in searched)
        depth = max(k, self.L_search)
        while searched:
            lists = [self.search(q, label, depth) for label in searched]
            ids = np.concatenate([found for found, _ in lists])
            order = np.argsort(np.concatenate([distances for _, distances in lists]), kind="stable")
            ids = ids[order]
            ids = ids[np.sort(np.unique(ids, return_index=True)[1])]  # merged label searches: each id once
            # The predicate check drops the ids that fail it; ids outside the base cannot be
            # checked and stay where the library put them, for the harness to count.
            inside = (ids >= 0) & (ids < self.n)
            keep = ~inside
            keep[inside] = bits_test(valid, ids[inside])
            if (keep & inside).sum() >= k or depth >= reach:
                return ids[keep][:k]
            depth = min(2 * depth, reach)
        return np.zeros(0, dtype=np.int64)

    def graph(self):
        """The built graph as CSR (offsets, targets), read back from the library's graph file: a
        24-byte header (file size, max degree, start node, frozen points), then per point its
        neighbour count and ids, all little-endian uint32 after the header's first field."""
        data = np.fromfile(os.path.join(self.folder, "ann"), dtype="<u4", offset=24)
        offsets, targets, at = np.zeros(self.n + 1, dtype=np.int64), [], 0
        for i in range(self.n):
            count = int(data[at])
            targets.append(data[at + 1:at + 1 + count])
            at += 1 + count
            offsets[i + 1] = offsets[i] + count
        return offsets, np.concatenate(targets).astype(np.int64)

    def start_nodes(self):
        """Each label's start node as the library chose it: {label id: point id}."""
        internal = {}
        with open(os.path.join(self.folder, "ann_labels_map.txt")) as f:
            for line in f:
                name, number = line.rstrip("\n").split("\t")
                internal[int(number)] = name
        starts = {}
        with open(os.path.join(self.folder, "ann_labels_to_medoids.txt")) as f:
            for line in f:
                number, point = (int(x) for x in line.split(","))
                if internal[number] != NO_LABEL:
                    starts[int(internal[number])] = point
        return starts

    def index_size(self):
        return sum(os.path.getsize(os.path.join(self.folder, name)) for name in os.listdir(self.folder))

    def done(self):
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
