"""Predicates: what a filtered query asks of the attributes of a base vector (harness.attributes).

A scenario of a dataset is a named predicate over its attributes, stored with it as a spec:

    {"kind": "containment", "attribute": "labels"}                  L_q ⊆ L_i
    {"kind": "overlap",     "attribute": "labels"}                  L_q ∩ L_i ≠ ∅
    {"kind": "equality",    "attribute": "fixed"}                   L_i = L_q
    {"kind": "range",       "attribute": "date"}                    lo <= x_i <= hi (a side may be open)
    {"kind": "and", "parts": [{"kind": "containment", "attribute": "labels"},
                              {"kind": "range", "attribute": "year"}]}   every part holds

and per query its operands (the query's labels; lo and hi; the parts' operands). Each kind lives in
one module of this package, the only place that knows its semantics: its filter map (the bitset of
the base vectors that pass), its exact check (the evaluator's violation counts), how its
workloads are drawn, how its operands are stored, its query groups, and how it reads in words.
The modules are found by name: adding a kind is adding a module here that defines `KIND`, and a
test module tests/test_predicate_<kind>.py.

Plugins receive a query's predicate as a Filter (kind, attribute, operands) beside its filter map.
"""
import importlib
import json
import pkgutil
from dataclasses import dataclass

import numpy as np

from harness.filters import bitset_bytes, popcount

MIN_VALID = 10  # a drawn query must leave at least this many valid base vectors


@dataclass(frozen=True, eq=False)
class Filter:
    """One query's predicate, as plugins receive it.

    kind       "containment", "overlap", "equality", "range", "and" (or a kind added later)
    attribute  the name of the attribute it reads ("" for "and")
    operands   what the kind's module says: the query's label ids (np.int32 array) for the label
               kinds, (lo, hi) for range (an open side is -inf or inf), a tuple of Filters for "and"
    """
    kind: str
    attribute: str
    operands: object

    def __repr__(self):
        return f"Filter({self.kind!r}, {self.attribute!r}, {self.operands!r})"


