"""Metrics of every result file, as rows; `python -m harness.export` writes them as CSV and JSON.

    python -m harness.export [--results DIR] [--dataset NAME] [--out PREFIX]   # PREFIX.csv, PREFIX.json
"""
import argparse
import csv
import json
import os
import sys

import numpy as np

from harness.dataset import Dataset, DatasetError, dataset_content_hash
from harness.metrics import Evaluator
from harness.results import list_failures, list_results, read_result, results_dir, write_json

COLUMNS = ["dataset", "workload", "queries", "scenario", "k", "algorithm", "build_args", "query_args", "recall", "qps", "qps_search",
           "batch_recall", "batch_qps", "batch_qps_search", "latency_p50", "latency_p95", "latency_p99",
           "filter_time_mean", "build_time", "index_size", "index_size_method", "build_peak_memory",
           "search_peak_memory", "distance_computations", "recall_p10", "recall_below_half", "fewer_than_k",
           "violations", "queries_with_violations", "duplicates", "out_of_range", "too_many_ids",
           "label_precision", "knn_precision", "knn_recall", "knn_f1", "metric", "dataset_distance", "metric_mismatch", "mode",
           "run_count", "code_hash", "dataset_hash", "cpu_model", "versions", "path"]


CACHE = ".metrics-cache.json"  # in the results directory: metrics of unchanged result files


def collect(root=None, workload=None, datasets_lookup=None, progress=None):
    """One row per result file (of one workload, or all): its recorded measurements plus metrics
    computed here. Rows of files unchanged since the last call (same size, mtime and dataset
    hash) come from a cache in the results directory, so re-rendering hundreds of files is fast."""
    from datasets import dataset_path
    lookup = datasets_lookup or dataset_path
    root = root or results_dir()
    cache_path = os.path.join(root, CACHE)
    try:
        with open(cache_path) as f:
            cache = json.load(f)
    except (OSError, ValueError):
        cache = {}
    evaluators, rows, fresh, current_hash, computed = {}, [], {}, {}, 0
    for path in list_results(root, workload):
        stat = os.stat(path)
        key = os.path.relpath(path, root)
        stamp = [stat.st_size, stat.st_mtime_ns]
        cached = cache.get(key)
        if cached:
            name = cached["row"]["dataset"]
            if name not in current_hash:
                current_hash[name] = dataset_content_hash(lookup(name))
        if cached and cached["stamp"] == stamp and "error" not in cached["row"] \
                and cached["row"].get("dataset_hash") == current_hash[cached["row"]["dataset"]]:
            rows.append(cached["row"])
            fresh[key] = cached
            if progress:
                progress(1)
            continue
        attrs, arrays = read_result(path)
        row = {key: attrs.get(key) for key in COLUMNS if key in attrs}
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
        if isinstance(ev, DatasetError):
            row["error"] = f"metrics unavailable: {ev}"
        elif ev.ds.content_hash != attrs.get("dataset_hash"):
            row["error"] = "metrics unavailable: the dataset file changed since this run (content hash differs)"
        else:
            metrics, recall = ev.evaluate(arrays["neighbors"], attrs["scenario"], attrs["k"])
            row.update(metrics)
            row["groups"] = query_groups(ev.ds, attrs["scenario"], recall, arrays["times"] + arrays["filter_times"])
            if "batch_neighbors" in arrays:
                row["batch_recall"] = ev.evaluate(arrays["batch_neighbors"], attrs["scenario"], attrs["k"])[0]["recall"]
        rows.append(row)
        fresh[key] = {"stamp": stamp, "row": row}
        computed += 1
        if progress:
            progress(1)
    if computed or (workload is None and fresh.keys() != cache.keys()):  # new rows, or files gone
        write_json(cache_path, fresh if workload is None else {**cache, **fresh})
    return rows


GROUP_TITLES = {"selectivity_q1": "selectivity Q1", "selectivity_q2": "selectivity Q2",
                "selectivity_q3": "selectivity Q3", "selectivity_q4": "selectivity Q4",
                "labels_short": "1 label", "labels_medium": "2-3 labels", "labels_long": "4+ labels"}


def query_groups(ds, scenario, recall, seconds):
    """Recall and QPS per selectivity quartile and per query-label length (filtered scenarios),
    from the groups stored with the dataset."""
    if scenario == "unfiltered":
        return {}
    sc = ds.scenarios[scenario]
    nq = len(recall)
    selectivity = sc.selectivity[:nq]
    groups = {}
    for key, name in GROUP_TITLES.items():
        mask = sc.groups[key][:nq]
        if mask.any():
            groups[name] = {"queries": int(mask.sum()), "recall": float(recall[mask].mean()),
                            "qps": float(mask.sum() / seconds[mask].sum()),
                            "selectivity_median": float(np.median(selectivity[mask]))}
    return groups


def write_csv(rows, path):
    columns = COLUMNS + sorted({k for r in rows for k in r} - set(COLUMNS))
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow({k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in r.items()})
    os.replace(tmp, path)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m harness.export", description="Write all results as CSV and JSON.")
    p.add_argument("--results", default=None, help="results directory (default: results/)")
    p.add_argument("--dataset", default=None, help="only this dataset (or workload, e.g. NAME@q100)")
    p.add_argument("--out", default="results/export", help="output path prefix (default: results/export)")
    args = p.parse_args(argv)
    rows = collect(args.results, args.dataset)
    failures = list_failures(args.results, args.dataset)
    write_csv(rows, args.out + ".csv")
    write_json(args.out + ".json", {"results": rows, "failures": failures})
    print(f"wrote {len(rows)} results and {len(failures)} failure records to {args.out}.csv and {args.out}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
