"""The standard filter map, and the postings label predicates build it from.

The *filter map* of a query is a little-endian packed uint8 bitset over the base (bit i of
byte i >> 3 is vector i), the form `np.packbits(mask, bitorder="little")` gives and faiss'
IDSelectorBitmap reads: bit i is set when base vector i passes the query's predicate. Each
predicate kind builds it its own way (harness.predicates); the label kinds from the per-label
postings here: sorted id lists for rare labels and dense bitsets only for frequent ones, so that
a vocabulary of 200,000 labels fits in memory, and one more posting per set size.
"""
import numpy as np

UNFILTERED = "unfiltered"  # the pseudo-scenario every dataset has: no predicate at all


_BIT = np.array([1 << b for b in range(8)], dtype=np.uint8)


def bitset_bytes(n):
    return (n + 7) // 8


def ids_to_bitset(ids, n, out=None):
    """Sets the bits of `ids` in a packed bitset over n items (ORs into `out`)."""
    if out is None:
        out = np.zeros(bitset_bytes(n), dtype=np.uint8)
    np.bitwise_or.at(out, ids >> 3, _BIT[ids & 7])  # unbuffered: ids sharing a byte all land
    return out


def bits_test(bitset, ids):
    """Boolean array: is bit ids[j] set?"""
    return (bitset[ids >> 3] & _BIT[ids & 7]) != 0


def bitset_to_ids(bitset, n):
    """Sorted ids of the set bits (unpacks only the non-zero bytes: fast for sparse maps)."""
    nonzero = np.flatnonzero(bitset)
    rows, bits = np.nonzero(np.unpackbits(bitset[nonzero][:, None], axis=1, bitorder="little"))
    return nonzero[rows] * 8 + bits


def popcount(bitsets):
    """Number of set bits, along the last axis."""
    if not hasattr(np, "bitwise_count"):  # numpy 1.x: the filtered-diskann image (diskannpy pins numpy 1.25)
        return np.unpackbits(bitsets, axis=-1).sum(axis=-1, dtype=np.int64)
    return np.bitwise_count(bitsets).sum(axis=-1, dtype=np.int64)


class LabelIndex:
    """Per-label postings over one base-label assignment; builds filter maps for queries."""

    def __init__(self, indptr, indices, n_labels=None):
        indptr = np.asarray(indptr, dtype=np.int64)
        indices = np.asarray(indices)
        self.n = n = len(indptr) - 1
        self.n_labels = int(n_labels if n_labels is not None else (indices.max() + 1 if len(indices) else 0))
        sizes = np.diff(indptr)
        # Set sizes become extra labels n_labels + s, so equality is containment plus one posting.
        self.max_size = int(sizes.max()) if n else 0
        # Rows come in order and each row's labels after the last row's, so a stable sort by label
        # alone lists each posting's ids in increasing order. int32 where it fits: at yfcc-10M there
        # are 118M entries, and int64 throughout (with a lexsort) took 5.9 GB more while it built.
        all_labels = np.concatenate([indices, self.n_labels + sizes]).astype(np.int32)
        counts = np.bincount(all_labels, minlength=self.n_labels + self.max_size + 1)
        order = np.argsort(all_labels, kind="stable")
        del all_labels
        all_rows = np.concatenate([np.repeat(np.arange(n, dtype=np.int32), sizes), np.arange(n, dtype=np.int32)])
        self.counts = counts
        self.postings_ptr = np.concatenate([[0], np.cumsum(counts)])
        self.postings = all_rows[order]
        del all_rows, order
        self._ptr = self.postings_ptr.tolist()  # Python lists: cheaper to index per query
        self._count = counts.tolist()
        # A dense bitset costs n/8 bytes, a posting list 4 bytes an id: keep dense only where smaller.
        self.dense_min_count = max(1, n // 32)
        self.dense = {int(label): ids_to_bitset(self.posting(label), n)
                      for label in np.flatnonzero(counts >= self.dense_min_count)}
        self._all = np.zeros(bitset_bytes(n), dtype=np.uint8)
        self._all[: n // 8] = 0xFF
        if n % 8:
            self._all[n // 8] = (1 << (n % 8)) - 1

    def posting(self, label):
        return self.postings[self._ptr[label]:self._ptr[label + 1]]

    def nbytes(self):
        return self.postings.nbytes + sum(b.nbytes for b in self.dense.values())

    def _intersection(self, labels):
        """Bitset of the items that carry every label in `labels` (internal label ids)."""
        ids, bits = self._matching(labels)
        return bits if ids is None else ids_to_bitset(ids, self.n)

    def _matching(self, labels):
        """(ids, None) or (None, bitset) of the items that carry every label in `labels`: the ids
        where a posting list narrows it, a bitset where every label is frequent."""
        if not labels:
            return None, self._all.copy()
        labels = sorted(labels, key=self._count.__getitem__)
        if self._count[labels[0]] == 0:
            return np.zeros(0, dtype=np.int64), None
        if labels[0] in self.dense:  # every label is frequent: AND the bitsets
            out = self.dense[labels[0]].copy()
            for label in labels[1:]:
                np.bitwise_and(out, self.dense[label], out=out)
            return None, out
        ids = self.posting(labels[0])  # the rarest list, narrowed by each other label
        for label in labels[1:]:
            if len(ids) == 0:
                break
            if label in self.dense:
                ids = ids[bits_test(self.dense[label], ids)]
            else:
                other = self.posting(label)
                pos = np.searchsorted(other, ids)
                pos[pos == len(other)] = 0
                ids = ids[other[pos] == ids]
        return ids, None

    def count_all_of(self, labels):
        """How many items carry every label: all_of's popcount, without a bitset where a posting
        list answers (drawing 10,000 workloads at 10M made a 1.25 MB bitset per candidate)."""
        labels = {int(x) for x in labels}
        if any(not 0 <= x < self.n_labels for x in labels):
            return 0
        if len(labels) == 1:
            return int(self._count[labels.pop()])
        ids, bits = self._matching(labels)
        return int(popcount(bits)) if ids is None else len(ids)

    def all_of(self, labels, size=None):
        """Bitset of the items that carry every label (a label this index does not know: none),
        and with `size`, exactly that many labels (the set-size postings)."""
        labels = {int(x) for x in labels}
        if any(not 0 <= x < self.n_labels for x in labels):
            return np.zeros_like(self._all)
        if size is not None:
            if not 0 <= size <= self.max_size:
                return np.zeros_like(self._all)
            labels.add(self.n_labels + size)
        return self._intersection(labels)

    def any_of(self, labels):
        """Bitset of the items that carry at least one of the labels."""
        out = np.zeros_like(self._all)
        for label in {int(x) for x in labels}:
            if not 0 <= label < self.n_labels:
                continue
            if label in self.dense:
                np.bitwise_or(out, self.dense[label], out=out)
            else:
                ids_to_bitset(self.posting(label), self.n, out=out)
        return out
