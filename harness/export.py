"""Metrics of every result file, as rows; `python -m harness.export` writes them as CSV and JSON.

    python -m harness.export [--results DIR] [--dataset NAME] [--out PREFIX]   # PREFIX.csv, PREFIX.json
"""
import argparse
import csv
import hashlib
import json
import os
import sys

import numpy as np

from harness.dataset import Dataset, DatasetError, dataset_content_hash
from harness.metrics import Evaluator
from harness.results import list_failures, list_results, read_result, results_dir, write_atomically, write_json

COLUMNS = ["dataset", "workload", "queries", "scenario", "k", "algorithm", "build_args", "query_args", "recall", "qps", "qps_search",
           "batch_recall", "batch_qps", "batch_qps_search", "latency_p50", "latency_p95", "latency_p99",
           "filter_time_mean", "build_time", "index_size", "index_size_method", "build_peak_memory",
           "search_peak_memory", "distance_computations", "recall_p10", "recall_below_half", "fewer_than_k",
           "violations", "queries_with_violations", "duplicates", "out_of_range", "too_many_ids",
           "label_precision", "knn_precision", "knn_recall", "knn_f1", "metric", "dataset_distance", "metric_mismatch", "mode",
           "exact", "query_sample_seed", "memory_limit", "cpus", "run_count", "code_hash", "dataset_hash", "cpu_model",
           "versions", "stats", "engine", "path"]


CACHE = ".metrics-cache.json"  # metrics of result files seen before, keyed by their content
REQUIRED_ATTRS = ("algorithm", "dataset", "workload", "scenario", "k", "qps", "dataset_hash")
REQUIRED_ARRAYS = ("neighbors", "times", "filter_times")


