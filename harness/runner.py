"""The host side of a sweep: plan the runs, skip finished ones, start one worker per build
configuration, supervise it, take in what it wrote, record failures.

Finished: a result is finished when its file exists with the same dataset hash and code hash. A
build or pass that failed is recorded (results/<workload>/failed/) and not retried with the same
code unless --force; one that failed because of the host (a full disk, a Docker engine error) is
retried on the next run. An interrupted sweep resumes where it stopped.

Ownership: a worker writes into an output directory of its own; the host accepts only the files
of its own job's passes, each checked before it is moved (harness.intake).

Supervision: each sweep holds a lock on its results directory and workload (a second sweep of
the same stops with one line). SIGINT and SIGTERM stop the current worker (its process group
killed, or its container killed and removed), keep its finished passes, and end the sweep.
A watcher process (harness.reaper) stops the current worker if run.py itself dies, even by
SIGKILL; local workers also die with their parent, containers carry a label and a deadline of
their own, and the next run.py removes stale containers and takes in (or discards) the finished
files a killed sweep left in results/.runs/.
"""
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field

import numpy as np

from harness import system
from harness.definitions import expand
from harness.filters import UNFILTERED
from harness.intake import read_status, take_in
from harness.results import failure_relpath, is_regular_file, read_attrs, result_relpath, write_json
from harness.worker import EXIT_HOST_FAULT

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUERY_SAMPLE_SEED = 0     # --queries N draws the same N queries for every plugin
CONTAINER_LABEL = "filterbench.runner"  # host:pid:start of the run.py that started a container
CONTAINER_GRACE = 30      # a container's own deadline: --timeout plus this many seconds
PIDS_LIMIT = 4096         # processes and threads in one container
HOST_FAULT = "host"       # the cause of a failure the host is to blame for: retried next run
STATUS_POLL = 2           # seconds between reads of a running worker's status (run_job's progress)


