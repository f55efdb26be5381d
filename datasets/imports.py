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
from datasets.workloads import LABEL_SCENARIOS, SYNTHETIC_FIXED, build_arrays, fixed_length_labels, label_attributes
from harness.dataset import Csr

FANNS_QUERY_FILES = {"containment": "and", "overlap": "or", "equality": "equal"}


def load_vectors(path):
    if path.endswith(".npy"):
        if not os.path.exists(path):
            raise FormatError(f"{path}: no such file")
        return np.load(path, mmap_mode="r")
    return read_vectors(path)


def import_dataset(base, base_labels, queries=None, query_labels=None, holdout=0, distance="euclidean", seed=0,
                   log=print, fixed=True):
    """query_labels: {scenario: label file} for given queries; holdout: draw N queries from the base;
    fixed: add the random fixed-length labels and their fixed_equality scenario (marked synthetic)."""
    rng = np.random.default_rng(seed)
    X = np.asarray(load_vectors(base), dtype=np.float32)
    labels = read_label_lines(base_labels)
    if len(labels) != len(X):
        raise FormatError(f"{base_labels}: {len(labels)} label lines for {len(X)} vectors in {base}")
    vocabulary = [str(i) for i in range(int(labels.indices.max()) + 1 if len(labels.indices) else 0)]
    labels.vocabulary = vocabulary
    if holdout:
        if holdout >= len(X):
            raise FormatError(f"--holdout {holdout}: the table has {len(X)} rows, and the base needs at least one "
                              f"(hold out fewer)")
        order = rng.permutation(len(X))
        q_ids, b_ids = np.sort(order[:holdout]), np.sort(order[holdout:])
        train, test = X[b_ids], X[q_ids]
        base_labels_csr, item_labels = labels.take(b_ids), labels.take(q_ids)
        given, scenarios = None, LABEL_SCENARIOS
    else:
        if queries is None or not query_labels:
            raise FormatError("give --queries with at least one --query-labels SCENARIO=FILE, or --holdout N")
        train, test = X, np.asarray(load_vectors(queries), dtype=np.float32)
        if test.shape[1] != train.shape[1]:
            raise FormatError(f"{queries}: dimension {test.shape[1]}, but {base} has {train.shape[1]}")
        base_labels_csr = labels
        given = {}
        for scenario, path in query_labels.items():
            if scenario not in FANNS_QUERY_FILES:
                raise FormatError(f"--query-labels {scenario}={path}: the scenario is one of "
                                  f"{', '.join(FANNS_QUERY_FILES)}")
            rows = read_label_lines(path)
            if len(rows) != len(test):
                raise FormatError(f"{path}: {len(rows)} label lines for {len(test)} queries in {queries}")
            given[scenario] = rows.rows()
        # The queries' own labels are unknown: redraws use the first given workload's.
        item_labels = Csr.from_rows(next(iter(given.values())), vocabulary)
        scenarios = {**{s: LABEL_SCENARIOS[s] for s in given}, "fixed_equality": LABEL_SCENARIOS["fixed_equality"]}
    if not fixed:
        scenarios = {s: spec for s, spec in scenarios.items() if s != "fixed_equality"}
    fixed_sets = fixed_length_labels(len(train) + len(test), rng) if fixed else None
    all_labels = Csr.from_rows(base_labels_csr.rows() + item_labels.rows(), vocabulary)
    attributes, query_attributes = label_attributes(all_labels, fixed_sets, np.arange(len(train)),
                                                    np.arange(len(train), len(train) + len(test)))
    arrays, stats = build_arrays(train, test, distance, attributes, query_attributes, scenarios, rng, log=log,
                                 given=given)
    attrs = {"distance": distance, "dimension": train.shape[1], "point_type": "float", "seed": seed,
             "source": f"imported: {os.path.basename(base)} with {os.path.basename(base_labels)}",
             "license": "as the imported data's", **stats}
    if fixed_sets is not None:
        attrs.update(SYNTHETIC_FIXED)
    return attrs, arrays


def fanns_query_labels(directory):
    """The FANNS release's query label files present in a directory, by scenario."""
    found = {}
    for scenario, word in FANNS_QUERY_FILES.items():
        for name in os.listdir(directory):
            if name.endswith(f"_query_{word}.txt") or name == f"query_{word}.txt":
                found[scenario] = os.path.join(directory, name)
    return found
