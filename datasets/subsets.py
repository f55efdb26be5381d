"""Base-size subsets for the scalability experiment: `NAME@P%` (P from 1 to 99) keeps a seeded P%
of NAME's base vectors and all its queries. Each query keeps its label set where at least
MIN_VALID vectors of the smaller base still pass it, else one is redrawn as in datasets.workloads
(the count is stored); ground truth is computed anew for the smaller base."""
import re

import numpy as np

from datasets.workloads import build_arrays
from harness.dataset import Csr, Dataset

SUBSET = re.compile(r"^(?P<parent>.+)@(?P<percent>[1-9][0-9]?)%$")


def parse(name):
    """(parent name, percent) of a subset name, else None."""
    m = SUBSET.match(name)
    return (m.group("parent"), int(m.group("percent"))) if m else None


def build(parent_path, percent, seed=0, log=print):
    ds = Dataset(parent_path)
    if ds.labels is None:
        raise ValueError(f"{parent_path}: has no base labels; a subset needs them")
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(ds.n, size=max(1, round(ds.n * percent / 100)), replace=False))
    log(f"  subset: {len(keep):,} of {ds.n:,} base vectors ({percent}%), {ds.nq:,} queries")

    def rows_of(csr, ids):
        return Csr.from_rows([csr.row(i) for i in ids], csr.vocabulary)

    scenarios = tuple(ds.scenarios)
    given = {name: sc.query_labels for name, sc in ds.scenarios.items()}
    fixed = ds.scenarios.get("fixed_equality")
    test_labels = ds.test_labels if ds.test_labels is not None else given.get("equality", given[scenarios[0]])
    arrays, stats = build_arrays(
        ds.train[keep], ds.test, ds.distance, rows_of(ds.labels, keep), test_labels,
        rows_of(fixed.base_labels, keep) if fixed else None, fixed.query_labels if fixed else None,
        rng, scenarios=scenarios, given=given, log=log)
    arrays["subset_base_ids"] = keep.astype(np.int64)  # row i of train is the parent's base vector keep[i]
    attrs = {key: ds.attrs[key] for key in ("distance", "dimension", "point_type", "source", "license")
             if key in ds.attrs}
    attrs.update(stats, subset_of=ds.name, subset_percent=percent, subset_seed=seed,
                 parent_content_hash=ds.content_hash)
    return attrs, arrays
