"""Base-size subsets: `NAME@P%` (P from 1 to 99; the scalability experiment) keeps a seeded P% of
NAME's base vectors (and their attributes) and all its queries; `NAME@nSIZE` (parameter tuning's
sample, harness.tune) keeps a seeded SIZE of them. Each query keeps its operands where at least
MIN_VALID vectors of the smaller base still pass them, else they are redrawn as in
datasets.workloads (the count is stored); ground truth is computed anew for the smaller base."""
import re

import numpy as np

from datasets.workloads import SYNTHETIC_ATTRIBUTES, build_arrays
from harness.dataset import Dataset

SUBSET = re.compile(r"^(?P<parent>.+)@((?P<percent>[1-9][0-9]?)%|n(?P<size>[1-9][0-9]*))$")


def parse(name):
    """(parent name, percent, size) of a subset name (one of percent and size None), else None."""
    m = SUBSET.match(name)
    if not m:
        return None
    return m.group("parent"), (int(m.group("percent")) if m.group("percent") else None), \
        (int(m.group("size")) if m.group("size") else None)


def build(parent_path, percent=None, seed=0, log=print, size=None):
    """A subset of `percent`% of the parent's base, or of `size` vectors (at most all of them)."""
    ds = Dataset(parent_path)
    if not ds.scenarios:
        raise ValueError(f"{parent_path}: has no filtered scenarios; a subset keeps them")
    rng = np.random.default_rng(seed)
    count = min(ds.n, size) if size else max(1, round(ds.n * percent / 100))
    keep = np.sort(rng.choice(ds.n, size=count, replace=False))
    log(f"  subset: {len(keep):,} of {ds.n:,} base vectors ({len(keep) / ds.n:.0%}), {ds.nq:,} queries")
    attributes = {name: attribute.take(keep) for name, attribute in ds.attributes.items()}
    scenarios = {name: sc.predicate.spec for name, sc in ds.scenarios.items()}
    given = {name: sc.operands for name, sc in ds.scenarios.items()}
    arrays, stats = build_arrays(ds.train[keep], ds.test, ds.distance, attributes, ds.query_attributes, scenarios, rng,
                                 given=given, log=log)
    arrays["subset_base_ids"] = keep.astype(np.int64)  # row i of train is the parent's base vector keep[i]
    attrs = {key: ds.attrs[key] for key in ("distance", "dimension", "point_type", "source", "license",
                                                     SYNTHETIC_ATTRIBUTES)
             if key in ds.attrs}
    attrs.update(stats, subset_of=ds.name, subset_percent=percent if percent else round(100 * count / ds.n, 3),
                 subset_seed=seed, parent_content_hash=ds.content_hash)
    return attrs, arrays
