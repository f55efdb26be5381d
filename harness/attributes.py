"""The attributes of base vectors that predicates read.

    LabelAttribute     a set of labels per vector (CSR rows of label ids, with a vocabulary of
                       names): `labels` (e.g. category=cs.DB, year=2015), `fixed` (the
                       fixed-length labels of the FANNS paper's fixed-length equality)
    NumericAttribute   one number per vector, int or float (a date in days, a year, a price)

In a dataset file they live under one group, `attributes/<name>/`; which arrays it holds says
its kind:

    attributes/<name>/indptr, indices, vocabulary      a label attribute (CSR)
    attributes/<name>/values, unit                     a numeric attribute; unit (one string) says
                                                       what a value is ("days since 1970-01-01")

The query items' own values (what workloads are drawn from) live under `query_attributes/<name>/`
in the same layout. Files written before attributes existed keep `labels/`, `test_labels/` and
`scenarios/fixed_equality/base_labels/`; harness.dataset reads them as the attributes `labels`
and `fixed`.
"""
import datetime

import numpy as np

LABELS, NUMERIC = "labels", "numeric"


class Csr:
    """Label sets as CSR: row i is indices[indptr[i]:indptr[i+1]]."""

    def __init__(self, indptr, indices, vocabulary=None):
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.indices = np.asarray(indices, dtype=np.int32)
        self.vocabulary = vocabulary

    @staticmethod
    def from_rows(rows, vocabulary=None):
        rows = [np.unique(np.asarray(r, dtype=np.int64)) for r in rows]
        indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
        indices = np.concatenate(rows).astype(np.int32) if rows else np.zeros(0, np.int32)
        return Csr(indptr, indices, vocabulary)

    def __len__(self):
        return len(self.indptr) - 1

    def row(self, i):
        return self.indices[self.indptr[i]:self.indptr[i + 1]]

    def rows(self):
        return [self.row(i) for i in range(len(self))]

    def sizes(self):
        return np.diff(self.indptr)

    def take(self, ids):
        """The rows `ids` (each sorted and distinct), as a new Csr with the same vocabulary; one
        vectorised pass (a row at a time took minutes at 10M rows)."""
        ids = np.asarray(ids, dtype=np.int64)
        owner, values = gather_rows(self.indptr, self.indices, ids)
        if np.all((np.diff(values) > 0) | (np.diff(owner) != 0)):  # rows already sorted and distinct: no sort
            return Csr(np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=len(ids)))]), values, self.vocabulary)
        width = max(self.n_labels, int(values.max()) + 1 if len(values) else 0, 1)
        key = np.unique(owner * width + values)  # sorted by row, then label; repeats gone
        indptr = np.searchsorted(key // width, np.arange(len(ids) + 1))
        return Csr(indptr, key % width, self.vocabulary)

    def concat(self, other):
        """This Csr's rows, then other's."""
        return Csr(np.concatenate([self.indptr, self.indptr[-1] + other.indptr[1:]]),
                   np.concatenate([self.indices, other.indices]), self.vocabulary)

    @property
    def n_labels(self):
        if self.vocabulary is not None:
            return len(self.vocabulary)
        return int(self.indices.max()) + 1 if len(self.indices) else 0


def gather_rows(indptr, indices, rows):
    """(owner, value) of every entry of the CSR rows `rows`, in order: owner j for rows[j]."""
    rows = np.asarray(rows, dtype=np.int64)
    starts, lengths = indptr[rows], indptr[rows + 1] - indptr[rows]
    owner = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
    within = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return owner, np.asarray(indices)[np.repeat(starts, lengths) + within].astype(np.int64)


class LabelAttribute(Csr):
    """A label set per vector; a Csr with a name."""
    kind = LABELS

    def __init__(self, name, indptr, indices, vocabulary=None):
        super().__init__(indptr, indices, vocabulary)
        self.name = name
        self.indexes = {}  # what predicates build from it once, by index kind (Predicate.index)

    @classmethod
    def of(cls, name, csr):
        return cls(name, csr.indptr, csr.indices, csr.vocabulary)

    def take(self, ids):
        return LabelAttribute.of(self.name, Csr.take(self, ids))

    def label_name(self, label):
        return self.vocabulary[label] if self.vocabulary is not None and 0 <= label < len(self.vocabulary) \
            else str(label)

    def arrays(self, prefix):
        out = {f"{prefix}/indptr": self.indptr, f"{prefix}/indices": self.indices}
        if self.vocabulary is not None:
            out[f"{prefix}/vocabulary"] = list(self.vocabulary)
        return out


EPOCH_DAYS = "days since 1970-01-01"  # the unit of dates


class NumericAttribute:
    """A number per vector."""
    kind = NUMERIC

    def __init__(self, name, values, unit=""):
        self.name = name
        self.indexes = {}  # what predicates build from it once, by index kind (Predicate.index)
        self.values = np.asarray(values)
        if self.values.dtype.kind not in "iuf":
            raise ValueError(f"numeric attribute '{name}': values of dtype {self.values.dtype}, not numbers")
        self.unit = unit

    def __len__(self):
        return len(self.values)

    def take(self, ids):
        return NumericAttribute(self.name, self.values[np.asarray(ids, dtype=np.int64)], self.unit)

    def text(self, x):
        """A value as people read it: a date for days since 1970-01-01, else the number."""
        if self.unit == EPOCH_DAYS and np.isfinite(x):
            return (datetime.date(1970, 1, 1) + datetime.timedelta(days=int(np.floor(x)))).isoformat()
        if isinstance(x, (float, np.floating)) and float(x).is_integer() and abs(x) < 1e15:
            return str(int(x))
        return f"{x:g}" if isinstance(x, (float, np.floating)) else str(x)

    def arrays(self, prefix):
        return {f"{prefix}/values": self.values, f"{prefix}/unit": [self.unit or ""]}


def attribute_arrays(group, attributes):
    """The arrays of named attributes under `group` ("attributes" or "query_attributes")."""
    arrays = {}
    for name, attribute in attributes.items():
        arrays.update(attribute.arrays(f"{group}/{name}"))
    return arrays