def _sources_hash(*modules):
    h = hashlib.sha256()
    for module in modules:
        with open(module.__file__, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def metrics_version():
    """Cached metrics are only as good as the code that computed them: a new tie rule or
    filter semantics must recompute every row."""
    from harness import filters, groundtruth, metrics
    return _sources_hash(metrics, filters, groundtruth, sys.modules[__name__])


def cache_path(root):
    """The metrics cache: in the results directory where it may be written, else in the user's
    cache directory (a read-only results directory still renders, and fast)."""
    if os.access(root, os.W_OK):
        return os.path.join(root, CACHE)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "filterbench", f"metrics-{hashlib.sha256(os.path.abspath(root).encode()).hexdigest()[:16]}.json")


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _load_cache(path):
    try:
        with open(path) as f:
            cache = json.load(f)
        return cache if isinstance(cache, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_cache(path, cache):
    try:
        write_json(path, cache)
    except OSError:
        pass  # a full or read-only disk: the next render computes the metrics again


def read_checked(path):
    """A result file's attributes and arrays, or ValueError naming what is missing or unreadable."""
    try:
        attrs, arrays = read_result(path)
    except Exception as e:  # h5py raises many kinds on truncated or corrupt files
        raise ValueError(f"unreadable result file ({type(e).__name__}: {str(e).splitlines()[0][:120]})") from None
    missing = [k for k in REQUIRED_ATTRS if k not in attrs] + [k for k in REQUIRED_ARRAYS if k not in arrays]
    if missing:
        raise ValueError(f"inconsistent result file: no {', '.join(missing)}")
    n, k = len(arrays["neighbors"]), attrs["k"]
    if arrays["neighbors"].ndim != 2 or arrays["times"].shape != (n,) or arrays["filter_times"].shape != (n,):
        raise ValueError(f"inconsistent result file: neighbors {arrays['neighbors'].shape}, times "
                         f"{arrays['times'].shape}, filter_times {arrays['filter_times'].shape}")
    if "query_ids" in arrays and arrays["query_ids"].shape != (n,):
        raise ValueError(f"inconsistent result file: query_ids {arrays['query_ids'].shape} for {n} rows")
    if arrays["neighbors"].dtype.kind not in "iu":
        raise ValueError(f"inconsistent result file: ids of dtype {arrays['neighbors'].dtype}")
    if not isinstance(k, int) or arrays["neighbors"].shape[1] > max(k, 0):
        raise ValueError(f"inconsistent result file: k={k!r} with {arrays['neighbors'].shape[1]} ids per query")
    return attrs, arrays


def collect(root=None, workload=None, datasets_lookup=None, progress=None, problems=None):
    """One row per result file (of one workload, or all): its recorded measurements plus metrics
    computed here. Rows of files seen before (same content, same dataset, same metrics code)
    come from a cache, so re-rendering hundreds of files is fast. A file that cannot be read or
    scored is left out and, with `problems` (a list), reported there as (path, reason)."""
    from datasets import dataset_path
    lookup = datasets_lookup or dataset_path
    root = root or results_dir()
    problems = [] if problems is None else problems
    where = cache_path(root)
    cache = _load_cache(where)
    version = metrics_version()
    evaluators, rows, fresh, current_hash, computed = {}, [], {}, {}, 0

    def dataset_hash(name):
        if name not in current_hash:
            current_hash[name] = dataset_content_hash(lookup(name))
        return current_hash[name]

    for path in list_results(root, workload, problems):
        key = os.path.relpath(path, root)
        try:
            digest = file_digest(path)
        except OSError as e:
            problems.append((path, f"unreadable result file ({e.strerror})"))
            continue
        cached = cache.get(key)
        if isinstance(cached, dict) and cached.get("digest") == digest and cached.get("version") == version \
                and isinstance(cached.get("row"), dict) and "error" not in cached["row"] \
                and cached["row"].get("dataset_hash") == dataset_hash(cached["row"].get("dataset")):
            rows.append(cached["row"])
            fresh[key] = cached
            if progress:
                progress(1)
            continue
        try:
            attrs, arrays = read_checked(path)
        except ValueError as e:
            problems.append((path, str(e)))
            continue
        row = {key_: attrs.get(key_) for key_ in COLUMNS if key_ in attrs}
        row["path"] = key
        # annoy's "dot" is the dataset distance "ip"; any other difference is a real mismatch.
        row["metric_mismatch"] = {"dot": "ip"}.get(attrs.get("metric"), attrs.get("metric")) != attrs.get("dataset_distance")
        name = attrs["dataset"]
        if name not in evaluators:
            try:
                evaluators[name] = Evaluator(Dataset(lookup(name)))
            except DatasetError as e:
                evaluators[name] = e
        ev = evaluators[name]
        query_ids = arrays.get("query_ids")
        if isinstance(ev, DatasetError):
            row["error"] = f"metrics unavailable: {ev}"
        elif ev.ds.content_hash != attrs.get("dataset_hash"):
            row["error"] = "metrics unavailable: the dataset file changed since this run (content hash differs)"
        else:
            try:
                metrics, recall = ev.evaluate(arrays["neighbors"], attrs["scenario"], attrs["k"], query_ids)
                row.update(metrics)
                ids = np.arange(len(recall)) if query_ids is None else query_ids
                row["groups"] = query_groups(ev.ds, attrs["scenario"], recall, arrays["times"] + arrays["filter_times"],
                                             ids)
                if "batch_neighbors" in arrays:
                    row["batch_recall"] = ev.evaluate(arrays["batch_neighbors"], attrs["scenario"], attrs["k"],
                                                      query_ids)[0]["recall"]
                if attrs.get("clients") and "clients_level" in arrays:
                    row["clients"] = client_levels(ev, attrs, arrays, ids)
            except (ValueError, KeyError, IndexError) as e:
                problems.append((path, f"cannot be scored against {name}: {str(e).splitlines()[0][:200]}"))
                continue
        rows.append(row)
        fresh[key] = {"digest": digest, "version": version, "row": row}
        computed += 1
        if progress:
            progress(1)
    if computed or (workload is None and fresh.keys() != cache.keys()):  # new rows, or files gone
        _save_cache(where, fresh if workload is None else {**cache, **fresh})
    return rows


def client_levels(ev, attrs, arrays, query_ids):
    """Per level of run.py --clients: its QPS and latencies as measured, and recall, fewer-than-k
    and violations computed here from every answer it returned under load."""
    out = []
    for summary in attrs["clients"]:
        rows = arrays["clients_level"] == summary["clients"]
        metrics, _ = ev.evaluate(arrays["clients_neighbors"][rows], attrs["scenario"], attrs["k"],
                                 np.asarray(query_ids)[arrays["clients_queries"][rows]])
        out.append({**summary, "recall": metrics["recall"], "fewer_than_k": metrics.get("fewer_than_k"),
                    "violations": metrics.get("violations", 0) + metrics.get("duplicates", 0)
                    + metrics.get("out_of_range", 0)})
    return out


def at_defaults(rows, defaults):
    """The rows measured with a plugin's own defaults (AlgorithmConfig.defaults): every argument
    they set equals its default."""
    return [r for r in rows if all(defaults.get(key) == value
                                   for key, value in {**(r.get("build_args") or {}), **(r.get("query_args") or {})}.items()
                                   if key in defaults)]


def harness_defects(rows):
    """Results where an exact plugin scored below recall 0.999. The harness is then wrong (its
    ground truth, filter maps or tie rule), never the data: each is flagged wherever it shows."""
    from harness.metrics import EXACT_RECALL_FLOOR
    return [r for r in rows if r.get("exact") and r.get("recall") is not None and r["recall"] < EXACT_RECALL_FLOOR]


def defect_line(r):
    return (f"HARNESS DEFECT: exact plugin {r['algorithm']} scored recall@{r['k']} {r['recall']:.4f} on "
            f"{r['workload']} {r['scenario']} ({r['path']}); exact search must score 1.000")


GROUP_TITLES = {"selectivity_q1": "selectivity Q1", "selectivity_q2": "selectivity Q2",
                "selectivity_q3": "selectivity Q3", "selectivity_q4": "selectivity Q4",
                "labels_short": "1 label", "labels_medium": "2-3 labels", "labels_long": "4+ labels"}


def query_groups(ds, scenario, recall, seconds, query_ids):
    """Recall and QPS per selectivity quartile and per group of the scenario's predicate kind
    (label lengths, range levels), from the groups stored with the dataset; row i of recall and
    seconds is query query_ids[i]. (The percentile and top-k groups serve the experiments.)"""
    if scenario == "unfiltered":
        return {}
    sc = ds.scenarios[scenario]
    selectivity = sc.selectivity[query_ids]
    groups = {}
    for key in sc.groups:
        if key.startswith(("selectivity_p", "top")):
            continue
        name = GROUP_TITLES.get(key, key)
        mask = sc.groups[key][query_ids]
        if mask.any():
            groups[name] = {"queries": int(mask.sum()), "recall": float(recall[mask].mean()),
                            "qps": float(mask.sum() / seconds[mask].sum()),
                            "selectivity_median": float(np.median(selectivity[mask]))}
    return groups


def write_csv(rows, path):
    columns = COLUMNS + sorted({k for r in rows for k in r} - set(COLUMNS))
    def write(tmp):
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=columns)
            w.writeheader()
            for r in rows:
                w.writerow({k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in r.items()})
    write_atomically(path, write)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m harness.export", description="Write all results as CSV and JSON.")
    p.add_argument("--results", default=None, help="results directory (default: results/)")
    p.add_argument("--dataset", default=None, help="only this dataset (or workload, e.g. NAME@q100)")
    p.add_argument("--out", default="results/export", help="output path prefix (default: results/export)")
    args = p.parse_args(argv)
    problems = []
    rows = collect(args.results, args.dataset, problems=problems)
    failures = list_failures(args.results, args.dataset, problems=problems)
    for path, why in problems:
        print(f"skipped {path}: {why}", file=sys.stderr)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        write_csv(rows, args.out + ".csv")
        write_json(args.out + ".json", {"results": rows, "failures": failures,
                                        "skipped": [{"path": p, "reason": why} for p, why in problems]})
    except OSError as e:
        print(f"error: cannot write {args.out}.csv/.json: {e.strerror} (give another --out)", file=sys.stderr)
        return 2
    print(f"wrote {len(rows)} results and {len(failures)} failure records to {args.out}.csv and {args.out}.json"
          + (f"; skipped {len(problems)} unreadable files" if problems else ""))
    if args.dataset and not rows and not failures:
        others = related_workloads(args.results or results_dir(), args.dataset)
        print(f"note: no results of the workload {args.dataset}"
              + (f"; these workloads of it have results: {', '.join(others)} (give one as --dataset)" if others
                 else "; python run.py --dataset NAME writes them"))
    return 0


def related_workloads(root, dataset):
    """The workloads in `root` that are samples, subsets or tunings of `dataset` (NAME@...)."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    return [n for n in names if n.startswith(dataset + "@") and list_results(root, n)]


if __name__ == "__main__":
    sys.exit(main())