class Interrupted(Exception):
    """SIGINT or SIGTERM reached run.py; the current worker has been stopped."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class EngineError(Exception):
    """The Docker engine refused or failed a request: the host's fault, not the plugin's."""


class DockerError(Exception):
    """No engine, or a missing or outdated image; the message says what to run."""


class LimitError(ValueError):
    """A --cpus or --memory value that cannot be applied; the message says what would be."""


_stop = {"held": False, "pending": None}  # see stops_held


def stop(signum):
    """What SIGINT and SIGTERM do (run.py installs it): raise Interrupted now, or, while a worker
    is being started, as soon as it is."""
    if _stop["held"]:
        _stop["pending"] = signum
    else:
        raise Interrupted(signum)


@contextlib.contextmanager
def stops_held():
    """A stop waits while a worker is being started, so that it always finds, and removes, the
    worker it interrupts (a container created but not yet returned would outlive run.py). A flag,
    not a signal mask: Python runs handlers in the main thread whichever thread the kernel picks."""
    _stop["held"] = True
    try:
        yield
    finally:
        _stop["held"] = False
        signum, _stop["pending"] = _stop["pending"], None
        if signum is not None:
            raise Interrupted(signum)


def sample_queries(nq, n, seed=QUERY_SAMPLE_SEED):
    """The ids of the queries a sweep runs: all, or a seeded random sample of n (sorted), the
    same for every plugin (--queries N; the first N in file order would follow the file's order)."""
    if not n or n >= nq:
        return np.arange(nq)
    return np.sort(np.random.default_rng(seed).choice(nq, n, replace=False))


def workload_name(dataset, queries=0, tag=""):
    """Where a sweep's results go: the dataset's name, @qN for a query sample, @TAG for a purpose
    of its own (tuning), so that none of them mixes with the leaderboard's full runs."""
    return dataset + (f"@q{queries}" if queries else "") + (f"@{tag}" if tag else "")


@dataclass
class Sweep:
    """What one `run.py` invocation measures, and where the results go."""
    ds: object
    dataset_path: str
    counts: tuple  # the k of each pass: one build serves every k (harness.experiments' top-k)
    runs: int
    batch: bool
    timeout: float
    root: str
    force: bool = False
    queries: int = 0  # 0: all; else a seeded sample of N queries, kept apart as workload "<dataset>@qN"
    worker_dataset: str = ""  # the dataset without its ground truth, as workers see it
    cpus: str = None
    memory_limit: str = None
    tag: str = ""  # a workload of its own, "<dataset>[@qN]@<tag>" (harness.tune: tune-local, tune-docker)
    local: bool = False  # workers as local subprocesses (run.py --local): docker_only plugins are skipped
    clients: dict = None  # run.py --clients: {"levels": [N, ...], "seconds": s, "warmup": s} (harness.clients)

    @property
    def workload(self):
        return workload_name(self.ds.name, self.queries, self.tag)

    @property
    def query_ids(self):
        return sample_queries(self.ds.nq, self.queries)


@dataclass
class Job:
    definition: object
    todo: list          # [{"scenario", "query_args", "run_name"}] still to run
    code_hash: str


@dataclass
class Plan:
    jobs: list = field(default_factory=list)
    done: int = 0                 # passes already finished (same hashes)
    failed_before: int = 0        # passes recorded as failed with the same code (--force retries)
    host_retries: int = 0         # passes that failed because of the host last time: run again
    skipped_constraints: int = 0  # combinations skipped by constraints
    unsupported: list = field(default_factory=list)  # (algorithm, why)
    failed_before_reasons: list = field(default_factory=list)  # ("algorithm: reason", cause) per such pass


def _record(path):
    """The attributes of a result file or the content of a failure record; None if unreadable."""
    if not is_regular_file(path):
        return None
    try:
        if path.endswith(".hdf5"):
            return read_attrs(path)
        with open(path) as f:
            record = json.load(f)
        return record if isinstance(record, dict) else None
    except (OSError, ValueError, KeyError):
        return None


def _current(record, dataset_hash, code_hash):
    return record is not None and record.get("dataset_hash") == dataset_hash and record.get("code_hash") == code_hash


def _has_clients(record, clients):
    """Whether a result holds the concurrent-client levels run.py --clients asks for (any result
    does when it asks for none)."""
    return not clients or json.dumps(record.get("client_settings"), sort_keys=True) == json.dumps(clients, sort_keys=True)


def plan(sweep, selection, scenarios):
    """The jobs to run: selection is [(AlgorithmConfig, Group)]; scenarios a list of scenario
    names or None for every scenario of the dataset."""
    ds, force = sweep.ds, sweep.force
    p = Plan()
    available = ds.scenario_names if scenarios is None else [s for s in scenarios if s in ds.scenario_names]
    for cfg, group in selection:
        if ds.distance not in cfg.distances:
            p.unsupported.append((cfg.name, f"does not support distance '{ds.distance}'"))
            continue
        if sweep.local and cfg.docker_only:
            p.unsupported.append((cfg.name, "runs in Docker only (its packages, pinned in "
                                            f"{os.path.relpath(os.path.dirname(cfg.path), ROOT)}/requirements.txt, cannot share "
                                            "the harness's environment): python -m install --algorithm "
                                            f"{cfg.name}, then run.py without --local"))
            continue
        missing = missing_packages(cfg.packages) if sweep.local else []
        if missing:
            p.unsupported.append((cfg.name, f"its packages are not installed here ({', '.join(missing)}): pip install -r "
                                            f"{os.path.relpath(os.path.dirname(cfg.path), ROOT)}/requirements.txt for "
                                            f"--local, or python -m install --algorithm {cfg.name} and run.py without "
                                            "--local"))
            continue
        spec = lambda s: None if s == UNFILTERED else ds.scenarios[s].predicate.spec
        run_scenarios = [s for s in available if cfg.answers(spec(s), ds.fixed_length_attributes)]
        skipped = [s for s in available if s not in run_scenarios]
        if skipped:
            kinds = "predicates of every kind" if cfg.predicates == "all" else ", ".join(cfg.predicates)
            if cfg.fixed_length_labels:
                kinds += (" on attributes whose items all carry the same number of labels ("
                          f"{', '.join(ds.fixed_length_attributes) or 'none in this dataset'})")
            p.unsupported.append((cfg.name, f"answers {kinds}, so not {', '.join(skipped)}"))
        if not run_scenarios:
            continue
        definitions, skipped = expand(cfg, group, ds.d)
        p.skipped_constraints += skipped
        for defn in definitions:
            code = system.code_hash(defn.plugin_dir)
            todo = []
            for k in sweep.counts:
                build_record = _record(os.path.join(sweep.root, failure_relpath(sweep.workload, k, defn.algorithm,
                                                                               defn.build_name)))
                build_failed = not force and _current(build_record, ds.content_hash, code)
                for scenario in run_scenarios:
                    for query_args in defn.query_args:
                        result, failed = _pass_paths(sweep, defn, scenario, query_args, k)
                        failure = build_record if build_failed else _record(failed)
                        record = _record(result)
                        if not force and _current(record, ds.content_hash, code) and _has_clients(record, sweep.clients):
                            p.done += 1
                        elif not force and _current(failure, ds.content_hash, code) and failure.get("cause") != HOST_FAULT:
                            p.failed_before += 1
                            p.failed_before_reasons.append((f"{defn.algorithm}: {failure.get('reason')}", "plugin"))
                        else:
                            p.host_retries += failure is not None and failure.get("cause") == HOST_FAULT
                            todo.append({"scenario": scenario, "query_args": query_args, "k": k,
                                         "run_name": defn.run_name(query_args)})
            if todo:
                p.jobs.append(Job(defn, todo, code))
    return p


def missing_packages(packages):
    """The packages a plugin declares that this Python does not have (a --local run skips it)."""
    from importlib import metadata
    missing = []
    for name in packages:
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def _pass_paths(sweep, defn, scenario, query_args, k):
    """Where one pass's result file and its failure record go."""
    run_name = defn.run_name(query_args)
    return (os.path.join(sweep.root, result_relpath(sweep.workload, scenario, k, defn.algorithm, run_name)),
            os.path.join(sweep.root, failure_relpath(sweep.workload, k, defn.algorithm, defn.build_name,
                                                     scenario, run_name)))


# --- One results directory and workload at a time -----------------------------------------------

class Busy(Exception):
    """Another sweep holds the lock of this results directory and workload."""


class WorkloadLock:
    """An exclusive lock (flock: released by release() or when the process ends, however it
    ends) on one workload of one results directory."""

    def __init__(self, root, workload):
        self.path = os.path.join(root, ".locks", f"{workload}.lock")
        self.workload, self.root, self.fd = workload, root, None

    def acquire(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise Busy(f"another run.py (pid {holder}) is sweeping {self.workload} into {self.root}: wait for it "
                       f"to finish, or give this one another --results") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        return self

    def release(self):
        """Released before the process ends: harness.experiments runs several sweeps in one process."""
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None


def staging_dir(sweep):
    return os.path.join(sweep.root, ".runs", sweep.workload)


def recover(sweep):
    """Takes in the finished files that an interrupted sweep of this workload left in
    results/.runs/ (each checked as if its worker had just ended) and removes the rest.
    Call with the workload's lock held. Returns (passes recovered, entries discarded)."""
    staging = staging_dir(sweep)
    if not os.path.isdir(staging):
        return 0, 0
    recovered = discarded = 0
    for name in sorted(os.listdir(staging)):
        run_dir = os.path.join(staging, name)
        spec = _record(os.path.join(run_dir, "job.json"))
        plugin_dir = ((spec or {}).get("definition") or {}).get("plugin_dir")
        current = (spec is not None and spec.get("dataset_hash") == sweep.ds.content_hash and plugin_dir
                   and os.path.isdir(plugin_dir) and spec.get("code_hash") == system.code_hash(plugin_dir))
        out_dir = os.path.join(run_dir, "out")
        if current and os.path.isdir(out_dir):
            intake = take_in(spec, out_dir, sweep.root)
            recovered += len(intake.moved)
            discarded += len(intake.rejected)
        else:
            discarded += 1
        shutil.rmtree(run_dir, ignore_errors=True)
    return recovered, discarded


# --- One job -------------------------------------------------------------------------------------

@dataclass
class Outcome:
    ok: bool
    reason: str               # why the build failed as a whole ("" if it did not)
    seconds: float
    produced: int             # passes that produced a result the host accepted
    failed: list              # (scenario, run_name, reason, cause) of every pass without a result
    log: str
    cause: str = ""           # "plugin" or "host" when the build failed


def job_spec(job, sweep, engine):
    """What the worker is to do, and what the host will accept from it (job.json)."""
    defn = job.definition
    return {"definition": defn.__dict__, "build_name": defn.build_name, "todo": job.todo, "dataset": sweep.ds.name,
            "workload": sweep.workload, "dataset_hash": sweep.ds.content_hash,
            "query_ids": sweep.query_ids.tolist(), "query_sample_seed": QUERY_SAMPLE_SEED if sweep.queries else None,
            "runs": sweep.runs, "batch": sweep.batch, "code_hash": job.code_hash, "mode": engine.mode,
            "image_id": engine.image_id(defn), "memory_limit": engine.memory_limit, "cpus": engine.cpus,
            "clients": sweep.clients}


class StatusWatch:
    """While a worker runs, hands what it is doing (its status.json) and the seconds since it
    started to progress(phase, seconds) every STATUS_POLL: an ACORN build at yfcc-10M runs 35 minutes here."""

    def __init__(self, out_dir, progress):
        self.out_dir, self.progress, self.start = out_dir, progress, time.time()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self):
        while not self.stopped.wait(STATUS_POLL):
            status = read_status(self.out_dir)
            if status:
                self.progress(_phase(status), time.time() - self.start)

    def stop(self):
        self.stopped.set()
        self.thread.join()


def run_job(job, sweep, engine, progress=None):
    """Runs one job with an engine (LocalEngine or DockerEngine); never raises for a failing
    plugin. Raises Interrupted (after stopping the worker and keeping its finished passes).
    progress: called with the worker's phase while it runs (StatusWatch)."""
    defn = job.definition
    log_path = os.path.join(sweep.root, sweep.workload, "logs", defn.algorithm, f"{defn.build_name}.log")
    run_dir = None
    try:
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        os.makedirs(staging_dir(sweep), exist_ok=True)
        run_dir = tempfile.mkdtemp(prefix=f"{defn.algorithm}-", dir=staging_dir(sweep))  # renames stay atomic
        out_dir = os.path.join(run_dir, "out")
        os.makedirs(out_dir)
        os.chmod(run_dir, 0o755)
        os.chmod(out_dir, 0o777)  # the container's unprivileged user writes here, and only here
        spec = job_spec(job, sweep, engine)
        job_path = os.path.join(run_dir, "job.json")
        with open(job_path, "w") as f:
            json.dump(spec, f)
        os.chmod(job_path, 0o644)
    except OSError as e:  # a full disk before the worker starts: the host's fault, nothing to record
        if run_dir:
            shutil.rmtree(run_dir, ignore_errors=True)
        reason = f"the host could not prepare the run ({e.strerror or e}: {e.filename or sweep.root})"
        return Outcome(ok=False, reason=reason, seconds=0.0, produced=0, log=log_path, cause=HOST_FAULT,
                       failed=[(item["scenario"], item["run_name"], reason, HOST_FAULT) for item in job.todo])
    start = time.time()
    cause = ""
    watch = StatusWatch(out_dir, progress) if progress else None
    try:
        code, reason = engine.run(defn, sweep, job_path, out_dir, log_path)
    except EngineError as e:
        code, reason, cause = -1, f"{engine.engine_name} error: {e}", HOST_FAULT
    except OSError as e:  # the worker's log could not be written: a full disk
        code, reason, cause = -1, f"the host could not write the worker's log ({e.strerror or e})", HOST_FAULT
    except Interrupted:
        _conclude(job, sweep, spec, run_dir, -int(signal.SIGKILL), "stopped: run.py was interrupted", "",
                  time.time() - start, log_path, records=False)
        raise
    finally:
        if watch:
            watch.stop()
    return _conclude(job, sweep, spec, run_dir, code, reason, cause, time.time() - start, log_path)


FULL_DISK_BYTES = 1 << 20  # less free space than this where the worker writes: the disk is full


def disk_full(path):
    """Whether the filesystem holding `path` has (almost) no space left."""
    try:
        stats = os.statvfs(path)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < FULL_DISK_BYTES


def _worker_reason(code, status, log_path):
    """Why a worker failed, from its own status first; never a log line that merely came last."""
    if status.get("state") == "failed" and isinstance(status.get("reason"), str):
        return f"{' '.join(status['reason'].split())[:300]} (while {_phase(status)})"  # one line
    if code < 0:
        sig = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else f"signal {-code}"
        hint = " (out of memory?)" if -code == signal.SIGKILL else ""
        return f"killed by {sig}{hint} while {_phase(status)}"
    return f"exit code {code}, no error reported, while {_phase(status)} (see the log)"


def _phase(status):
    """What the worker was doing, from its status: 'pass containment M=16__ef=10 (2 passes done)'."""
    phase = str(status.get("phase") or "starting")[:200]
    done = status.get("passes_done") or 0
    return f"{phase} ({done} {'pass' if done == 1 else 'passes'} done before)" if done else phase


def _conclude(job, sweep, spec, run_dir, code, reason, cause, seconds, log_path, records=True):
    """Takes in the worker's files, writes the failure records, removes the run directory."""
    defn = job.definition
    out_dir = os.path.join(run_dir, "out")
    status = read_status(out_dir)
    full = disk_full(run_dir)  # before the run directory is removed, which frees what the worker wrote
    try:
        intake = take_in(spec, out_dir, sweep.root)
    except OSError as e:
        intake = None
        code, reason = code or -1, f"the host could not store the results: {e.strerror or e}"
        cause = HOST_FAULT
    shutil.rmtree(run_dir, ignore_errors=True)
    if code == EXIT_HOST_FAULT and status.get("state") != "failed":  # too full even for its status
        reason, cause = f"the disk is full: the worker could not write (exit {code}) while {_phase(status)}", HOST_FAULT
    elif code != 0 and full and cause != HOST_FAULT:  # e.g. HDF5 crashing on ENOSPC: not the plugin's doing
        reason = f"the disk is full: the worker died ({_worker_reason(code, status, log_path)})"
        cause = HOST_FAULT
    if code != 0 and not reason:
        reason = _worker_reason(code, status, log_path)
        cause = cause or (status.get("cause") if status.get("cause") in ("plugin", HOST_FAULT) else "plugin")
    elif code != 0 and status and cause != HOST_FAULT:
        reason += f" while {_phase(status)}"  # a timeout or the engine's OOM kill: say when
    elif code == 0 and status.get("state") != "done":
        reason = f"the worker exited 0 without finishing (while {_phase(status)})"
        cause = "plugin"
    if intake is not None and intake.rejected:
        listed = "; ".join(f"{rel}: {why}" for rel, why in intake.rejected[:3])
        more = f" and {len(intake.rejected) - 3} more" if len(intake.rejected) > 3 else ""
        reason = (reason + "; " if reason else "") + f"wrote files it does not own, rejected: {listed}{more}"
        cause = cause or "plugin"
    key = lambda item: (item["scenario"], item["run_name"], item["k"])
    produced = {key(item) for _, item in (intake.moved if intake else [])}
    reported = {key(item): (why, trace) for item, why, trace in (intake.reports if intake else [])}
    missing = [item for item in job.todo if key(item) not in produced and key(item) not in reported]
    if missing and not reason:
        reason, cause = f"the worker finished without writing {len(missing)} of its {len(job.todo)} results", "plugin"
    failed = [(item, *reported[key(item)][:1], "plugin", reported[key(item)][1]) if key(item) in reported
              else (item, reason, cause or "plugin", "")
              for item in job.todo if key(item) not in produced]
    if records:
        _write_records(job, sweep, spec["mode"], failed, reason, cause, log_path, len(produced))
    return Outcome(ok=not reason and not failed, reason=reason, seconds=seconds, produced=len(produced),
                   failed=[(item["scenario"], item["run_name"], why, c) for item, why, c, _ in failed],
                   log=log_path, cause=cause)


def _write_records(job, sweep, mode, failed, reason, cause, log_path, produced):
    """Failure records for what did not produce a result; stale ones removed for what did."""
    defn, ds = job.definition, sweep.ds
    common = {"algorithm": defn.algorithm, "build_args": defn.build_args, "dataset": ds.name,
              "workload": sweep.workload, "dataset_hash": ds.content_hash, "code_hash": job.code_hash,
              "mode": mode, "time": time.time(),
              "log": os.path.relpath(log_path, sweep.root)}
    failed_keys = set()
    try:
        for item, why, item_cause, trace in failed:
            if why == reason:
                continue  # the build's own record covers it
            _, path = _pass_paths(sweep, defn, item["scenario"], item["query_args"], item["k"])
            write_json(path, {**common, "k": item["k"], "scenario": item["scenario"], "query_args": item["query_args"],
                              "reason": why, "cause": item_cause, "traceback": trace})
            failed_keys.add(path)
        for k in dict.fromkeys(item["k"] for item in job.todo):  # a build's record under each k it served
            build = os.path.join(sweep.root, failure_relpath(sweep.workload, k, defn.algorithm, defn.build_name))
            if reason:
                write_json(build, {**common, "k": k, "reason": reason, "cause": cause or "plugin",
                                   "finished_passes": produced, "failed_passes": len(failed)})
            elif os.path.exists(build):
                os.remove(build)  # it ran through now
        for item in job.todo:
            _, path = _pass_paths(sweep, defn, item["scenario"], item["query_args"], item["k"])
            if path not in failed_keys and os.path.lexists(path):
                os.remove(path)  # a pass that has a result now leaves no stale record behind
    except OSError as e:  # a full disk: the failure is printed, and retried next run for lack of a record
        print(f"warning: could not write failure records of {defn.algorithm} {defn.build_name}: "
              f"{e.strerror or e}", file=sys.stderr)


# --- Limits --------------------------------------------------------------------------------------

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
MIN_MEMORY = 64 << 20


def parse_cpus(text):
    """A CPU list such as 0-1 or 0,2 checked against the CPUs this process may use; returns it
    normalized ("0,1")."""
    available = sorted(os.sched_getaffinity(0))
    cpus = set()
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            lo, hi = int(lo), int(hi or lo)
            if lo > hi or lo < 0:
                raise ValueError
            cpus.update(range(lo, hi + 1))
    except ValueError:
        raise LimitError(f"--cpus {text}: give CPU numbers such as 0-1 or 0,2 (this machine may use "
                         f"{_ranges(available)})") from None
    missing = sorted(cpus - set(available))
    if missing:
        raise LimitError(f"--cpus {text}: CPU {_ranges(missing)} is not available here (this machine may use "
                         f"{_ranges(available)})")
    return ",".join(map(str, sorted(cpus)))


def _ranges(cpus):
    return ",".join(str(c) for c in cpus) if len(cpus) < 3 or cpus[-1] - cpus[0] != len(cpus) - 1 \
        else f"{cpus[0]}-{cpus[-1]}"


def parse_memory(text):
    """A memory size such as 8g or 512m, in bytes; at least 64m and at most this machine's memory."""
    value = str(text).strip().lower()
    number = value.rstrip("bkmgt")
    unit = value[len(number):].rstrip("b") if value[len(number):] not in ("b", "") else ""
    try:
        size = int(float(number) * _UNITS[unit])
    except (ValueError, KeyError):
        raise LimitError(f"--memory {text}: give a size such as 8g or 512m") from None
    total = system.total_memory()
    if size < MIN_MEMORY:
        raise LimitError(f"--memory {text}: at least 64m")
    if total and size > total:
        raise LimitError(f"--memory {text}: more than this machine's {total >> 20}m")
    return size


def default_memory_limit():
    """Containers get three quarters of the machine's memory unless --memory says otherwise, so a
    plugin that runs away is stopped by its container, not by the kernel's choice of victim."""
    total = system.total_memory() or (8 << 30)
    return f"{(total * 3 // 4) >> 20}m"


# --- Engines -------------------------------------------------------------------------------------

class Reaper:
    """A watcher process (python -m harness.reaper) that stops the current worker when run.py
    dies, however it dies: it reads what to stop on its stdin and acts on end of file."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "harness.reaper"], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                     env=dict(os.environ, PYTHONPATH=ROOT), text=True)

    def _say(self, line):
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the watcher is gone: the other safeguards remain

    def watch(self, kind, ident):
        self._say(f"{kind} {ident}")

    def clear(self):
        self._say("clear")

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass


class LocalEngine:
    """The worker as a local subprocess (--local), in a process group of its own, killed with
    it; it also dies with run.py (it asks the kernel for that at start, see system.die_with_parent)."""
    mode = "local"
    memory_limit = None
    engine_name = "local engine"

    def __init__(self, reaper, cpus=None):
        self.reaper, self.cpus = reaper, cpus

    def image_id(self, defn):
        return None

    def run(self, defn, sweep, job_path, out_dir, log_path):
        cmd = [sys.executable, "-m", "harness.worker", "--dataset", os.path.abspath(sweep.worker_dataset),
               "--job", job_path, "--out", out_dir]
        # The repo root, and the directory holding the plugins folder (for plugins outside algorithms/).
        paths = [ROOT, os.path.dirname(os.path.dirname(os.path.abspath(defn.plugin_dir))),
                 os.environ.get("PYTHONPATH", "")]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p), PYTHONUNBUFFERED="1",
                   FILTERBENCH_PARENT_PID=str(os.getpid()))
        if self.cpus:
            env["FILTERBENCH_CPUS"] = self.cpus
        with open(log_path, "w") as log:
            log.write(f"$ {' '.join(cmd)}\n")
            log.flush()
            proc = None
            try:
                with stops_held():
                    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
                    self.reaper.watch("pgid", proc.pid)
                return proc.wait(timeout=sweep.timeout), ""
            except subprocess.TimeoutExpired:
                return -int(signal.SIGKILL), f"timeout: killed after {sweep.timeout:g} s (--timeout)"
            finally:
                if proc is not None:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)  # the worker, and anything it started
                    except ProcessLookupError:
                        pass
                    proc.wait()
                    self.reaper.clear()


class DockerEngine:
    """The worker in a fresh container of its plugin's image: no network, a non-root user with no
    capabilities and no way to gain any, a pids limit, a memory limit (three quarters of the
    machine's unless --memory), the worker's dataset copy mounted read-only and its own output
    directory the only writable mount; killed after the timeout (and by its own deadline if the
    host is gone); labelled with the run.py that started it; always removed."""
    mode = "docker"
    engine_name = "Docker engine"

    def __init__(self, reaper, cpus=None, memory=None):
        try:
            import docker
            self.client = docker.from_env(timeout=120)
            self.client.ping()
        except Exception as e:
            raise DockerError(f"no Docker engine reachable ({str(e).splitlines()[0][:120]}); start dockerd, "
                              f"or run with --local") from None
        self.reaper, self.cpus = reaper, cpus
        self.memory_limit = memory or default_memory_limit()
        self.images = {}
        self.runner = f"{socket.gethostname()}:{os.getpid()}:{system.process_start_time(os.getpid())}"

    def remove_stale(self):
        """Removes the containers that a run.py on this host left behind when it was killed."""
        removed = 0
        for container in self.client.containers.list(all=True, filters={"label": CONTAINER_LABEL}):
            host, _, rest = container.labels.get(CONTAINER_LABEL, "").partition(":")
            pid, _, started = rest.partition(":")
            if host != socket.gethostname() or not pid.isdigit():
                continue
            if system.process_start_time(int(pid)) != started:  # that run.py is gone
                try:
                    container.remove(force=True)
                    removed += 1
                except Exception:
                    pass
        return removed

    def check_images(self, definitions):
        """Every plugin image is there and runs the code on the host; else one line on how to build it."""
        import docker
        for defn in definitions:
            if defn.image in self.images:
                continue
            hint = f"python -m install --algorithm {defn.algorithm}"
            if not defn.plugin_dir.startswith(os.path.join(ROOT, "algorithms")):
                hint += f" --plugins {os.path.dirname(defn.plugin_dir)}"
            try:
                image = self.client.images.get(f"{defn.image}:latest")
            except docker.errors.ImageNotFound:
                raise DockerError(f"image {defn.image} is not built: run `{hint}`") from None
            if image.labels.get("filterbench.code_hash") != system.code_hash(defn.plugin_dir):
                raise DockerError(f"image {defn.image} holds other code than this checkout: run `{hint}`")
            self.images[defn.image] = image

    def image_id(self, defn):
        return self.images[defn.image].id

    def run(self, defn, sweep, job_path, out_dir, log_path):
        import docker
        import requests
        from docker.types import Mount
        dataset = os.path.abspath(sweep.worker_dataset)
        inside = "/data/dataset.hdf5"
        deadline = int(sweep.timeout) + CONTAINER_GRACE
        container, reason = None, ""
        # The watcher learns the container's name before the engine makes it: run.py killed at any
        # moment after this line leaves no container behind (announced after creation, a SIGKILL
        # in between would).
        name = f"filterbench-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.reaper.watch("container", name)
        try:
            with stops_held():
                try:
                    container = self.client.containers.run(
                        self.images[defn.image].id,
                        ["timeout", "-s", "KILL", str(deadline),
                         "python", "-m", "harness.worker", "--dataset", inside, "--job", "/job/job.json",
                         "--out", "/out"],
                        detach=True, network_mode="none", user="1000:1000", working_dir="/app", read_only=True,
                        tmpfs={"/tmp": ""}, environment={"PYTHONUNBUFFERED": "1", "PYTHONPATH": "/app"},
                        # Mounts, not volume strings: a ':' in a path is then just a character.
                        mounts=[Mount(inside, dataset, type="bind", read_only=True),
                                Mount("/job/job.json", job_path, type="bind", read_only=True),
                                Mount("/out", out_dir, type="bind", read_only=False)],
                        cap_drop=["ALL"], security_opt=["no-new-privileges"], pids_limit=PIDS_LIMIT,
                        cpuset_cpus=self.cpus, mem_limit=self.memory_limit, memswap_limit=self.memory_limit,
                        labels={CONTAINER_LABEL: self.runner}, name=name)
                except docker.errors.DockerException as e:
                    raise EngineError(str(e).splitlines()[0][:300]) from None
            try:
                code = container.wait(timeout=sweep.timeout)["StatusCode"]
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                container.kill()
                code, reason = -int(signal.SIGKILL), f"timeout: killed after {sweep.timeout:g} s (--timeout)"
            container.reload()
            if container.attrs["State"].get("OOMKilled"):
                code, reason = code or -1, f"out of memory: killed by the engine at its limit of {self.memory_limit}"
            elif code >= 128:
                code = -(code - 128)  # killed by a signal inside the container
            return code, reason
        except docker.errors.DockerException as e:
            raise EngineError(str(e).splitlines()[0][:300]) from None
        finally:
            if container is not None:
                try:
                    with open(log_path, "wb") as log:
                        log.write(f"$ docker run {self.images[defn.image].tags} worker ({container.short_id})\n".encode())
                        log.write(container.logs())
                except Exception:
                    pass
            try:  # by name: a container the engine made but failed to start has no handle here
                (container if container is not None else self.client.containers.get(name)).remove(force=True)
            except Exception:
                pass
            self.reaper.clear()
