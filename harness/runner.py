"""The host side of a sweep: plan the runs, skip finished ones, start one worker per build
configuration, enforce the timeout, keep logs, record failures, move results into place.

A result is finished when its file exists with the same dataset hash and code hash; a build
that failed is recorded (results/<dataset>/failed/) and not retried with the same code unless
--force. An interrupted sweep therefore resumes where it stopped.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from harness import system
from harness.definitions import expand
from harness.filters import UNFILTERED
from harness.results import (failure_relpath, move_into, read_attrs, result_relpath, write_json)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Sweep:
    """What one `run.py` invocation measures, and where the results go."""
    ds: object
    dataset_path: str
    k: int
    runs: int
    batch: bool
    timeout: float
    root: str
    force: bool = False
    queries: int = 0  # 0: all; else only the first N queries, kept apart as workload "<dataset>@qN"

    @property
    def workload(self):
        return self.ds.name if not self.queries else f"{self.ds.name}@q{self.queries}"


@dataclass
class Job:
    definition: object
    todo: list          # [{"scenario": ..., "query_args": {...}}] still to run
    code_hash: str


@dataclass
class Plan:
    jobs: list = field(default_factory=list)
    done: int = 0                 # passes already finished (same hashes)
    failed_before: int = 0        # builds or passes recorded as failed with the same code
    skipped_constraints: int = 0  # combinations skipped by constraints
    unsupported: list = field(default_factory=list)  # (algorithm, why)


def _is_current(path, dataset_hash, code_hash):
    try:
        attrs = read_attrs(path) if path.endswith(".hdf5") else json.load(open(path))
    except Exception:
        return False  # unreadable: run it again
    return attrs.get("dataset_hash") == dataset_hash and attrs.get("code_hash") == code_hash


def plan(sweep, selection, scenarios):
    """The jobs to run: selection is [(AlgorithmConfig, Group)]; scenarios a list of scenario
    names or None for every scenario of the dataset."""
    ds, results_root, force = sweep.ds, sweep.root, sweep.force
    p = Plan()
    available = ds.scenario_names if scenarios is None else [s for s in scenarios if s in ds.scenario_names]
    for cfg, group in selection:
        if ds.distance not in cfg.distances:
            p.unsupported.append((cfg.name, f"does not support distance '{ds.distance}'"))
            continue
        run_scenarios = [s for s in available if s == UNFILTERED or s in cfg.scenarios]
        if not run_scenarios:
            p.unsupported.append((cfg.name, f"supports none of the scenarios {', '.join(available)}"))
            continue
        definitions, skipped = expand(cfg, group, ds.d)
        p.skipped_constraints += skipped
        for defn in definitions:
            code = system.code_hash(defn.plugin_dir)
            failure = os.path.join(results_root, failure_relpath(sweep.workload, defn.algorithm, defn.build_name))
            if not force and os.path.exists(failure) and _is_current(failure, ds.content_hash, code):
                p.failed_before += 1
                continue
            todo = []
            for scenario in run_scenarios:
                for query_args in defn.query_args:
                    result, failed = _pass_paths(sweep, defn, scenario, query_args)
                    if not force and os.path.exists(result) and _is_current(result, ds.content_hash, code):
                        p.done += 1
                    elif not force and os.path.exists(failed) and _is_current(failed, ds.content_hash, code):
                        p.failed_before += 1
                    else:
                        todo.append({"scenario": scenario, "query_args": query_args})
            if todo:
                p.jobs.append(Job(defn, todo, code))
    return p


def _pass_paths(sweep, defn, scenario, query_args):
    """Where one pass's result file and its failure record go."""
    run_name = defn.run_name(query_args)
    return (os.path.join(sweep.root, result_relpath(sweep.workload, scenario, sweep.k, defn.algorithm, run_name)),
            os.path.join(sweep.root, failure_relpath(sweep.workload, defn.algorithm, defn.build_name, scenario, run_name)))


@dataclass
class Outcome:
    ok: bool
    reason: str
    seconds: float
    moved: list
    log: str


