"""What the label kinds (containment, overlap, equality) share: operands are the query's label ids
(a sorted np.int32 array), stored as CSR rows; filter maps come from the attribute's postings
(harness.filters.LabelIndex); workloads come from the query items' own labels (the FANNS paper,
section 5), so query label sets follow the base's label distribution; groups by label count."""
import numpy as np

from harness.attributes import LABELS, Csr, gather_rows
from harness.filters import LabelIndex, popcount
from harness.predicates import MIN_VALID, Predicate

ATTEMPTS = 10  # draws from the query item's own labels before falling back to random base items


class LabelPredicate(Predicate):
    reads = LABELS
    verb = ""  # "contain", "overlap", "equal": "labels contain cs.DB"

    index_kind = "label postings"

    def make_index(self):
        return LabelIndex(self.attribute.indptr, self.attribute.indices, self.attribute.n_labels)

    def candidate(self, labels, rng):
        """A label set drawn from one item's labels (None: the item has none to draw from)."""
        raise NotImplementedError

    def describe(self, operands):
        names = " and ".join(self.attribute.label_name(int(x)) for x in operands) or "no label"
        return f"{self.name} {self.verb} {names}"

    def about(self):
        return f"{self.name} {self.verb} the query's labels"

    def draw(self, query_attributes, rng, count, given=None, start=0):
        """One label set per query from the query item's own labels; one that passes fewer than
        MIN_VALID base vectors is redrawn (another subset, then the labels of random base items).
        `given`: label sets to keep as they are where they pass enough (a published workload)."""
        own = query_attributes.get(self.name)
        if own is None and given is None:
            raise ValueError(f"{self.kind} over '{self.name}' draws from the query items' own labels, "
                             f"and the queries have none")
        out, redrawn = [], 0
        for i in range(count):
            chosen = None
            for attempt in range(ATTEMPTS + 1000):
                source = own.row(i) if own is not None and attempt < ATTEMPTS else \
                    self.attribute.row(int(rng.integers(len(self.attribute))))
                cand = np.sort(np.asarray(given[i])) if given is not None and attempt == 0 else self.candidate(source, rng)
                if cand is not None and self.passing_count(cand) >= MIN_VALID:
                    chosen = cand
                    break
            if chosen is None:
                raise NoWorkload(f"{self.kind} over '{self.name}': no label set found that {MIN_VALID} base "
                                 f"vectors pass")
            redrawn += attempt > 0
            out.append(np.asarray(chosen, dtype=np.int32))
        return out, redrawn

    def passing_count(self, operands):
        """How many base vectors pass (the workload's MIN_VALID check)."""
        return int(popcount(self.filter_map(operands)))

    def store(self, operands, prefix):
        csr = Csr.from_rows(operands)
        return {f"{prefix}/indptr": csr.indptr, f"{prefix}/indices": csr.indices}

    def load(self, f, prefix, nq):
        indptr = f[f"{prefix}/indptr"][()].astype(np.int64)
        indices = f[f"{prefix}/indices"][()].astype(np.int64)
        if len(indptr) != nq + 1 or indptr[0] != 0 or np.any(np.diff(indptr) < 0) or indptr[-1] != len(indices):
            raise ValueError(f"'{prefix}/indptr' must have {nq + 1} entries, start at 0, never decrease and end "
                             f"at len(indices)={len(indices)}")
        limit = self.attribute.n_labels
        if len(indices) and (indices.min() < 0 or indices.max() >= limit):
            raise ValueError(f"'{prefix}/indices' has label ids outside [0, {limit}): min {indices.min()}, "
                             f"max {indices.max()}")
        return [np.sort(indices[indptr[i]:indptr[i + 1]]).astype(np.int32) for i in range(nq)]

    def groups(self, operands):
        """The FANNS paper's query label lengths: 1, 2 to 3, 4 or more labels."""
        counts = np.array([len(o) for o in operands])
        return {"labels_short": counts == 1, "labels_medium": (counts >= 2) & (counts <= 3),
                "labels_long": counts >= 4}

    def shared_labels(self, ids, owners, operands):
        """Per base id j: how many distinct labels of the query operands[owners[j]] it holds, how
        many distinct labels it has, and how many distinct labels that query has. One pass over
        the ids' CSR rows and the queries' labels for every pair at once (the evaluator checks
        every returned id of a result: a loop per id, then per query, cost more than the search)."""
        a = self.attribute
        ids, owners = np.asarray(ids, dtype=np.int64), np.asarray(owners, dtype=np.int64)
        query = Csr.from_rows([np.unique(np.asarray(o, dtype=np.int64)) for o in operands])
        width = max(a.n_labels, int(query.indices.max()) + 1 if len(query.indices) else 0)
        held = np.unique(_pair_keys(a.indptr, a.indices, ids, width))
        wanted = _pair_keys(query.indptr, query.indices, owners, width)
        held_pair = held // width
        shared = np.bincount(held_pair, weights=np.isin(held, wanted), minlength=len(ids)).astype(np.int64)
        return shared, np.bincount(held_pair, minlength=len(ids)), np.diff(query.indptr)[owners]


def _pair_keys(indptr, indices, rows, width):
    """j * width + label for every label of CSR row rows[j], for all j at once."""
    pair, labels = gather_rows(indptr, indices, rows)
    return pair * width + labels


class NoWorkload(Exception):
    """No operands with enough valid vectors exist on this base (tiny samples)."""


def subset(labels, rng, largest=3):
    """1 to `largest` of the labels, at random (containment and overlap draw these)."""
    if len(labels) == 0:
        return None
    size = int(rng.integers(1, min(len(labels), largest) + 1))
    return np.sort(rng.choice(labels, size, replace=False))
