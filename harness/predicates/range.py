"""range: lo <= x_i <= hi over a numeric attribute; either side may be open (lo = -inf or hi = inf).

Operands: (lo, hi), floats. Filter map: the attribute is sorted once (an argsort); a range is then
two binary searches and the ids of one slice of that order, never a scan of the base.
Workload: ranges at target selectivities, by default LEVELS (0.1%, 1%, 10% and 50% of the base:
the levels of VectorDBBench and FANNBench; a spec may name its own, "levels": [...]), an equal
share of the queries at each, at uniformly random places in the sorted order; one range in eight
is open below (x <= hi) and one in eight open above (lo <= x). The query vector plays no part, so
over an attribute that follows the vectors (random-filter-s's `cluster_value`) most ranges select
clusters far from the query: the hard case for graph indexes.
Groups: the queries of each target level, e.g. "range 1%".
"""
import numpy as np

from harness.attributes import EPOCH_DAYS, NUMERIC  # noqa: F401 (EPOCH_DAYS: imported from here too)
from harness.filters import ids_to_bitset
from harness.predicates import MIN_VALID, Predicate

LEVELS = (0.001, 0.01, 0.1, 0.5)


class SortedValues:
    """The attribute's values in increasing order, and the ids in that order."""

    def __init__(self, values):
        self.order = np.argsort(values, kind="stable").astype(np.int64)
        self.sorted = np.asarray(values)[self.order]
        # Missing values (NaN) sort last and pass no range: the values a range can select.
        self.present = len(self.sorted) - (int(np.isnan(self.sorted).sum()) if self.sorted.dtype.kind == "f" else 0)

    def ids(self, lo, hi):
        """The ids with lo <= value <= hi: two binary searches and a slice."""
        begin = np.searchsorted(self.sorted, lo, side="left")
        end = np.searchsorted(self.sorted, hi, side="right")
        return self.order[begin:end]


def level_name(level):
    return f"range {level * 100:g}%"


class Range(Predicate):
    kind = "range"
    reads = NUMERIC
    words = "the vector's value lies in [lo, hi] (lo <= x_i <= hi; a side may be open)"

    index_kind = "sorted values"

    def make_index(self):
        return SortedValues(self.attribute.values)

    def filter_map(self, operands):
        lo, hi = operands
        return ids_to_bitset(self.index().ids(lo, hi), self.n)

    def passes_many(self, ids, owners, operands):
        bounds = np.array([(lo, hi) for lo, hi in operands], dtype=np.float64).reshape(-1, 2)[owners]
        values = self.attribute.values[np.asarray(ids, dtype=np.int64)]
        return (values >= bounds[:, 0]) & (values <= bounds[:, 1])

    def _value(self, x):
        return self.attribute.text(x)

    def describe(self, operands):
        lo, hi = operands
        if np.isneginf(lo) and np.isposinf(hi):
            return f"any {self.name}"
        if np.isneginf(lo):
            return f"{self.name} <= {self._value(hi)}"
        if np.isposinf(hi):
            return f"{self.name} >= {self._value(lo)}"
        return f"{self._value(lo)} <= {self.name} <= {self._value(hi)}"

    def about(self):
        return f"lo <= {self.name} <= hi"

    def levels(self):
        return tuple(self.spec.get("levels", LEVELS))

    def draw(self, query_attributes, rng, count, given=None, start=0):
        index, levels = self.index(), self.levels()
        n = index.present  # a range is drawn among the values that are there
        out, redrawn = [], 0
        for i in range(count):
            if given is not None:
                lo, hi = map(float, given[i])
                if len(index.ids(lo, hi)) >= MIN_VALID:
                    out.append((lo, hi))
                    continue
                redrawn += 1
            m = min(n, max(MIN_VALID, int(round(levels[(start + i) % len(levels)] * self.n))))
            side = rng.random()
            if side < 1 / 8:
                lo, hi = -np.inf, index.sorted[m - 1]
            elif side < 2 / 8:
                lo, hi = index.sorted[n - m], np.inf
            else:
                first = int(rng.integers(0, n - m + 1))
                lo, hi = index.sorted[first], index.sorted[first + m - 1]
            out.append((float(lo), float(hi)))
        return out, redrawn

    def store(self, operands, prefix):
        lo, hi = (np.array([o[j] for o in operands], dtype=np.float64) for j in (0, 1))
        return {f"{prefix}/lo": lo, f"{prefix}/hi": hi}

    def load(self, f, prefix, nq):
        lo, hi = f[f"{prefix}/lo"][()].astype(np.float64), f[f"{prefix}/hi"][()].astype(np.float64)
        if lo.shape != (nq,) or hi.shape != (nq,):
            raise ValueError(f"'{prefix}/lo' and '{prefix}/hi' must hold {nq} values")
        if np.isnan(lo).any() or np.isnan(hi).any():
            query = int(np.flatnonzero(np.isnan(lo) | np.isnan(hi))[0])
            raise ValueError(f"'{prefix}/lo' or '{prefix}/hi' is NaN at query {query} (an open side is -inf or inf)")
        if np.any(lo > hi):
            query = int(np.flatnonzero(lo > hi)[0])
            raise ValueError(f"query {query}: the range is empty, lo {lo[query]:g} > hi {hi[query]:g} "
                             f"({int(np.sum(lo > hi))} such queries)")
        return list(zip(lo.tolist(), hi.tolist()))

    def groups(self, operands):
        """The queries of each target level: the one nearest (in log scale) their selectivity."""
        index, levels = self.index(), np.array(self.levels())
        selectivity = np.array([max(len(index.ids(lo, hi)), 1) / self.n for lo, hi in operands])
        nearest = np.abs(np.log(selectivity)[:, None] - np.log(levels)[None]).argmin(axis=1)
        return {level_name(level): nearest == j for j, level in enumerate(levels)}


KIND = Range
