"""Plugins that misbehave on purpose, to test that the harness records each fault and goes on."""
import os
import time

import numpy as np

from algorithms.bruteforce.module import BruteForce


class Crash(BruteForce):
    def fit(self, X, labels):
        raise RuntimeError("index construction exploded")


class Hang(BruteForce):
    def fit(self, X, labels):
        time.sleep(3600)


class HardExit(BruteForce):
    def fit(self, X, labels):
        os._exit(3)


class FailsOnePass(BruteForce):
    """Fails only with query argument bad=1; the other pass must still be recorded."""

    def set_query_arguments(self, bad=0):
        self.bad = bad

    def filtered_query(self, q, k, query_labels, scenario, valid):
        if self.bad:
            raise ValueError("cannot search with bad=1")
        return super().filtered_query(q, k, query_labels, scenario, valid)


class IgnoresFilter(BruteForce):
    """Returns the unfiltered nearest neighbours, twice the first one, and one id past the end."""

    def filtered_query(self, q, k, query_labels, scenario, valid):
        ids = super().filtered_query(q, k, query_labels, scenario, None)
        return np.concatenate([ids[:1], ids[:k - 2], [self.n + 5]])
