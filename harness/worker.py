"""The worker: builds one configuration of one algorithm and runs its query passes.

    python -m harness.worker --dataset D.hdf5 --job JOB.json --out RUN_DIR

The same code runs in a local subprocess (--local) or inside the plugin's container. It reads
the host's copy of the dataset without its ground truth, and writes one result file per
(scenario, query arguments) into RUN_DIR as soon as that pass is done, so a crash later loses
nothing finished; the host checks each file and moves it into results/. A pass that raises (or
returns ids that are not integers) is written as a failure report and the next pass goes on; a
build that raises ends the worker with a one-line error.

RUN_DIR/status.json says, at every moment, what the worker is doing and, at the end, whether it
finished or why it failed, and whose fault that was ("plugin", or "host" for a full disk): the
host reads the reason from it, not from the last line of a log.

Timing: single-query mode runs on one thread (BLAS and OpenMP pools limited to one) and times
each query, the filter-map construction separately from the search; batch mode gives the plugin
chunks of queries and all cores. Of --runs passes the fastest is kept, with its own latencies.
With --clients, each pass is then measured under concurrent client processes (harness.clients).
"""
import argparse
import errno
import importlib
import json
import os
import sys
import time
import traceback

import numpy as np
from threadpoolctl import threadpool_limits

from harness import clients, system
from harness.dataset import Dataset
from harness.definitions import ALL_ATTRIBUTES, Definition
from harness.filters import UNFILTERED
from harness.results import failure_relpath, result_relpath, write_json, write_result

BATCH_CHUNK = 256  # queries per batch call: bounds the filter maps held at once
STATUS = "status.json"
EXIT_HOST_FAULT = 75  # EX_TEMPFAIL: the host's fault (a full disk); the host retries it next time
HOST_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def log(msg):
    print(msg, flush=True)


class PluginError(Exception):
    """A plugin broke the API (e.g. returned ids that are not integers): the pass fails."""


class Status:
    """RUN_DIR/status.json, rewritten atomically at each phase; the host reads it at the end."""

    def __init__(self, out_dir):
        self.path = os.path.join(out_dir, STATUS)
        self.passes_done = 0
        self.current = "starting"

    def write(self, **record):
        record["passes_done"] = self.passes_done
        tmp = f"{self.path}.tmp-{os.getpid()}"
        try:
            with open(tmp, "w") as f:
                json.dump(record, f)
            os.replace(tmp, self.path)
        except OSError:
            pass  # a full disk: the exit code says it (EXIT_HOST_FAULT)

    def phase(self, text):
        self.current = text
        self.write(state="running", phase=text)

    def failed(self, reason, cause):
        self.write(state="failed", reason=reason, cause=cause, phase=self.current)


def host_fault(e):
    return isinstance(e, OSError) and e.errno in HOST_ERRNOS


class QueryPass:
    """Timed passes of the job's queries of one scenario with one set of query arguments."""

    def __init__(self, ds, scenario, k, query_ids):
        self.ds, self.scenario, self.k = ds, scenario, k
        self.Q = ds.test[query_ids]
        if scenario == UNFILTERED:
            self.predicate, self.operands, self.filters = None, None, [None] * len(query_ids)
        else:
            sc = ds.scenarios[scenario]
            self.predicate = sc.predicate
            self.operands = [sc.operands[i] for i in query_ids]
            self.filters = [sc.predicate.filter(o) for o in self.operands]  # what plugins receive

    def _store(self, ids, out, i):
        ids = np.asarray(ids)
        if ids.size and ids.dtype.kind not in "iu":
            raise PluginError(f"returned ids of type {ids.dtype} for query {i}: ids must be integers "
                              f"(float or string ids are never rounded or parsed)")
        ids = ids.astype(np.int64).reshape(-1)
        if len(ids) > self.k:
            self.too_many += 1
            ids = ids[:self.k]
        out[i, :len(ids)] = ids

    def single(self, algo, uses_filter_map):
        nq, k = len(self.Q), self.k
        ids = np.full((nq, k), -1, dtype=np.int64)
        search_t = np.empty(nq)
        filter_t = np.zeros(nq)
        self.too_many = 0
        clock = time.perf_counter
        build_map = self.predicate is not None and uses_filter_map
        if build_map:
            self.predicate.prepare()  # before any clock: no timed query builds the postings
        valid = None
        for i in range(nq):
            t0 = t1 = clock()
            if build_map:
                valid = self.predicate.filter_map(self.operands[i])
                t1 = clock()
            out = algo.filtered_query(self.Q[i], k, self.filters[i], valid)
            t2 = clock()
            search_t[i], filter_t[i] = t2 - t1, t1 - t0
            self._store(out, ids, i)
        return ids, search_t, filter_t

    def batch(self, algo, uses_filter_map):
        nq, k = len(self.Q), self.k
        ids = np.full((nq, k), -1, dtype=np.int64)
        search_s = filter_s = 0.0
        self.too_many = 0
        if self.predicate is not None and uses_filter_map:
            self.predicate.prepare()
        for a in range(0, nq, BATCH_CHUNK):
            b = min(nq, a + BATCH_CHUNK)
            t0 = t1 = time.perf_counter()
            valid = None
            if self.predicate is not None and uses_filter_map:
                valid = self.predicate.filter_maps(self.operands[a:b])
                t1 = time.perf_counter()
            out = algo.batch_filtered_query(self.Q[a:b], k, self.filters[a:b], valid)
            t2 = time.perf_counter()
            if len(out) != b - a:
                raise PluginError(f"batch_filtered_query returned {len(out)} rows for {b - a} queries")
            search_s, filter_s = search_s + t2 - t1, filter_s + t1 - t0
            for j in range(b - a):
                self._store(out[j], ids, a + j)
        return ids, search_s, filter_s