def run_job(job, sweep, engine):
    """Runs one job with an engine (LocalEngine or DockerEngine); never raises for a failing plugin.
    The worker writes into an output directory of its own; finished files are moved into the
    results tree afterwards, also when the worker failed."""
    defn, ds, results_root = job.definition, sweep.ds, sweep.root
    log_path = os.path.join(results_root, sweep.workload, "logs", defn.algorithm, f"{defn.build_name}.log")
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    staging = os.path.join(results_root, ".runs")
    os.makedirs(staging, exist_ok=True)
    run_dir = tempfile.mkdtemp(prefix=f"{defn.algorithm}-", dir=staging)  # same filesystem: renames are atomic
    out_dir = os.path.join(run_dir, "out")
    os.makedirs(out_dir)
    os.chmod(run_dir, 0o755)
    os.chmod(out_dir, 0o777)  # the container's unprivileged user writes here
    job_path = os.path.join(run_dir, "job.json")
    with open(job_path, "w") as f:
        json.dump({"definition": defn.__dict__, "todo": job.todo, "dataset": ds.name, "workload": sweep.workload,
                   "queries": sweep.queries or ds.nq, "k": sweep.k, "runs": sweep.runs, "batch": sweep.batch,
                   "code_hash": job.code_hash, "mode": engine.mode, "image_id": engine.image_id(defn)}, f)
    os.chmod(job_path, 0o644)
    start = time.time()
    code, reason = engine.run(defn, sweep, job_path, out_dir, log_path)
    seconds = time.time() - start
    moved = move_into(out_dir, results_root)  # whatever finished before a failure is kept
    shutil.rmtree(run_dir, ignore_errors=True)
    for item in job.todo:  # a pass that has a result now leaves no stale failure record behind
        result, failed = _pass_paths(sweep, defn, item["scenario"], item["query_args"])
        if os.path.exists(result) and os.path.exists(failed):
            os.remove(failed)
    failure = os.path.join(results_root, failure_relpath(sweep.workload, defn.algorithm, defn.build_name))
    if code != 0:
        write_json(failure, {"algorithm": defn.algorithm, "build_args": defn.build_args, "reason": reason,
                             "log": os.path.relpath(log_path, results_root), "dataset": ds.name,
                             "workload": sweep.workload, "dataset_hash": ds.content_hash,
                             "code_hash": job.code_hash, "mode": engine.mode, "time": time.time(),
                             "finished_passes": len(moved)})
    elif os.path.exists(failure):
        os.remove(failure)  # it ran through now
    return Outcome(code == 0, reason, seconds, moved, log_path)


class LocalEngine:
    """The worker as a local subprocess (--local)."""
    mode = "local"

    def image_id(self, defn):
        return None

    def run(self, defn, sweep, job_path, out_dir, log_path):
        cmd = [sys.executable, "-m", "harness.worker", "--dataset", os.path.abspath(sweep.dataset_path),
               "--job", job_path, "--out", out_dir]
        # The repo root, and the directory holding the plugins folder (for plugins outside algorithms/).
        paths = [ROOT, os.path.dirname(os.path.dirname(os.path.abspath(defn.plugin_dir))),
                 os.environ.get("PYTHONPATH", "")]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p), PYTHONUNBUFFERED="1")
        with open(log_path, "w") as log:
            log.write(f"$ {' '.join(cmd)}\n")
            log.flush()
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                code = proc.wait(timeout=sweep.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return -1, f"timeout: killed after {sweep.timeout:g} s (--timeout)"
        return code, "" if code == 0 else _exit_reason(code, log_path)


class DockerError(Exception):
    """No engine, or a missing or outdated image; the message says what to run."""


class DockerEngine:
    """The worker in a fresh container of its plugin's image: no network, a non-root user, the
    dataset mounted read-only and its own output directory the only writable mount; CPU set and
    memory limit from the flags; killed after the timeout; always removed."""
    mode = "docker"

    def __init__(self, cpus=None, memory=None):
        try:
            import docker
            self.client = docker.from_env(timeout=120)
            self.client.ping()
        except Exception as e:
            raise DockerError(f"no Docker engine reachable ({str(e).splitlines()[0][:120]}); start dockerd, "
                              f"or run with --local") from None
        self.cpus, self.memory = cpus, memory
        self.images = {}

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
        import requests
        dataset = os.path.abspath(sweep.dataset_path)
        inside = f"/data/{os.path.basename(dataset)}"
        container = self.client.containers.run(
            self.images[defn.image].id,
            ["python", "-m", "harness.worker", "--dataset", inside, "--job", "/job/job.json", "--out", "/out"],
            detach=True, network_mode="none", user="1000:1000", working_dir="/app", read_only=True,
            tmpfs={"/tmp": ""}, environment={"PYTHONUNBUFFERED": "1", "PYTHONPATH": "/app"},
            volumes={dataset: {"bind": inside, "mode": "ro"}, job_path: {"bind": "/job/job.json", "mode": "ro"},
                     out_dir: {"bind": "/out", "mode": "rw"}},
            cpuset_cpus=self.cpus, mem_limit=self.memory, memswap_limit=self.memory)
        try:
            try:
                code = container.wait(timeout=sweep.timeout)["StatusCode"]
                reason = ""
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                container.kill()
                code, reason = -1, f"timeout: killed after {sweep.timeout:g} s (--timeout)"
            container.reload()
            with open(log_path, "wb") as log:
                log.write(f"$ docker run {self.images[defn.image].tags} worker ({container.short_id})\n".encode())
                log.write(container.logs())
            if container.attrs["State"].get("OOMKilled"):
                code, reason = code or -1, f"out of memory: killed by the engine at --memory {self.memory}"
            elif code != 0 and not reason:
                reason = _exit_reason(code if code < 128 else -(code - 128), log_path)
            return code, reason
        finally:
            container.remove(force=True)


def _exit_reason(code, log_path):
    if code < 0:
        sig = signal.Signals(-code).name
        hint = " (out of memory?)" if -code == signal.SIGKILL else ""
        return f"killed by {sig}{hint}"
    with open(log_path, errors="replace") as f:
        lines = [line.strip() for line in f if line.strip()]
    # The worker's last words are its "error:" line; stdout and stderr may reach the log out of order.
    errors = [line for line in lines if line.startswith("error: ")]
    return f"exit code {code}: {errors[-1] if errors else (lines[-1] if lines else 'no output')}"
