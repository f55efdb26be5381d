"""Plugins that try what a container must not allow, or fail in the ways a container can fail.
Self-contained: their image holds only the harness and this folder. Outside a container they
refuse to start: run locally, writes-dataset would really write into the dataset."""
import os
import socket
import sys
import time

import numpy as np

from algorithms.base import FilteredANN
from harness.filters import bitset_to_ids
from tests.plugins.faulty.module import Forger  # noqa: F401 (a plugin of this image too)

SENTINEL = "/var/tmp/filterbench-host-sentinel"  # written on the host by the test, never mounted
PORT = 47391  # the test listens here on the host's loopback


class Exact(FilteredANN):
    def __init__(self, distance, **kw):
        if not os.path.exists("/.dockerenv"):
            raise RuntimeError("container-only test plugin: refusing to run outside a container")
        super().__init__(distance, **kw)

    def fit(self, X, attribute):
        self.X, self.n = np.asarray(X, dtype=np.float32), len(X)

    def filtered_query(self, q, k, filter, valid):
        ids = np.arange(self.n) if valid is None else bitset_to_ids(valid, self.n)
        d = ((self.X[ids] - q) ** 2).sum(1)
        return ids[np.argsort(d, kind="stable")[:k]]


class OpensNetwork(Exact):
    def fit(self, X, attribute):
        socket.create_connection(("127.0.0.1", PORT), timeout=5).close()
        super().fit(X, attribute)


class WritesDataset(Exact):
    def fit(self, X, attribute):
        with open(sys.argv[sys.argv.index("--dataset") + 1], "r+b") as f:
            f.write(b"x")
        super().fit(X, attribute)


class ReadsHostFile(Exact):
    def fit(self, X, attribute):
        open(SENTINEL).read()
        super().fit(X, attribute)


class Sleeps(Exact):
    def fit(self, X, attribute):
        time.sleep(3600)


class Allocates(Exact):
    def fit(self, X, attribute):
        block = np.ones(2 ** 31, dtype=np.uint8)  # 2 GiB, every page touched
        super().fit(X, attribute)
        del block


class Raises(Exact):
    def fit(self, X, attribute):
        raise RuntimeError("plugin gave up")


class ReportsLimits(Exact):
    """Fails on purpose with what the container allows it: effective capabilities, whether it may
    gain privileges, and its pids and memory limits (cgroup v1 or v2)."""

    def fit(self, X, attribute):
        status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)

        def first(*paths):
            for path in paths:
                if os.path.exists(path):
                    return open(path).read().strip()
            return "?"
        pids = first("/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max")
        memory = first("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
        raise RuntimeError(f"CapEff={status['CapEff'].strip()} NoNewPrivs={status['NoNewPrivs'].strip()} "
                           f"pids={pids} memory={memory} uid={os.getuid()}")
