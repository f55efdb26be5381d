"""What the speed benchmarks share: a query workload with its selectivity quartiles, a sweep of
query settings timed one query at a time, and the best QPS at a recall target."""
import time

import numpy as np
from threadpoolctl import threadpool_limits

from harness.dataset import Dataset
from harness.metrics import Evaluator
from harness.runner import sample_queries

K = 10
TARGET = 0.9


class Workload:
    """A seeded sample of `queries` queries of one scenario of a dataset (the sample run.py's
    --queries takes), with their filter maps (given to the plugins that take them, untimed, as the
    harness does) and selectivity quartiles."""

    def __init__(self, path, scenario, queries):
        self.ds = Dataset(path)
        self.scenario = scenario
        sc = self.ds.scenarios[scenario]
        self.ids = sample_queries(self.ds.nq, queries)
        self.nq = len(self.ids)
        self.Q = self.ds.test[self.ids]
        operands = [sc.operands[i] for i in self.ids]
        self.filters = [sc.predicate.filter(o) for o in operands]
        self.maps = sc.predicate.filter_maps(operands)
        # What building each query's filter map costs (best of 3), for counting it in as the
        # harness's headline QPS does; methods that filter on their own never pay it.
        self.map_seconds = np.full(self.nq, np.inf)
        for _ in range(3):
            for i, o in enumerate(operands):
                t0 = time.perf_counter()
                sc.predicate.filter_map(o)
                self.map_seconds[i] = min(self.map_seconds[i], time.perf_counter() - t0)
        # Groups of the scenario's kind beside the quartiles, e.g. the target levels of ranges.
        self.kind_groups = {name: mask[self.ids] for name, mask in sc.groups.items()
                            if not name.startswith(("selectivity_", "top", "labels_"))}
        self.selectivity = sc.selectivity[self.ids]
        # The selectivity quartiles stored with the dataset (harness.dataset.query_groups).
        self.quartile = np.select([sc.groups[f"selectivity_q{j + 1}"][self.ids] for j in range(4)], range(4))
        self.evaluator = Evaluator(self.ds)

    def describe(self):
        return (f"{self.nq} {self.scenario} queries, selectivity median {np.median(self.selectivity):.2%}, quartile "
                f"bounds " + ", ".join(f"{x:.3%}" for x in np.percentile(self.selectivity, [25, 50, 75])))

    def sweep(self, algo, name, settings, count_maps=False):
        """One row per query setting: recall, QPS, and per quartile and kind group (recall, QPS).
        count_maps: add the filter map's time to the queries of methods that use it."""
        rows = []
        uses_map = getattr(algo, "uses_filter_map", True)
        for args in settings:
            algo.set_query_arguments(**args)
            seconds = np.zeros(self.nq)
            ids = np.full((self.nq, K), -1, dtype=np.int64)
            with single_threaded():
                for i, q in enumerate(self.Q):
                    t0 = time.perf_counter()
                    found = algo.filtered_query(q, K, self.filters[i], self.maps[i] if uses_map else None)
                    seconds[i] = time.perf_counter() - t0
                    ids[i, :len(found)] = found[:K]
            if count_maps and uses_map:
                seconds += self.map_seconds
            rows.append(self.row(name, args, ids, seconds))
        return rows

    def row(self, name, args, ids, seconds, violations_counted=False):
        """One sweep row from the ids (nq x K, -1 padded) found with one query setting and each
        query's seconds, however they were timed. Every id is checked against its filter.
        violations_counted: ids that fail it (an outside implementation's) are counted, printed and
        scored as misses; otherwise they stop the benchmark."""
        metrics, recall = self.evaluator.evaluate(ids, self.scenario, K, self.ids)
        assert violations_counted or metrics["violations"] == 0, f"{name} returned ids that fail the filter"
        quartile = self.quartile
        row = {"name": name, "args": args, "recall": float(recall.mean()), "qps": self.nq / seconds.sum(),
               "violations": metrics["violations"], "queries_with_violations": metrics["queries_with_violations"],
               "quartiles": [(float(recall[quartile == j].mean()),
                              float((quartile == j).sum() / seconds[quartile == j].sum())) for j in range(4)],
               "groups": {g: (float(recall[m].mean()), float(m.sum() / seconds[m].sum()))
                          for g, m in self.kind_groups.items() if m.any()}}
        print(f"  {name:22s} {str(args):44s} recall {row['recall']:.3f}  QPS {row['qps']:8.0f}  "
              + "  ".join(f"Q{j + 1} {r:.2f}/{qps:.0f}" for j, (r, qps) in enumerate(row["quartiles"]))
              + (f"  {row['violations']} ids in {row['queries_with_violations']} queries fail the filter"
                 if row["violations"] else ""), flush=True)
        return row


def single_threaded():
    """Timed single-thread searches, as the harness's worker times them: numpy's BLAS limited to
    one thread too (left free, a numpy method's matrix-vector products of a few thousand rows ran
    on both cores, 40x slower on a busy machine)."""
    return threadpool_limits(limits=1)


def build(name, algo, X, attribute, threads):
    """Fits algo on `threads` threads; returns (algo set to one thread, seconds, index bytes).
    attribute: what a plugin built on one gets (others get None)."""
    algo.set_threads(threads)
    t0 = time.perf_counter()
    algo.fit(algo.base_for_fit(X), attribute if algo.builds_on_attribute else None)
    seconds = time.perf_counter() - t0
    size = algo.index_size()
    print(f"built {name:16s} in {seconds:7.1f} s on {threads} threads, index {(size or 0) / 2**20:.0f} MiB", flush=True)
    algo.set_threads(1)
    return algo, seconds, size


def qps_at_target(points, target=TARGET):
    """QPS at recall target (TARGET unless said) from (recall, QPS) points of one method's settings,
    interpolated: linearly in recall between the fastest point that reaches it and the point with
    the most recall among those below it and faster. A grid of settings then does not decide a
    ratio by where its steps fall. No extrapolation: where no faster point lies below the target,
    the fastest point reaching it. None if no point reaches it."""
    reach = [(r, q) for r, q in points if r >= target]
    if not reach:
        return None
    r1, q1 = max(reach, key=lambda p: p[1])
    below = [(r, q) for r, q in points if r < target and q > q1]
    if not below:
        return q1
    r0, q0 = max(below)
    return q0 + (q1 - q0) * (target - r0) / (r1 - r0)


def best_qps(rows, quartile=None, target=TARGET):
    """QPS at recall target (overall or in one quartile), interpolated; None if no setting reaches it."""
    return qps_at_target([(r["recall"], r["qps"]) if quartile is None else r["quartiles"][quartile] for r in rows],
                         target)


def ratio(a, b):
    if a is None:
        return f"never reaches {TARGET}"
    if b is None:
        return f"inf (baseline never reaches {TARGET})"
    return f"{a / b:.2f}x"


def summary(rows):
    print(f"\nSingle-thread QPS at recall@{K} {TARGET}, interpolated (overall, then per selectivity quartile, Q1 the "
          f"lowest; 0: never reaches it):")
    for name, r in rows.items():
        top = max(x["recall"] for x in r)
        print(f"  {name:22s} {best_qps(r) or 0:8.0f}   " + " ".join(f"Q{j + 1} {best_qps(r, j) or 0:7.0f}" for j in range(4))
              + f"   best recall {top:.4f}, per quartile "
              + "/".join(f"{max(x['quartiles'][j][0] for x in r):.3f}" for j in range(4)))
