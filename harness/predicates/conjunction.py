"""and: every part holds, e.g. "labels contain category=cs.DB and 2015 <= year <= 2019".

Spec: {"kind": "and", "parts": [spec, spec, ...]}. Operands: a tuple, one per part; a plugin
receives Filter("and", "", (part filter, ...)). Filter map: the AND of the parts' maps. Workload:
each part draws as it does alone (a label part from the query item's own labels, a range at its
levels); a query whose parts together pass fewer than MIN_VALID vectors draws again.
Groups: the parts' groups.
"""
import numpy as np

from harness.predicates import MIN_VALID, Filter, Predicate, make

ATTEMPTS = 200


class Conjunction(Predicate):
    kind = "and"
    reads = ""
    words = "every part holds (e.g. a label predicate and a range)"

    def __init__(self, spec, attributes):
        super().__init__(spec, attributes)
        parts = spec.get("parts")
        if not isinstance(parts, list) or len(parts) < 2:
            raise ValueError(f"'and' needs a list of at least two parts, got {parts!r}")
        self.parts = [make(part, attributes) for part in parts]

    @property
    def n(self):
        return self.parts[0].n

    def prepare(self):
        for part in self.parts:
            part.prepare()

    def filter_map(self, operands):
        out = self.parts[0].filter_map(operands[0]).copy()
        for part, o in zip(self.parts[1:], operands[1:]):
            np.bitwise_and(out, part.filter_map(o), out=out)
        return out

    def passes_many(self, ids, owners, operands):
        ok = np.ones(len(ids), dtype=bool)
        for p, part in enumerate(self.parts):
            ok &= part.passes_many(ids, owners, [o[p] for o in operands])
        return ok

    def describe(self, operands):
        return " and ".join(part.describe(o) for part, o in zip(self.parts, operands))

    def about(self):
        return " and ".join(part.about() for part in self.parts)

    def filter(self, operands):
        return Filter(self.kind, "", tuple(part.filter(o) for part, o in zip(self.parts, operands)))

    def draw(self, query_attributes, rng, count, given=None, start=0):
        out, redrawn = [], 0
        for i in range(count):
            if given is not None and self.valid_count(tuple(given[i])) >= MIN_VALID:
                out.append(tuple(given[i]))
                continue
            redrawn += given is not None
            own = {name: attribute.take([i]) for name, attribute in query_attributes.items()}
            for attempt in range(ATTEMPTS):
                operands = tuple(part.draw(own, rng, 1, start=start + i)[0][0] for part in self.parts)
                if self.valid_count(operands) >= MIN_VALID:
                    break
            else:
                raise ValueError(f"and: no {' and '.join(p.kind for p in self.parts)} found that {MIN_VALID} base "
                                 f"vectors pass in {ATTEMPTS} draws")
            redrawn += given is None and attempt > 0
            out.append(operands)
        return out, redrawn

    def store(self, operands, prefix):
        arrays = {}
        for j, part in enumerate(self.parts):
            arrays.update(part.store([o[j] for o in operands], f"{prefix}/part{j}"))
        return arrays

    def load(self, f, prefix, nq):
        return list(zip(*(part.load(f, f"{prefix}/part{j}", nq) for j, part in enumerate(self.parts))))

    def groups(self, operands):
        out = {}
        for j, part in enumerate(self.parts):
            out.update(part.groups([o[j] for o in operands]))
        return out


KIND = Conjunction
