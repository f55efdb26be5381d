"""Our native methods against their official implementations, as ratios from one run
(single-thread search, QPS at recall@10 0.9 interpolated between settings; builds on the same
threads):

    python -m benchmarks.official [--dataset arxiv] [--queries 1000] [--threads 2]
                                  [--irangegraph DIR]

For each range scenario of the dataset (arxiv: range-date; random-filter-s: range and
range-correlated) it builds our iRangeGraph (M=16, ef_construction 100) and sweeps its search
list three ways: its default (a range scanned where that is expected to be cheaper, 64 entries
spread through the range), the graph alone, and the graph alone entered once per segment of the
range's cover in the segment tree (entry_points 'cover', as the paper does). It prints each one's
QPS at recall 0.9 per selectivity level against the baselines, faiss HNSW (M=32, efConstruction
40) with a bitmap and the bruteforce plugin, both paying for their filter map as the harness's
headline does.

--irangegraph DIR adds the official iRangeGraph (github.com/YuexuanXu7/iRangeGraph, built as
README.md says under "Against the official implementations"): the base sorted by the attribute
in its file format, the index built by its tests/buildindex on the same threads, and searched by our driver
benchmarks/drivers/irangegraph_search.cpp, compiled here against that checkout's headers with the
official flags. Its ids go through the same recall and filter check as ours, and it prints ours /
official per selectivity level and for the build (wall and CPU).

Both sides are timed without a Python call per query, in three rounds that each time every
setting of ours and of the official in turn, each level kept at its fastest round: the official
in its driver, per query (what the official search times); ours with each level's queries in one
single-thread batch call, each query given the batch's mean. The baselines
are timed one query at a time, once.
ACORN and UNG have no official adapter here yet: `python -m benchmarks.acorn` and
`python -m benchmarks.label_partitioned` measure them against the same baselines.
"""
import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from algorithms.bruteforce.module import BruteForce
from algorithms.faiss.module import FaissHNSW
from algorithms.irangegraph.module import COVER, ENTRY_POINTS, IRangeGraph
from benchmarks.common import K, TARGET, Workload, build
from benchmarks.range import EF_GRID, best, level_of
from datasets import ensure_dataset
from harness.dataset import Dataset

DRIVER = Path(__file__).parent / "drivers" / "irangegraph_search.cpp"
# The official CMakeLists.txt's flags (-Ofast is not among them), at the C++ standard it sets.
OFFICIAL_FLAGS = ["-O3", "-march=native", "-std=c++17", "-DHAVE_CXX0X", "-fpic", "-w", "-fopenmp",
                  "-ftree-vectorize"]
M, EF_CONSTRUCTION = 16, 100
REPEATS = 3  # rounds of timing, each level of each setting kept at its fastest round, on both sides


