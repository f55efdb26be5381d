"""`python -m datasets import NAME ...`: a user's vectors and labels into the harness's HDF5.

The FANNS benchmark's release format: base vectors (.fvecs or .bin), `label_base.txt` (one line
per vector, comma-separated label ids), query vectors, and per scenario the query label sets
`X_query_and.txt` (containment), `X_query_or.txt` (overlap), `X_query_equal.txt` (equality).
The generic form: vectors as .npy/.fvecs/.fbin/.u8bin/.bin and one label line per vector, with
queries either given the same way or held out of the base (--holdout N: then all four scenarios
are drawn from the held-out items' own labels, as for the built-in datasets).

Ground truth is always computed here (exact, K=100); query label sets that pass fewer than 10
base vectors are redrawn and counted, as everywhere.
"""
import os

import numpy as np

from datasets.formats import FormatError, read_label_lines, read_vectors
from datasets.workloads import build_arrays, fixed_length_labels
from harness.dataset import Csr

FANNS_QUERY_FILES = {"containment": "and", "overlap": "or", "equality": "equal"}


def load_vectors(path):
    if path.endswith(".npy"):
        if not os.path.exists(path):
            raise FormatError(f"{path}: no such file")
        return np.load(path, mmap_mode="r")
    return read_vectors(path)


def import_dataset(base, base_labels, queries=None, query_labels=None, holdout=0, distance="euclidean", seed=0,
                   log=print):
    """query_labels: {scenario: label file} for given queries; holdout: draw N queries from the base."""
    rng = np.random.default_rng(seed)
    X = np.asarray(load_vectors(base), dtype=np.float32)
    labels = read_label_lines(base_labels)
    if len(labels) != len(X):
        raise FormatError(f"{base_labels}: {len(labels)} label lines for {len(X)} vectors in {base}")
    vocabulary = [str(i) for i in range(int(labels.indices.max()) + 1 if len(labels.indices) else 0)]
    take = lambda csr, ids: Csr.from_rows([csr.row(i) for i in ids], vocabulary)
    if holdout:
        order = rng.permutation(len(X))
        q_ids, b_ids = np.sort(order[:holdout]), np.sort(order[holdout:])
        train, test = X[b_ids], X[q_ids]
        base_labels_csr, item_labels = take(labels, b_ids), take(labels, q_ids)
        given, scenarios = None, ("containment", "overlap", "equality", "fixed_equality")
    else:
        if queries is None or not query_labels:
            raise FormatError("give --queries with at least one --query-labels SCENARIO=FILE, or --holdout N")
        train, test = X, np.asarray(load_vectors(queries), dtype=np.float32)
        if test.shape[1] != train.shape[1]:
            raise FormatError(f"{queries}: dimension {test.shape[1]}, but {base} has {train.shape[1]}")
        base_labels_csr = take(labels, range(len(X)))
        given = {}
        for scenario, path in query_labels.items():
            rows = read_label_lines(path)
            if len(rows) != len(test):
                raise FormatError(f"{path}: {len(rows)} label lines for {len(test)} queries in {queries}")
            given[scenario] = Csr.from_rows(rows.rows(), vocabulary)
        item_labels = next(iter(given.values()))  # the queries' own labels are unknown: redraws use these
        scenarios = tuple(given) + ("fixed_equality",)
    fixed = fixed_length_labels(len(train) + len(test), rng)
    arrays, stats = build_arrays(train, test, distance, base_labels_csr, item_labels,
                                 take(fixed, range(len(train))), take(fixed, range(len(train), len(train) + len(test))),
                                 rng, scenarios=scenarios, log=log, given=given)
    attrs = {"distance": distance, "dimension": train.shape[1], "point_type": "float", "seed": seed,
             "source": f"imported: {os.path.basename(base)} with {os.path.basename(base_labels)}",
             "license": "as the imported data's", **stats}
    return attrs, arrays


def fanns_query_labels(directory):
    """The FANNS release's query label files present in a directory, by scenario."""
    found = {}
    for scenario, word in FANNS_QUERY_FILES.items():
        for name in os.listdir(directory):
            if name.endswith(f"_query_{word}.txt") or name == f"query_{word}.txt":
                found[scenario] = os.path.join(directory, name)
    return found
