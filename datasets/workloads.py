"""Query workloads and exact ground truth for the four scenarios (the FANNS paper, section 5).

Query label sets follow the base label distribution because they come from the query item's own
labels: containment and overlap use a random subset of them, equality the full set, fixed-length
equality the item's fixed-length labels. A query must keep at least MIN_VALID valid base vectors;
one that does not is redrawn (another subset, then the label set of a random base item), and the
number redrawn is stored per scenario. Low-selectivity queries are kept: they are the hard ones.
"""
import time

import numpy as np

from harness.dataset import Csr, query_groups
from harness.filters import LabelIndex, popcount
from harness.groundtruth import knn

MIN_VALID = 10
K = 100
MAX_SUBSET = 3  # containment / overlap queries use 1..3 of the item's labels


class NoWorkload(Exception):
    """A scenario has no query label sets with enough valid vectors on this base (tiny samples)."""


def _draw(scenario, labels, rng):
    if scenario in ("equality", "fixed_equality"):
        return np.sort(labels)
    if len(labels) == 0:
        return None
    size = int(rng.integers(1, min(len(labels), MAX_SUBSET) + 1))
    return np.sort(rng.choice(labels, size, replace=False))


def query_label_sets(scenario, index, base, query_items, rng, attempts=10, given=None):
    """One label set per query item with at least MIN_VALID valid base vectors; returns (rows, redrawn).
    given: label sets to keep as they are where they pass enough vectors (a published workload)."""
    rows, redrawn = [], 0
    for i, labels in enumerate(query_items):
        chosen = None
        for attempt in range(attempts + 1000):
            # First the given set, then draws from the item itself, then from random base items.
            source = labels if attempt < attempts else base.row(int(rng.integers(len(base))))
            cand = np.sort(given[i]) if given is not None and attempt == 0 else _draw(scenario, source, rng)
            if cand is not None and popcount(index.filter_map(cand, scenario)) >= MIN_VALID:
                chosen = cand
                break
        if chosen is None:
            raise NoWorkload(f"{scenario}: no label set found that {MIN_VALID} base vectors pass")
        redrawn += attempt > 0
        rows.append(chosen)
    return rows, redrawn


def fixed_length_labels(n, rng, F=4, V=3):
    """Fixed-length labels as NHQ and the FANNS paper generate them: F positions, each one of V
    values uniformly at random; position f with value v is label f*V + v."""
    values = rng.integers(0, V, size=(n, F))
    indices = (np.arange(F) * V + values).reshape(-1)
    vocabulary = [f"f{f}={v}" for f in range(F) for v in range(V)]
    return Csr(np.arange(0, n * F + 1, F), indices, vocabulary)


def build_arrays(train, test, distance, base_labels, test_labels, fixed_base, fixed_test, rng,
                 scenarios=("containment", "overlap", "equality", "fixed_equality"), log=print, given=None):
    """All arrays of a dataset file, ground truth included, keyed by their HDF5 paths.
    given: {scenario: Csr} published query label sets, kept where they pass MIN_VALID vectors."""
    arrays = {"train": train, "test": test}
    log(f"  ground truth: unfiltered, {len(test)} queries over {len(train)} vectors")
    clock = {"workloads": 0.0, "ground_truth": 0.0, "ground_truth_queries": len(test)}
    t0 = time.perf_counter()
    arrays["neighbors"], d, _ = knn(train, test, distance, K)
    clock["ground_truth"] += time.perf_counter() - t0
    arrays["neighbors"] = arrays["neighbors"].astype(np.int32)
    arrays["distances"] = d
    arrays["labels/indptr"], arrays["labels/indices"] = base_labels.indptr, base_labels.indices
    if base_labels.vocabulary is not None:
        arrays["labels/vocabulary"] = list(base_labels.vocabulary)
    arrays["test_labels/indptr"], arrays["test_labels/indices"] = test_labels.indptr, test_labels.indices
    stats = {}
    for scenario in scenarios:
        fixed = scenario == "fixed_equality"
        base, items = (fixed_base, fixed_test) if fixed else (base_labels, test_labels)
        index = LabelIndex(base.indptr, base.indices, base.n_labels)
        fixed_sets = given[scenario].rows() if given and scenario in given else None
        t0 = time.perf_counter()
        try:
            rows, redrawn = query_label_sets(scenario, index, base, items.rows(), rng, given=fixed_sets)
        except NoWorkload as e:
            log(f"  {e}: scenario left out")
            stats[f"{scenario}_omitted"] = str(e)
            continue
        finally:
            clock["workloads"] += time.perf_counter() - t0
        query = Csr.from_rows(rows)
        log(f"  ground truth: {scenario} ({redrawn} of {len(rows)} query label sets redrawn "
            f"to keep >= {MIN_VALID} valid vectors)")
        t0 = time.perf_counter()
        nb, dist, count = knn(train, test, distance, K,
                              filter_maps=lambda a, b: index.filter_maps(rows[a:b], scenario))
        clock["ground_truth"] += time.perf_counter() - t0
        clock["ground_truth_queries"] += len(test)
        p = f"scenarios/{scenario}/"
        arrays.update({
            p + "query_labels/indptr": query.indptr, p + "query_labels/indices": query.indices,
            p + "neighbors": nb.astype(np.int32), p + "distances": dist,
            p + "selectivity": (count / len(train)).astype(np.float32), p + "valid_count": count,
        })
        for name, mask in query_groups(count / len(train), query.sizes(), count).items():
            arrays[p + "groups/" + name] = mask.astype(np.uint8)
        if fixed:
            arrays[p + "base_labels/indptr"], arrays[p + "base_labels/indices"] = base.indptr, base.indices
            arrays[p + "base_labels/vocabulary"] = list(base.vocabulary)
        stats[f"{scenario}_redrawn"] = int(redrawn)
    per_1000 = 1000 * clock["ground_truth"] / clock["ground_truth_queries"]
    log(f"  workloads drawn in {clock['workloads']:.1f} s; ground truth in {clock['ground_truth']:.1f} s "
        f"({per_1000:.2f} s per 1,000 queries over {len(train):,} vectors)")
    return arrays, stats
