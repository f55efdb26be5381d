"""Result files: one HDF5 per algorithm × build args × query args × scenario × k.

    results/<dataset>/<scenario>/k=<k>/<algorithm>/<build>__<query>.hdf5
    attrs: everything measured and recorded (see harness.worker); dicts are stored as JSON
    neighbors int64 [nq, k]  (-1 padded)   times float64 [nq]   filter_times float64 [nq]

Failure records (a run that crashed, timed out or raised) are JSON files, written by the host,
with k in their path like the results they stand in for:

    results/<dataset>/failed/k=<k>/<algorithm>/<build>.json   (the whole build)
    results/<dataset>/failed/k=<k>/<algorithm>/<build>__<query>__<scenario>.json   (one query pass)

Every file is written to a temporary name and renamed, so a reader never sees half a file.
Readers skip what they cannot use (a symlink, a truncated file) and say so.
"""
import glob
import json
import os
import stat

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def results_dir():
    return os.environ.get("FILTERBENCH_RESULTS", os.path.join(ROOT, "results"))


def result_relpath(dataset, scenario, k, algorithm, run_name):
    return os.path.join(dataset, scenario, f"k={k}", algorithm, f"{run_name}.hdf5")


def failure_relpath(dataset, k, algorithm, build_name, scenario=None, run_name=None):
    """A failed build's record, or with scenario and run_name, a failed query pass's."""
    name = build_name if scenario is None else f"{run_name}__{scenario}"
    return os.path.join(dataset, "failed", f"k={k}", algorithm, f"{name}.json")


def _tmp(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return f"{path}.tmp-{os.getpid()}"


def write_atomically(path, write):
    """write(tmp) to a temporary name, renamed to `path`; on any failure (a full disk) the
    temporary file is removed, never left behind."""
    tmp = _tmp(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.remove(tmp)
        raise


def write_result(path, attrs, arrays):
    def write(tmp):
        with h5py.File(tmp, "w") as f:
            for key, value in attrs.items():
                f.attrs[key] = json.dumps(value) if isinstance(value, (dict, list)) else ("" if value is None else value)
            for key, value in arrays.items():
                f.create_dataset(key, data=value)
    write_atomically(path, write)


def write_json(path, record):
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(record, f, indent=1, sort_keys=True, default=str)
    write_atomically(path, write)


_JSON_ATTRS = {"build_args", "query_args", "stats", "versions", "spread", "clients", "client_settings", "engine"}


def read_attrs(path):
    with h5py.File(path, "r") as f:
        return _decode(dict(f.attrs))


def _decode(attrs):
    out = {}
    for key, value in attrs.items():
        if isinstance(value, bytes):
            value = value.decode()
        if isinstance(value, np.generic):
            value = value.item()
        if key in _JSON_ATTRS and isinstance(value, str):
            value = json.loads(value)
        out[key] = value
    return out


def read_result(path):
    with h5py.File(path, "r") as f:
        attrs = _decode(dict(f.attrs))
        arrays = {key: f[key][()] for key in f}
    return attrs, arrays


def is_regular_file(path):
    """A plain file, not a symlink or anything else (never followed: it could point anywhere)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def list_results(root=None, dataset=None, problems=None):
    """Result files, sorted; anything at a result's place that is no plain file is left out and,
    with `problems` (a list), reported there as (path, reason)."""
    root = root or results_dir()
    pattern = os.path.join(root, dataset or "*", "*", "k=*", "*", "*.hdf5")
    out = []
    for path in sorted(glob.glob(pattern)):
        if is_regular_file(path):
            out.append(path)
        elif problems is not None:
            problems.append((path, "not a regular file (a symlink or other): skipped"))
    return out


def list_failures(root=None, dataset=None, problems=None):
    """Failure records; unreadable ones are left out and, with `problems`, reported there."""
    root = root or results_dir()
    out = []
    for path in sorted(glob.glob(os.path.join(root, dataset or "*", "failed", "k=*", "*", "*.json"))):
        try:
            if not is_regular_file(path):
                raise ValueError("not a regular file (a symlink or other)")
            with open(path) as f:
                record = json.load(f)
            if not isinstance(record, dict) or not isinstance(record.get("reason"), str) \
                    or not isinstance(record.get("algorithm"), str):
                raise ValueError("not a failure record (no algorithm or reason)")
            out.append(record)
        except (OSError, ValueError) as e:
            if problems is not None:
                problems.append((path, f"unreadable failure record: {str(e).splitlines()[0][:200]}"))
    return out
