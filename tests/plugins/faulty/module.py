"""Plugins that misbehave on purpose, to test that the harness records each fault and goes on."""
import os
import sys
import time

import numpy as np

from algorithms.bruteforce.module import BruteForce


class Crash(BruteForce):
    def fit(self, X, attribute):
        raise RuntimeError("index construction exploded")


class Hang(BruteForce):
    def fit(self, X, attribute):
        time.sleep(3600)


class Slow(BruteForce):
    """Exact, after a few seconds of building: time to lose its process mid-build."""

    def fit(self, X, attribute):
        time.sleep(4)
        super().fit(X, attribute)


class HardExit(BruteForce):
    def fit(self, X, attribute):
        os._exit(3)


class FailsOnePass(BruteForce):
    """Fails only with query argument bad=1; the other pass must still be recorded."""

    def set_query_arguments(self, bad=0):
        self.bad = bad

    def filtered_query(self, q, k, filter, valid):
        if self.bad:
            raise ValueError("cannot search with bad=1")
        return super().filtered_query(q, k, filter, valid)


class IgnoresFilter(BruteForce):
    """Returns the unfiltered nearest neighbours, twice the first one, and one id past the end."""

    def filtered_query(self, q, k, filter, valid):
        ids = super().filtered_query(q, k, filter, None)
        return np.concatenate([ids[:1], ids[:k - 2], [self.n + 5]])


class ExitsMidPass(BruteForce):
    """Exits with code 5, without a word, in its second pass (step=1)."""

    def set_query_arguments(self, step=0):
        self.step = step

    def filtered_query(self, q, k, filter, valid):
        if self.step == 1:
            os._exit(5)
        return super().filtered_query(q, k, filter, valid)


class ExitsClean(BruteForce):
    """Exits with code 0 before writing any result."""

    def filtered_query(self, q, k, filter, valid):
        os._exit(0)


class FloatIds(BruteForce):
    """Returns its (correct) ids as floats plus 0.9: a harness that coerced them would score 1.0."""

    def filtered_query(self, q, k, filter, valid):
        return super().filtered_query(q, k, filter, valid) + 0.9


class WrongExact(BruteForce):
    """Declared exact, but skips the nearest valid vector: the harness must flag itself."""

    def filtered_query(self, q, k, filter, valid):
        return super().filtered_query(q, k + 1, filter, valid)[1:]


class HangsSecondPass(BruteForce):
    """Finishes its first pass (step=0), then hangs in the second: for stopping a sweep midway."""

    def set_query_arguments(self, step=0):
        self.step = step

    def filtered_query(self, q, k, filter, valid):
        if self.step == 1:
            time.sleep(3600)
        return super().filtered_query(q, k, filter, valid)


class Forger(BruteForce):
    """Writes, into its own output directory, what a plugin must never get into the results: a
    result for another plugin (`victim`, QPS 1e12), a failure record for another (`crash`), its own
    pass's failure report as a symlink to a file of the host, and a stray file; and looks for the
    ground truth in the dataset it was given (there must be none). Its own result is written by
    the worker as usual."""

    def __init__(self, distance, victim="good"):
        super().__init__(distance)
        self.victim = victim

    def fit(self, X, attribute):
        import json

        import h5py
        super().fit(X, attribute)
        argv = sys.argv
        out, dataset = argv[argv.index("--out") + 1], argv[argv.index("--dataset") + 1]
        with open(argv[argv.index("--job") + 1]) as f:
            job = json.load(f)
        workload, k = job["workload"], job["todo"][0]["k"]
        with h5py.File(dataset, "r") as f:
            found = [name for name in ("neighbors", "scenarios/containment/neighbors") if name in f]
        print(f"forger: ground truth in the worker's dataset: {found or 'none'}", flush=True)
        n = len(job["query_ids"])
        target = os.path.join(out, workload, "containment", f"k={k}", self.victim, "default__default.hdf5")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with h5py.File(target, "w") as f:
            for key, value in {"algorithm": self.victim, "plugin": "faulty", "build_args": "{}", "query_args": "{}",
                               "scenario": "containment", "k": k, "workload": workload, "dataset": job["dataset"],
                               "dataset_hash": job["dataset_hash"], "code_hash": job["code_hash"], "mode": job["mode"],
                               "exact": True, "queries": n, "qps": 1e12}.items():
                f.attrs[key] = value
            f["neighbors"] = np.zeros((n, k), dtype=np.int64)
            f["times"] = np.full(n, 1e-12)
            f["filter_times"] = np.zeros(n)
            f["query_ids"] = np.asarray(job["query_ids"])
        record = os.path.join(out, workload, "failed", f"k={k}", "crash", "default.json")
        os.makedirs(os.path.dirname(record), exist_ok=True)
        with open(record, "w") as f:
            json.dump({"algorithm": "crash", "reason": "forged", "dataset_hash": job["dataset_hash"],
                       "code_hash": job["code_hash"]}, f)
        own = os.path.join(out, workload, "failed", f"k={k}", "forger", f"{job['todo'][0]['run_name']}__containment.json")
        os.makedirs(os.path.dirname(own), exist_ok=True)
        os.symlink("/etc/hostname", own)
        with open(os.path.join(out, "stray.txt"), "w") as f:
            f.write("not a result")


class Tamperer(BruteForce):
    """After its pass, rewrites its own finished result to claim a QPS of 1e12."""

    def done(self):
        import h5py
        out = sys.argv[sys.argv.index("--out") + 1]
        for dirpath, _, names in os.walk(out):
            for name in names:
                if name.endswith(".hdf5"):
                    with h5py.File(os.path.join(dirpath, name), "r+") as f:
                        f.attrs["qps"] = 1e12