class Predicate:
    """A kind applied to an attribute of a dataset (its spec's "attribute"). A kind's module
    subclasses this and sets KIND to the subclass. Operands of a query are kind-specific objects;
    a scenario holds a list of them, one per query."""

    kind = ""        # its name in specs, results and the plugin API
    reads = ""       # the attribute kind it reads: "labels" or "numeric" ("" for composites)
    words = ""       # the kind in general, for the site's method page

    def __init__(self, spec, attributes):
        self.spec = spec
        name = spec.get("attribute", "")
        if self.reads and name not in attributes:
            raise ValueError(f"{self.kind} reads attribute '{name}', which the dataset does not have")
        self.attribute = attributes.get(name)
        if self.reads and self.attribute.kind != self.reads:
            raise ValueError(f"{self.kind} reads a {self.reads} attribute, and '{name}' is {self.attribute.kind}")
        self._index = None

    @property
    def name(self):
        return self.spec.get("attribute", "")

    @property
    def n(self):
        return len(self.attribute)

    def index(self):
        """What filter maps are built from (postings, a sorted order), made once per attribute and
        `index_kind`: predicates that read one attribute the same way share it (the label kinds all
        read its postings: at yfcc-10M those of `labels` take 0.5 GB and 21 s, and two scenarios read them)."""
        if self._index is None:
            made = self.attribute.indexes
            if self.index_kind not in made:
                made[self.index_kind] = self.make_index()
            self._index = made[self.index_kind]
        return self._index

    def prepare(self):
        """Makes what filter maps are built from now, before any clock starts: else the first timed
        query pays for it (at yfcc-10M, 30 s of label postings inside the first filtered query)."""
        self.index()

    # Each kind defines these; one whose maps come from a structure built once also names it in
    # index_kind (kinds whose make_index builds the same thing from the attribute give the same name).
    index_kind = None

    def make_index(self):
        raise NotImplementedError

    def filter_map(self, operands):
        """The packed bitset (np.uint8 [ceil(n/8)], little-endian) of the base vectors that pass."""
        raise NotImplementedError

    def passes(self, ids, operands):
        """Whether each base vector in `ids` passes: the plain check, independent of filter_map."""
        ids = np.asarray(ids, dtype=np.int64)
        return self.passes_many(ids, np.zeros(len(ids), dtype=np.int64), [operands])

    def passes_many(self, ids, owners, operands):
        """passes() for many queries in one vectorised pass (the evaluator checks every returned id
        of a whole result): whether base vector ids[j] passes the query operands[owners[j]].
        ids, owners: int64 arrays of one length; operands: a list of the queries' operands."""
        raise NotImplementedError

    def describe(self, operands):
        """One query's predicate in words, e.g. "labels contain category=cs.DB"."""
        raise NotImplementedError

    def about(self):
        """The scenario's predicate in words, for any query, e.g. "lo <= date <= hi"."""
        raise NotImplementedError

    def draw(self, query_attributes, rng, count, given=None, start=0):
        """Operands for `count` queries (row i from query item i's own values where the kind
        draws from them), each passing at least MIN_VALID base vectors; returns (operands,
        number redrawn). `query_attributes`: the query items' attributes, by name; `given`:
        operands to keep where they pass enough (a published workload); `start`: the place of
        the first of these queries in the whole workload (kinds that rotate through levels)."""
        raise NotImplementedError

    def store(self, operands, prefix):
        """{HDF5 path: array} holding the operands of every query under `prefix`."""
        raise NotImplementedError

    def load(self, f, prefix, nq):
        """The operands stored under `prefix` of an open HDF5 file, one per query."""
        raise NotImplementedError

    def groups(self, operands):
        """Query groups of this kind ({name: bool mask}), e.g. by label count or range level; the
        name is what the site shows."""
        return {}

    # Shared.
    def filter(self, operands):
        """The Filter a plugin receives for one query."""
        return Filter(self.kind, self.name, operands)

    def filter_maps(self, operands):
        """Filter maps of several queries: uint8 [len(operands), ceil(n/8)]."""
        out = np.empty((len(operands), bitset_bytes(self.n)), dtype=np.uint8)
        for i, o in enumerate(operands):
            out[i] = self.filter_map(o)
        return out

    def valid_count(self, operands):
        return int(popcount(self.filter_map(operands)))

    def to_json(self):
        return json.dumps(self.spec, sort_keys=True)


def kinds():
    """{kind name: Predicate subclass} of every module of this package."""
    found = {}
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            kind = getattr(importlib.import_module(f"{__name__}.{module.name}"), "KIND", None)
            if kind is not None:
                found[kind.kind] = kind
    return found


_KINDS = None


def make(spec, attributes):
    """The Predicate of a spec ({"kind": ..., "attribute": ...} or {"kind": "and", "parts": [...]})
    over a dataset's attributes; ValueError names what is wrong."""
    global _KINDS
    _KINDS = _KINDS or kinds()
    if not isinstance(spec, dict) or spec.get("kind") not in _KINDS:
        raise ValueError(f"unknown predicate {spec!r} (kinds: {', '.join(sorted(_KINDS))})")
    return _KINDS[spec["kind"]](spec, attributes)


def kind_names():
    global _KINDS
    _KINDS = _KINDS or kinds()
    return sorted(_KINDS)


def part_kinds(spec):
    """Every kind a spec uses: itself, and for a composite its parts'."""
    return {spec["kind"]} | {k for part in spec.get("parts", []) for k in part_kinds(part)}


def part_attributes(spec):
    """The attribute names a spec reads (for a composite, its parts')."""
    return ({spec["attribute"]} if spec.get("attribute") else set()) | \
        {a for part in spec.get("parts", []) for a in part_attributes(part)}
