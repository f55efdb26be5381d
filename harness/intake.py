"""What the host accepts from a worker's output directory, and nothing else.

A worker (a plugin's code, in its container) can write anything into its output directory. The
host accepts only the files of the passes of that worker's own job, at exactly the paths the job
expects, as regular files (never a symlink), each opened and checked against the job before it
is moved into results/: its algorithm, build and query arguments, scenario, k, workload, dataset
and code hash, mode, query ids and array shapes, and QPS that follow from its own timings. Every
other entry is rejected, named, and makes the job a failure. A worker's report of a failed pass
is read the same way; the host writes the failure record itself.

The job spec is the job.json the host wrote for the worker (harness.runner): the same checks
recover the finished files of a sweep that was killed, on the next start.
"""
import json
import os
import stat

import h5py
import numpy as np

from harness.results import _decode, failure_relpath, result_relpath

STATUS = "status.json"  # the worker's own status (harness.worker.Status); read, never moved
MAX_RESULT_BYTES = 4 << 30
MAX_REPORT_BYTES = 1 << 20


class Rejected(ValueError):
    """A file the host will not accept; the message says why."""


def _same(a, b):
    """Equal as JSON values (argument dicts come back from HDF5 as JSON text)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def expected_files(spec):
    """{relative path: (kind, todo item)} of every file the job may produce."""
    defn, workload = spec["definition"], spec["workload"]
    out = {}
    for item in spec["todo"]:
        k = item["k"]
        out[result_relpath(workload, item["scenario"], k, defn["algorithm"], item["run_name"])] = ("result", item)
        out[failure_relpath(workload, k, defn["algorithm"], spec["build_name"], item["scenario"],
                            item["run_name"])] = ("report", item)
    return out


def _entries(out_dir):
    """(relative path, full path, is a regular file) of everything under out_dir; links are
    listed, never followed."""
    found = []
    for dirpath, dirnames, filenames in os.walk(out_dir):
        for name in list(dirnames):
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                dirnames.remove(name)
                found.append((os.path.relpath(full, out_dir), full, False))
        for name in filenames:
            full = os.path.join(dirpath, name)
            found.append((os.path.relpath(full, out_dir), full, stat.S_ISREG(os.lstat(full).st_mode)))
    return found


def check_result(path, spec, item):
    """Raises Rejected unless the result file at `path` is the one this pass of the job must write."""
    if os.path.getsize(path) > MAX_RESULT_BYTES:
        raise Rejected(f"larger than {MAX_RESULT_BYTES >> 30} GiB")
    defn = spec["definition"]
    n, k = len(spec["query_ids"]), item["k"]
    try:
        with h5py.File(path, "r") as f:
            attrs = _decode(dict(f.attrs))
            arrays = {key: f[key][()] for key in f if isinstance(f[key], h5py.Dataset)}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise Rejected(f"not a readable result file ({type(e).__name__})") from None
    expected = {"algorithm": defn["algorithm"], "plugin": defn["plugin"], "build_args": defn["build_args"],
                "query_args": item["query_args"], "scenario": item["scenario"], "k": k,
                "workload": spec["workload"], "dataset": spec["dataset"], "dataset_hash": spec["dataset_hash"],
                "code_hash": spec["code_hash"], "mode": spec["mode"], "exact": defn["exact"], "queries": n}
    if spec.get("image_id"):
        expected["image_id"] = spec["image_id"]
    for key, value in expected.items():
        if key not in attrs or not _same(attrs[key], value):
            raise Rejected(f"its {key} is {str(attrs.get(key))[:80]!r}, the job's is {str(value)[:80]!r}")
    shapes = {"neighbors": (n, k), "times": (n,), "filter_times": (n,), "query_ids": (n,)}
    if spec["batch"]:
        shapes["batch_neighbors"] = (n, k)
    for key, shape in shapes.items():
        if key not in arrays:
            raise Rejected(f"has no '{key}'")
        if arrays[key].shape != shape:
            raise Rejected(f"'{key}' has shape {arrays[key].shape}, the job's is {shape}")
    for key in ("neighbors", "batch_neighbors", "query_ids"):
        if key in shapes and arrays[key].dtype.kind not in "iu":
            raise Rejected(f"'{key}' has dtype {arrays[key].dtype}, not an integer type")
    if not np.array_equal(arrays["query_ids"], np.asarray(spec["query_ids"])):
        raise Rejected("its query ids are not the job's")
    for key in ("times", "filter_times"):
        t = arrays[key]
        if t.dtype.kind != "f" or not np.all(np.isfinite(t)) or np.any(t < 0):
            raise Rejected(f"'{key}' must hold finite, non-negative seconds")
    total = float(arrays["times"].sum() + arrays["filter_times"].sum())
    qps = attrs.get("qps")
    if not isinstance(qps, (int, float)) or total <= 0 or abs(qps - n / total) > 1e-6 * qps:
        raise Rejected(f"its qps {qps!r} is not its {n} queries over the {total:.6g} s its times add up to")
    if spec["batch"] and not (isinstance(attrs.get("batch_qps"), (int, float)) and attrs["batch_qps"] > 0):
        raise Rejected("has no batch_qps")
    if spec.get("clients"):
        check_clients(attrs, arrays, spec["clients"], n, k)


def check_clients(attrs, arrays, settings, n, k):
    """The concurrent-client levels (harness.clients): one summary per level asked for, whose
    answers and QPS follow from its own rows of the arrays."""
    if not _same(attrs.get("client_settings"), settings):
        raise Rejected(f"its client settings are {str(attrs.get('client_settings'))[:80]!r}, the job's {settings!r}")
    summaries = attrs.get("clients")
    if not isinstance(summaries, list) or [s.get("clients") if isinstance(s, dict) else None
                                           for s in summaries] != list(settings["levels"]):
        raise Rejected(f"its client levels are not the job's {settings['levels']}")
    for key in ("clients_level", "clients_queries", "clients_neighbors", "clients_latency"):
        if key not in arrays:
            raise Rejected(f"has no '{key}'")
    level, queries, neighbors = arrays["clients_level"], arrays["clients_queries"], arrays["clients_neighbors"]
    rows = len(level)
    if queries.shape != (rows,) or neighbors.shape != (rows, k) or arrays["clients_latency"].shape != (rows,):
        raise Rejected("its client arrays do not have one row per answer")
    if level.dtype.kind not in "iu" or queries.dtype.kind not in "iu" or neighbors.dtype.kind not in "iu":
        raise Rejected("its client arrays must hold integers")
    if rows and (queries.min() < 0 or queries.max() >= n):
        raise Rejected("its client answers name queries outside the job's")
    for s in summaries:
        answers = int(np.count_nonzero(level == s["clients"]))
        seconds, qps = s.get("seconds"), s.get("qps")
        if s.get("answers") != answers or not isinstance(seconds, (int, float)) or seconds <= 0 \
                or not isinstance(qps, (int, float)) or abs(qps - answers / seconds) > 1e-6 * qps:
            raise Rejected(f"its {s['clients']}-client QPS is not its {answers} answers over its window")


def read_report(path, item):
    """The reason a worker gives for one failed pass; raises Rejected if it is not a report of that pass."""
    if os.path.getsize(path) > MAX_REPORT_BYTES:
        raise Rejected(f"larger than {MAX_REPORT_BYTES >> 20} MiB")
    try:
        with open(path) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        raise Rejected(f"not a readable failure report ({type(e).__name__})") from None
    if not isinstance(report, dict) or not isinstance(report.get("reason"), str):
        raise Rejected("not a failure report (no reason)")
    if report.get("scenario") != item["scenario"] or not _same(report.get("query_args"), item["query_args"]):
        raise Rejected("reports another pass than the job's")
    return report["reason"][:500], str(report.get("traceback", ""))[-20000:]


def read_status(out_dir):
    """The worker's status.json, or {} when there is none or it is no plain, small JSON object."""
    path = os.path.join(out_dir, STATUS)
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode) or os.path.getsize(path) > MAX_REPORT_BYTES:
            return {}
        with open(path) as f:
            status = json.load(f)
        return status if isinstance(status, dict) else {}
    except (OSError, ValueError):
        return {}