def run(cmd, what):
    """Runs an official program; its output is shown only when it fails."""
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: {what} failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-500:]}")


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class OfficialIRangeGraph:
    """The official iRangeGraph: its buildindex makes the index from the base sorted by the
    attribute; our driver searches it with our ranges, mapped to positions in that order."""

    def __init__(self, checkout, workdir):
        self.checkout, self.workdir = Path(checkout), Path(workdir)
        if not (self.checkout / "include" / "iRG_search.h").is_file():
            sys.exit(f"error: {self.checkout} is not a checkout of github.com/YuexuanXu7/iRangeGraph "
                     f"(no include/iRG_search.h)")
        self.buildindex = self.checkout / "build" / "tests" / "buildindex"
        if not self.buildindex.is_file():
            sys.exit(f"error: {self.buildindex} is missing: build it first "
                     f"(README.md, 'Against the official implementations')")
        self.driver = self.workdir / "irangegraph_search"
        run(["g++", *OFFICIAL_FLAGS, "-I", self.checkout / "include", DRIVER, "-o", self.driver, "-lrt"],
            f"compiling {DRIVER.name} against {self.checkout}")

    def fit(self, X, attribute, distance, threads):
        """Builds the official index; returns (wall seconds, CPU seconds)."""
        values = np.asarray(attribute.values, dtype=np.float64)
        self.order = np.argsort(values, kind="stable")  # missing values (NaN) last, in no range
        self.sorted_values = values[self.order]
        self.angular = distance == "angular"
        self.data = self.workdir / "data.bin"
        self.index = self.workdir / "index.bin"
        self._write(self.data, self._rows(X[self.order]))
        cpu, t0 = children_cpu(), time.perf_counter()
        run([self.buildindex, "--data_path", self.data, "--index_file", self.index, "--M", M,
             "--ef_construction", EF_CONSTRUCTION, "--threads", threads], "the official buildindex")
        return time.perf_counter() - t0, children_cpu() - cpu

    def _rows(self, X):
        # The official index measures L2; on unit vectors that ranks as the angle does.
        X = np.asarray(X, dtype=np.float32)
        return X / np.linalg.norm(X, axis=1, keepdims=True).clip(1e-30) if self.angular else X

    @staticmethod
    def _write(path, rows, tail=None):
        with open(path, "wb") as f:
            np.array(rows.shape, dtype=np.int32).tofile(f)
            np.ascontiguousarray(rows, dtype=np.float32).tofile(f)
            if tail is not None:
                np.ascontiguousarray(tail, dtype=np.int32).tofile(f)

    def times(self, work, efs):
        """One search of the workload per ef: (ids mapped back to base ids, seconds per query)."""
        lo, hi = np.array([f.operands for f in work.filters], dtype=np.float64).T
        first = np.searchsorted(self.sorted_values, lo, side="left")
        last = np.searchsorted(self.sorted_values, hi, side="right") - 1
        work_file, out = self.workdir / "work.bin", self.workdir / "out.bin"
        self._write(work_file, self._rows(work.Q), np.stack([first, last], axis=1))
        run([self.driver, self.data, self.index, M, work_file, out, K, *efs], "the official search")
        timed = []
        for raw in np.fromfile(out, dtype=np.uint8).reshape(len(efs), -1):
            positions = raw[:work.nq * K * 4].view(np.int32).reshape(work.nq, K)
            ids = np.where(positions >= 0, self.order[positions.clip(0)], -1)
            timed.append((ids, raw[work.nq * K * 4:].view(np.float64).copy()))
        return timed


def batched_times(work, algo, settings):
    """One search of the workload per setting: (ids, seconds per query). Each selectivity level's
    queries go to the plugin in one batch call on one thread, each query given the batch's mean."""
    levels = list(work.kind_groups.values())
    assert (np.sum(levels, axis=0) == 1).all(), "the levels must split the queries"
    algo.set_threads(1)
    timed = []
    for args in settings:
        algo.set_query_arguments(**args)
        ids, seconds = np.full((work.nq, K), -1, dtype=np.int64), np.zeros(work.nq)
        for level in levels:
            which = np.flatnonzero(level)
            t0 = time.perf_counter()
            found = algo.batch_filtered_query(work.Q[which], K, [work.filters[i] for i in which], None)
            seconds[which] = (time.perf_counter() - t0) / len(which)
            ids[which, :found.shape[1]] = found[:, :K]
        timed.append((ids, seconds))
    return timed


def keep_fastest(kept, timed, levels):
    """Per setting and selectivity level, the faster of two searches (its ids with its times)."""
    if kept is None:
        return timed
    for (ids, seconds), (new_ids, new_seconds) in zip(kept, timed):
        for level in levels:
            if new_seconds[level].sum() < seconds[level].sum():
                ids[level], seconds[level] = new_ids[level], new_seconds[level]
    return kept