def run_pass(algo, defn, ds, job, scenario, query_args, k, fit):
    runs = job["runs"]
    query_ids = np.asarray(job["query_ids"], dtype=np.int64)
    nq = len(query_ids)
    qp = QueryPass(ds, scenario, k, query_ids)
    algo.set_query_arguments(**query_args)
    uses_map = defn.uses_filter_map
    algo.set_threads(1)
    stats0 = algo.stats()
    system.reset_peak_rss()
    best, qps_runs = None, []
    with threadpool_limits(limits=1):
        for _ in range(runs):
            ids, search_t, filter_t = qp.single(algo, uses_map)
            total = search_t.sum() + filter_t.sum()
            qps_runs.append(nq / total)
            if best is None or total < best[3]:
                best = (ids, search_t, filter_t, total)
    stats1 = algo.stats()
    ids, search_t, filter_t, _ = best
    too_many = qp.too_many
    attrs = {
        "qps": nq / (search_t.sum() + filter_t.sum()), "qps_search": nq / search_t.sum(),
        "filter_time_mean": float(filter_t.mean()), "latency_p50": float(np.percentile(search_t + filter_t, 50)),
        "latency_p95": float(np.percentile(search_t + filter_t, 95)),
        "latency_p99": float(np.percentile(search_t + filter_t, 99)),
        "spread": {"qps_runs": qps_runs, "qps_min": min(qps_runs), "qps_max": max(qps_runs)},
        "distance_computations": ((stats1.get("distance_computations", 0) - stats0.get("distance_computations", 0))
                                  / (runs * nq)) if "distance_computations" in stats1 else None,
        "stats": {key: stats1[key] - stats0.get(key, 0) for key in stats1},
    }
    arrays = {"neighbors": ids, "times": search_t, "filter_times": filter_t, "query_ids": query_ids}
    if job["batch"]:
        algo.set_threads(system.available_cpus())
        best_batch = None
        for _ in range(runs):
            b_ids, search_s, filter_s = qp.batch(algo, uses_map)
            if best_batch is None or search_s + filter_s < best_batch[1] + best_batch[2]:
                best_batch = (b_ids, search_s, filter_s)
        b_ids, search_s, filter_s = best_batch
        attrs.update(batch_qps=nq / (search_s + filter_s), batch_qps_search=nq / search_s,
                     batch_threads=system.available_cpus())
        arrays["batch_neighbors"] = b_ids
        too_many += qp.too_many
    if job.get("clients"):
        algo.set_threads(1)
        client_attrs, client_arrays = clients.measure(algo, qp, uses_map, job["clients"])
        attrs.update(client_attrs)
        arrays.update(client_arrays)
    attrs["search_peak_memory"] = system.peak_rss()
    attrs["too_many_ids"] = too_many
    attrs.update(fit)
    attrs.update(scenario=scenario, k=k, query_args=query_args, run_count=runs)
    return attrs, arrays


def fit_algorithm(cls, defn, ds, attribute):
    algo = cls(ds.distance, **defn.build_args)
    algo.set_threads(system.available_cpus())
    ds.train = cls.base_for_fit(ds.train)  # kept for the next fit group: converted once
    system.reset_peak_rss()
    rss0 = system.rss()
    t0 = time.perf_counter()
    algo.fit(ds.train, attribute)
    build_time = time.perf_counter() - t0
    index_memory = system.rss() - rss0
    size = algo.index_size()
    fit = {"build_time": build_time, "build_peak_memory": system.peak_rss(), "index_memory": index_memory,
           "index_size": int(size) if size is not None else index_memory,
           "index_size_method": "plugin" if size is not None else "rss-delta",
           "metric": algo.metric, "build_threads": system.available_cpus(), "engine": algo.engine()}
    return algo, fit


