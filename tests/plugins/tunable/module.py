"""A plugin whose best settings are known, for harness.tune: `quality` (1 to 4) sets how many of
the exact top k it returns (quality 4: all of them), `waste` burns that many milliseconds per
query (so waste 0 is always best), `ef` at query time adds 0.25 ms per unit. Per subspace of
`quality`, the tuner must pick waste=0.

ef's cost is large enough that timing noise cannot reorder what recall already decides: quality 4
at ef 1 returns the exact top k 0.25 ms a query sooner than quality 3 at ef 2 (the cheapest setting
at which quality 3 does), several times what a busy machine jitters over a 40-query pass."""
import time

import numpy as np

from algorithms.bruteforce.module import BruteForce


class Tunable(BruteForce):
    def __init__(self, distance, quality=4, waste=0):
        super().__init__(distance)
        self.quality, self.waste = int(quality), int(waste)
        self.ef = 1

    def set_query_arguments(self, ef=1):
        self.ef = int(ef)

    def filtered_query(self, q, k, filter, valid):
        ids = super().filtered_query(q, k, filter, valid)
        keep = max(1, min(len(ids), round(len(ids) * min(1.0, (self.quality + self.ef - 1) / 4))))
        end = time.perf_counter() + self.waste * 1e-3 + self.ef * 2.5e-4
        while time.perf_counter() < end:
            pass
        return ids[:keep]