class Intake:
    """The outcome of taking in one output directory: results moved into place, reports of
    failed passes, rejected entries."""

    def __init__(self):
        self.moved = []      # (relative path, todo item) of accepted results, now in results/
        self.reports = []    # (todo item, reason, traceback) of passes the worker says failed
        self.rejected = []   # (relative path, why)


def take_in(spec, out_dir, results_root):
    """Checks everything in out_dir against the job spec; moves accepted results into
    results_root (atomic renames on the same filesystem). A full disk raises OSError."""
    intake = Intake()
    expected = expected_files(spec)
    for rel, full, regular in _entries(out_dir):
        if rel == STATUS or ".tmp-" in os.path.basename(rel):
            continue  # the worker's status, or a file it was still writing when it stopped
        if rel not in expected:
            intake.rejected.append((rel, "not a file of this job"))
            continue
        if not regular:
            intake.rejected.append((rel, "not a regular file (a symlink or other)"))
            continue
        kind, item = expected[rel]
        try:
            if kind == "result":
                check_result(full, spec, item)
            else:
                reason, trace = read_report(full, item)
        except Rejected as e:
            intake.rejected.append((rel, str(e)))
            continue
        if kind == "report":
            intake.reports.append((item, reason, trace))
            continue
        target = os.path.join(results_root, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.replace(full, target)
        intake.moved.append((rel, item))
    return intake