def fit_groups(defn, ds, todo):
    """Passes grouped by the attribute their fit needs: one fit (with no attribute) for plugins
    that work from the filter map, one per attribute the predicates read for plugins built on
    one (builds_on_attribute; the unfiltered scenario: the attribute `labels`), one fit with
    every attribute ({name: attribute}) for builds_on_attribute = "all"."""
    if defn.builds_on_attribute == ALL_ATTRIBUTES:
        return [(dict(ds.attributes), list(todo))]
    groups = {}
    for item in todo:
        attribute = None
        if defn.builds_on_attribute:
            scenario = item["scenario"]
            attribute = ds.labels if scenario == UNFILTERED else ds.scenarios[scenario].predicate.attribute
        key = getattr(attribute, "name", None)
        groups.setdefault(key, (attribute, []))[1].append(item)
    return list(groups.values())


def work(args, status):
    """Every pass of the job: one fit per base-label assignment, then its passes."""
    status.phase("loading the dataset")
    with open(args.job) as f:
        job = json.load(f)
    defn = Definition(**job["definition"])
    ds = Dataset(args.dataset)
    status.phase(f"loading the plugin (module {defn.module}, class {defn.cls})")
    module = importlib.import_module(defn.module)
    if not hasattr(module, defn.cls):
        raise LookupError(f"module {defn.module} has no class {defn.cls}")
    cls = getattr(module, defn.cls)
    common = {"algorithm": defn.algorithm, "plugin": defn.plugin, "group": defn.group,
              "build_args": defn.build_args, "dataset": job["dataset"], "workload": job["workload"],
              "queries": len(job["query_ids"]), "query_sample_seed": job["query_sample_seed"],
              "dataset_hash": job["dataset_hash"], "exact": defn.exact,
              "dataset_distance": ds.distance, "code_hash": job["code_hash"], "mode": job["mode"],
              "image_id": job.get("image_id"), "versions": system.package_versions(defn.packages),
              "builds_on_attribute": defn.builds_on_attribute, "uses_filter_map": defn.uses_filter_map,
              "memory_limit": job.get("memory_limit"), "cpus": job.get("cpus"),
              # The CPU level native code was compiled for: set in the images; local builds are the host's.
              "march": os.environ.get("FILTERBENCH_MARCH", "local build"),
              **system.cpu_info()}
    for attribute, items in fit_groups(defn, ds, job["todo"]):
        status.phase(f"building {defn.algorithm} {defn.build_name}")
        on = (f" on attributes {', '.join(attribute)}" if isinstance(attribute, dict)
              else f" on attribute {attribute.name}" if attribute else "")
        log(f"fit {defn.algorithm} {defn.build_name}{on}")
        algo, fit = fit_algorithm(cls, defn, ds, attribute)
        log(f"  built in {fit['build_time']:.2f} s, index size {fit['index_size']} bytes ({fit['index_size_method']})")
        for item in items:
            scenario, query_args, k = item["scenario"], item["query_args"], item["k"]
            run_name = defn.run_name(query_args)
            status.phase(f"pass {scenario} k={k} {run_name}")
            try:
                attrs, arrays = run_pass(algo, defn, ds, job, scenario, query_args, k, fit)
            except Exception as e:
                if host_fault(e):
                    raise
                reason = f"{type(e).__name__}: {e}"
                log(f"  {scenario} {run_name}: failed: {reason}")
                write_json(os.path.join(args.out, failure_relpath(job["workload"], k, defn.algorithm,
                                                                  defn.build_name, scenario, run_name)),
                           {"reason": reason, "traceback": traceback.format_exc(), "scenario": scenario,
                            "query_args": query_args, "k": k, "time": time.time(), **common})
                continue
            attrs.update(common)
            attrs["finished"] = time.time()
            path = os.path.join(args.out, result_relpath(job["workload"], scenario, k, defn.algorithm, run_name))
            write_result(path, attrs, arrays)
            status.passes_done += 1
            log(f"  {scenario:15s} {run_name}: {attrs['qps']:.0f} QPS")
        algo.done()
        del algo
    status.write(state="done")
    return 0


def main(argv=None):
    """work(), with its failure written to status.json and told by the exit code."""
    p = argparse.ArgumentParser(prog="python -m harness.worker")
    p.add_argument("--dataset", required=True)
    p.add_argument("--job", required=True, help="path of the job JSON written by the runner")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    system.die_with_parent()
    system.restrict_cpus()
    status = Status(args.out)
    try:
        return work(args, status)
    except (Exception, KeyboardInterrupt) as e:  # MemoryError too: its reason is recorded
        traceback.print_exc()
        reason = f"{type(e).__name__}: {e}"
        host = host_fault(e)
        status.failed(reason, "host" if host else "plugin")
        print(f"error: {reason}", file=sys.stderr, flush=True)
        return EXIT_HOST_FAULT if host else 1


if __name__ == "__main__":
    sys.exit(main())
