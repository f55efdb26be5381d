"""Metrics of every result file, as rows; `python -m harness.export` writes them as CSV and JSON.

    python -m harness.export [--results DIR] [--dataset NAME] [--out PREFIX]   # PREFIX.csv, PREFIX.json
"""
import argparse
import csv
import json
import os
import sys

from harness.dataset import Dataset, DatasetError
from harness.metrics import Evaluator
from harness.results import list_failures, list_results, read_result, results_dir, write_json

COLUMNS = ["dataset", "workload", "queries", "scenario", "k", "algorithm", "build_args", "query_args", "recall", "qps", "qps_search",
           "batch_recall", "batch_qps", "batch_qps_search", "latency_p50", "latency_p95", "latency_p99",
           "filter_time_mean", "build_time", "index_size", "index_size_method", "build_peak_memory",
           "search_peak_memory", "distance_computations", "recall_p10", "recall_below_half", "fewer_than_k",
           "violations", "queries_with_violations", "duplicates", "out_of_range", "too_many_ids",
           "label_precision", "knn_precision", "knn_recall", "knn_f1", "metric", "dataset_distance", "metric_mismatch", "mode",
           "run_count", "code_hash", "dataset_hash", "cpu_model", "versions", "path"]


def collect(root=None, workload=None, datasets_lookup=None, progress=None):
    """One row per result file (of one workload, or all): its recorded measurements plus metrics
    computed here."""
    from datasets import dataset_path
    lookup = datasets_lookup or dataset_path
    evaluators, rows = {}, []
    for path in list_results(root, workload):
        attrs, arrays = read_result(path)
        row = {key: attrs.get(key) for key in COLUMNS if key in attrs}
        row["path"] = os.path.relpath(path, root or results_dir())
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
            metrics, _ = ev.evaluate(arrays["neighbors"], attrs["scenario"], attrs["k"])
            row.update(metrics)
            if "batch_neighbors" in arrays:
                row["batch_recall"] = ev.evaluate(arrays["batch_neighbors"], attrs["scenario"], attrs["k"])[0]["recall"]
        rows.append(row)
        if progress:
            progress(1)
    return rows


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