def irangegraph(work, scenario, args, official):
    """official: an OfficialIRangeGraph to measure beside ours, or None."""
    ds = work.ds
    attribute = ds.scenarios[scenario].predicate.attribute
    cpu0 = time.process_time()
    ours, ours_seconds, _ = build("irangegraph", IRangeGraph(ds.distance, M=M, ef_construction=EF_CONSTRUCTION),
                                  ds.train, attribute, args.threads)
    ours_cpu = time.process_time() - cpu0
    variants = {name: [{"ef_search": ef, "exact_below": exact, "entry_points": entries} for ef in EF_GRID]
                for name, exact, entries in (("irangegraph", None, ENTRY_POINTS),
                                             ("irangegraph-graph-only", 0, ENTRY_POINTS),
                                             ("irangegraph-graph-cover", 0, COVER))}
    baselines = {}
    faiss, _, _ = build("faiss-hnsw", FaissHNSW(ds.distance, M=32, efConstruction=40, filtering="in-search"),
                        ds.train, None, args.threads)
    baselines["faiss-hnsw-bitmap"] = work.sweep(faiss, "faiss-hnsw-bitmap", [{"efSearch": ef} for ef in EF_GRID + [1280]], True)
    brute, _, _ = build("bruteforce", BruteForce(ds.distance), ds.train, None, args.threads)
    baselines["bruteforce"] = work.sweep(brute, "bruteforce", [{}], True)
    del faiss, brute
    if official:
        wall, cpu = official.fit(ds.train, attribute, ds.distance, args.threads)
        print(f"built official irangegraph in {wall:7.1f} s on {args.threads} threads ({cpu:.1f} s CPU)", flush=True)
        variants["official"] = [{"ef": ef} for ef in EF_GRID]
    # Rounds that time every variant once, ours and the official in turn: on shared cloud cores the
    # machine's speed drifts over minutes, and both sides should meet the same drift.
    levels = list(work.kind_groups.values())
    timed = dict.fromkeys(variants)
    for r in range(REPEATS):
        print(f"timing round {r + 1} of {REPEATS}", flush=True)
        for name, settings in variants.items():
            searched = official.times(work, EF_GRID) if name == "official" else batched_times(work, ours, settings)
            timed[name] = keep_fastest(timed[name], searched, levels)
    rows = {name: [work.row(name, args, ids, seconds) for args, (ids, seconds) in zip(settings, timed[name])]
            for name, settings in variants.items()}
    official_rows = rows.pop("official", None)  # printed last, after the baselines
    rows.update(baselines)
    if official_rows:
        rows["official"] = official_rows

    groups = sorted(work.kind_groups, key=level_of)
    table = {name: {g: best(r, g) for g in groups} for name, r in rows.items()}
    print(f"\n{args.dataset} {scenario}: single-thread QPS at recall@{K} {TARGET} (interpolated) per selectivity level "
          f"('-': never reaches it, with the best recall):")
    print(f"  {'method':26s}" + "".join(f"{g:>16s}" for g in groups))
    for name, cells in table.items():
        print(f"  {name:26s}" + "".join(f"{(f'{q:,.0f}' if q else f'- ({top:.3f})'):>16s}"
                                        for q, top in (cells[g] for g in groups)))
    if official:
        print(f"\n  ours / official (bar: >= 1.00 at every level):")
        for name in ("irangegraph", "irangegraph-graph-only", "irangegraph-graph-cover"):
            cells = []
            for g in groups:
                q, o = table[name][g][0], table["official"][g][0]
                cells.append("-" if q is None else ("inf" if o is None else f"{q / o:.2f}x"))
            print(f"  {name:26s}" + "".join(f"{c:>16s}" for c in cells))
        print(f"  build wall {ours_seconds:.1f} s / {wall:.1f} s = {ours_seconds / wall:.2f}x, "
              f"CPU {ours_cpu:.1f} s / {cpu:.1f} s = {ours_cpu / cpu:.2f}x (bar: <= 1.00)")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.official", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="arxiv")
    p.add_argument("--queries", type=int, default=1000, help="a seeded sample of N queries of each scenario")
    p.add_argument("--threads", type=int, default=2, help="build threads (search is single-threaded)")
    p.add_argument("--irangegraph", metavar="DIR", help="a built checkout of the official iRangeGraph")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="filterbench-official-") as workdir:
        # Checked and compiled once, before any build; each scenario's attribute gets its own index.
        official = OfficialIRangeGraph(args.irangegraph, workdir) if args.irangegraph else None
        path = ensure_dataset(args.dataset)
        ranges = [name for name, sc in Dataset(path).scenarios.items() if sc.kind == "range"]
        if not ranges:
            sys.exit(f"error: {args.dataset} has no range scenario")
        for scenario in ranges:
            work = Workload(path, scenario, args.queries)
            print(f"{args.dataset} {scenario}: {work.ds.n:,} base vectors, d={work.ds.d}, {work.describe()}", flush=True)
            irangegraph(work, scenario, args, official)


if __name__ == "__main__":
    main()
