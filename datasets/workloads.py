"""Query workloads and exact ground truth for a dataset's scenarios (the FANNS paper, section 5).

A scenario is a named predicate over the dataset's attributes (harness.predicates); its kind
draws the queries' operands: label kinds from the query item's own labels (containment and
overlap a random subset of them, equality the full set, fixed-length equality the item's
fixed-length labels), ranges at target selectivities, "and" each part in turn. Every query keeps
at least MIN_VALID valid base vectors (one that does not is redrawn, and the number redrawn is
stored per scenario); low-selectivity queries are kept: they are the hard ones.
"""
import json
import time

import numpy as np

from harness.attributes import Csr, LabelAttribute, attribute_arrays
from harness.dataset import query_groups
from harness.groundtruth import knn
from harness.predicates import MIN_VALID, make  # noqa: F401 (MIN_VALID: the builders' contract)
from harness.predicates._labels import NoWorkload

K = 100

# The FANNS paper's four scenarios, over the attributes `labels` and `fixed`.
LABEL_SCENARIOS = {"containment": {"kind": "containment", "attribute": "labels"},
                   "overlap": {"kind": "overlap", "attribute": "labels"},
                   "equality": {"kind": "equality", "attribute": "labels"},
                   "fixed_equality": {"kind": "equality", "attribute": "fixed"}}


# The attribute names a builder drew at random rather than read from the data, with how, as a JSON
# dataset attribute: cards and the site say so beside the attribute and its scenarios.
SYNTHETIC_ATTRIBUTES = "synthetic_attributes"
FIXED_LABELS_ABOUT = "drawn at random (F=4 positions x V=3 values, as NHQ and the FANNS paper generate them), not from the data"
SYNTHETIC_FIXED = {SYNTHETIC_ATTRIBUTES: json.dumps({"fixed": FIXED_LABELS_ABOUT})}  # the attrs of a builder that used them


def fixed_length_labels(n, rng, F=4, V=3):
    """Fixed-length labels as NHQ and the FANNS paper generate them: F positions, each one of V
    values uniformly at random; position f with value v is label f*V + v."""
    values = rng.integers(0, V, size=(n, F))
    indices = (np.arange(F) * V + values).reshape(-1)
    vocabulary = [f"f{f}={v}" for f in range(F) for v in range(V)]
    return Csr(np.arange(0, n * F + 1, F), indices, vocabulary)


def label_attributes(labels, fixed, base, queries):
    """The attributes `labels` and `fixed` (Csr over base + query items, or None) split into
    (base attributes, query items' attributes)."""
    base_attributes, query_attributes = {}, {}
    for name, csr in (("labels", labels), ("fixed", fixed)):
        if csr is not None:
            base_attributes[name] = LabelAttribute.of(name, csr.take(base))
            query_attributes[name] = LabelAttribute.of(name, csr.take(queries))
    return base_attributes, query_attributes


def build_arrays(train, test, distance, attributes, query_attributes, scenarios, rng, log=print, given=None):
    """All arrays of a dataset file, ground truth included, keyed by their HDF5 paths.

    attributes / query_attributes: {name: LabelAttribute | NumericAttribute} of the base vectors
    and of the query items; scenarios: {name: predicate spec}; given: {scenario: operands} of a
    published workload, kept where they pass MIN_VALID vectors. A scenario no query can be drawn
    for (equality on a tiny sample) is left out, and the returned stats say why."""
    arrays = {"train": train, "test": test}
    log(f"  ground truth: unfiltered, {len(test)} queries over {len(train)} vectors")
    clock = {"workloads": 0.0, "ground_truth": 0.0, "ground_truth_queries": len(test)}
    t0 = time.perf_counter()
    arrays["neighbors"], d, _ = knn(train, test, distance, K)
    clock["ground_truth"] += time.perf_counter() - t0
    arrays["neighbors"] = arrays["neighbors"].astype(np.int32)
    arrays["distances"] = d
    arrays.update(attribute_arrays("attributes", attributes))
    arrays.update(attribute_arrays("query_attributes", query_attributes))
    stats = {}
    for name, spec in scenarios.items():
        predicate = make(spec, attributes)
        t0 = time.perf_counter()
        try:
            operands, redrawn = predicate.draw(query_attributes, rng, len(test), given=(given or {}).get(name))
        except (NoWorkload, ValueError) as e:
            log(f"  {name}: {e}: scenario left out")
            stats[f"{name}_omitted"] = str(e)
            continue
        finally:
            clock["workloads"] += time.perf_counter() - t0
        log(f"  ground truth: {name} ({predicate.kind}; {redrawn} of {len(operands)} queries redrawn to keep "
            f">= {MIN_VALID} valid vectors)")
        t0 = time.perf_counter()
        nb, dist, count = knn(train, test, distance, K, filter_maps=lambda a, b: predicate.filter_maps(operands[a:b]))
        clock["ground_truth"] += time.perf_counter() - t0
        clock["ground_truth_queries"] += len(test)
        p = f"scenarios/{name}/"
        arrays[p + "predicate"] = [predicate.to_json()]
        arrays.update(predicate.store(operands, p + "operands"))
        arrays.update({p + "neighbors": nb.astype(np.int32), p + "distances": dist,
                       p + "selectivity": (count / len(train)).astype(np.float32), p + "valid_count": count})
        for group, mask in query_groups(count / len(train), count, predicate.groups(operands)).items():
            arrays[p + "groups/" + group] = mask.astype(np.uint8)
        stats[f"{name}_redrawn"] = int(redrawn)
    per_1000 = 1000 * clock["ground_truth"] / clock["ground_truth_queries"]
    log(f"  workloads drawn in {clock['workloads']:.1f} s; ground truth in {clock['ground_truth']:.1f} s "
        f"({per_1000:.2f} s per 1,000 queries over {len(train):,} vectors)")
    return arrays, stats
