"""Query workloads and exact ground truth for a dataset's scenarios (the FANNS paper, section 5).

A scenario is a named predicate over the dataset's attributes (harness.predicates); its kind
draws the queries' operands: label kinds from the query item's own labels (containment and
overlap a random subset of them, equality the full set, fixed-length equality the item's
fixed-length labels), ranges at target selectivities, "and" each part in turn. Every query keeps
at least MIN_VALID valid base vectors (one that does not is redrawn, and the number redrawn is
stored per scenario); low-selectivity queries are kept: they are the hard ones.
"""
import hashlib
import json
import os
import shutil
import sys
import time

import numpy as np
from tqdm import tqdm

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
    clock = {"workloads": 0.0, "ground_truth": 0.0, "ground_truth_queries": 0}
    # Finished blocks of ground truth are kept under a name hashed from the inputs, so that a build
    # interrupted at 10M vectors resumes there; the folder goes once every scenario is done.
    from datasets import data_dir
    saved = os.path.join(data_dir(), "cache", "ground-truth", _digest(train, test, distance, K))

    def ground_truth(name, filter_maps=None, key=()):
        log(f"  ground truth: {name}, {len(test):,} queries over {len(train):,} vectors")
        t0 = time.perf_counter()
        with _Progress(name, len(test), log) as progress:
            out = knn(train, test, distance, K, filter_maps=filter_maps, progress=progress,
                      checkpoint=os.path.join(saved, f"{name}-{_digest(*key)}"))
        clock["ground_truth"] += time.perf_counter() - t0
        clock["ground_truth_queries"] += len(test)
        return out

    arrays["neighbors"], d, _ = ground_truth("unfiltered")
    arrays["neighbors"] = arrays["neighbors"].astype(np.int32)
    arrays["distances"] = d
    base_arrays = attribute_arrays("attributes", attributes)
    arrays.update(base_arrays)
    arrays.update(attribute_arrays("query_attributes", query_attributes))
    base_key = _digest(base_arrays)  # the filter maps depend on the base's attributes
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
        log(f"  {name}: {predicate.kind}; {redrawn} of {len(operands)} queries redrawn to keep >= {MIN_VALID} "
            "valid vectors")
        nb, dist, count = ground_truth(name, lambda a, b: predicate.filter_maps(operands[a:b]),
                                       key=(predicate.to_json(), predicate.store(operands, "operands"), base_key))
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
    shutil.rmtree(saved, ignore_errors=True)
    return arrays, stats


def _digest(*parts):
    """A short hash of arrays, {name: array} dicts and plain values: names saved ground truth."""
    h = hashlib.blake2b(digest_size=10)

    def add(part):
        if isinstance(part, dict):
            for key in sorted(part):
                h.update(key.encode())
                add(part[key])
        elif isinstance(part, np.ndarray) and part.dtype != object:
            h.update(f"{part.dtype}{part.shape}".encode())
            h.update(np.ascontiguousarray(part).view(np.uint8).reshape(-1))
        elif isinstance(part, (list, tuple, np.ndarray)):
            h.update(b"[")
            for item in part:
                add(item)
            h.update(b"]")
        else:
            h.update(repr(part).encode())
    for part in parts:
        add(part)
    return h.hexdigest()


class _Progress:
    """Progress of one ground truth: a bar on a terminal; elsewhere (a log file) a line at most
    every 30 s. Both say how long is left, timed on the blocks computed, not those read back."""

    def __init__(self, name, total, log):
        self.name, self.total, self.log = name, total, log
        self.bar = tqdm(total=total, unit="query", desc=f"  ground truth {name}", file=sys.stderr, disable=None,
                        dynamic_ncols=True, leave=False)
        self.done = self.resumed = 0
        self.start = self.said = time.time()

    def __call__(self, count, resumed=False):
        self.bar.update(count)
        self.done += count
        now = time.time()
        if resumed:
            self.resumed += count
            self.start = now
            return
        if self.bar.disable and now - self.said >= 30 and self.done < self.total:
            left = (now - self.start) / (self.done - self.resumed) * (self.total - self.done)
            self.log(f"    {self.name}: {self.done:,} of {self.total:,} queries"
                     + (f" ({self.resumed:,} saved by an earlier run)" if self.resumed else "")
                     + f"; about {left:.0f} s left")
            self.said = now

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.bar.close()
