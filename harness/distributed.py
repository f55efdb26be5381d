"""Sweeps spread over a Ray cluster (run.py --ray ADDRESS|local).

Each build configuration is one Ray task that holds `--ray-cpus` whole CPUs of its node (Ray's
num_cpus, and pinned: the task takes that many CPUs of the machine by lock files, and the worker
is bound to them, as --cpus binds it). On its node the task runs the same worker as a local sweep,
as a local subprocess (--local) or in the plugin's container, and sends back every entry of the
worker's output directory and its log; the host writes them into the job's own output directory
and takes them in with harness.intake, exactly as it takes in a local worker's: nothing is
accepted that the host did not check, and the results are those of a local sweep.

- Data: the dataset's worker copy (no ground truth) goes into Ray's object store once; a node
  writes it to its own cache the first time a task there needs it.
- Code: every node has this checkout at the same path (a shared or synchronised folder) with the
  project's requirements installed, and for Docker the plugins' images (python -m install).
- A task whose node or process is lost is retried on another node where there is one (at most
  RETRIES times), and the retry is written in the build's log and printed.
- Ctrl-C cancels every task: each stops its worker (killing the process group or removing the
  container) on the way out; the finished passes already returned are kept.
"""
import fcntl
import os
import socket
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from types import SimpleNamespace

from harness import runner
from harness.runner import ROOT

RETRIES = 3
# After Ctrl-C, the seconds a task gets to stop by itself before its process is killed (a cancel
# that meets a task just as Ray starts it can be lost; the task's reaper then stops its worker).
CANCEL_GRACE = 30
LOCKS = os.path.join(tempfile.gettempdir(), "filterbench-ray")


class RayError(Exception):
    """No Ray cluster reachable, or one that cannot run the jobs; the message says what to do."""


def connect(address):
    """ray.init for `local` (a cluster of this machine alone) or ADDRESS (host:port of a head node,
    or "auto"); the checkout's modules are importable in every task through PYTHONPATH."""
    try:
        import ray
    except ImportError:
        raise RayError("Ray is not installed: pip install -r requirements.txt") from None
    env = {"env_vars": {"PYTHONPATH": ROOT, "PYTHONUNBUFFERED": "1"}}
    if address not in ("local", "auto"):  # ray.init would retry an unreachable head for minutes
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise RayError(f"--ray {address}: give the head's HOST:PORT, auto, or local")
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except OSError as e:
            raise RayError(f"no Ray cluster at {address} ({e.strerror or e}); start one with `ray start --head`, "
                           f"or use --ray local") from None
    try:
        if address == "local":
            ray.init(runtime_env=env, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        else:
            ray.init(address=address, runtime_env=env, logging_level="ERROR", log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise RayError(f"no Ray cluster at {address} ({str(e).splitlines()[0][:160]}); start one with "
                       f"`ray start --head`, or use --ray local") from None
    return ray


class RayEngine:
    """Runs jobs as Ray tasks. `inner` is the engine a node runs the worker with: "local" or
    "docker" (its mode is what the results record, as in a sweep on one machine)."""

    engine_name = "Ray"

    def __init__(self, ray, inner, cpus_per_build, worker_dataset, memory=None, images=None):
        self.ray, self.mode, self.cpus_per_build = ray, inner, int(cpus_per_build)
        self.memory_limit = memory if inner == "docker" else None
        self.cpus = None  # chosen on each node (pinned there), recorded by the worker
        self.images = images or {}  # image name -> id, from the host's engine (Docker)
        self.dataset = {"size": os.path.getsize(worker_dataset), "name": os.path.basename(worker_dataset)}
        with open(worker_dataset, "rb") as f:
            self.dataset_ref = ray.put(f.read())  # once: every node reads it from the object store
        self.running = {}  # thread id -> ObjectRef in flight
        self.interrupted = None
        self.lock = threading.Lock()
        self.say = print
        self._remote = ray.remote(max_retries=0)(run_on_node)
        largest = max((node["Resources"].get("CPU", 0) for node in ray.nodes() if node["Alive"]), default=0)
        if largest < self.cpus_per_build:
            raise RayError(f"--ray-cpus {self.cpus_per_build}: no node of the cluster has that many CPUs "
                           f"(the largest has {largest:g})")

    def image_id(self, defn):
        return self.images.get(defn.image) if self.mode == "docker" else None

    def run(self, defn, sweep, job_path, out_dir, log_path):
        """Like LocalEngine.run: the worker's exit code and why it failed ("" if it did not)."""
        with open(job_path) as f:
            job_text = f.read()
        notes = []
        for attempt in range(RETRIES + 1):  # Ray schedules a retry on the nodes still alive
            with self.lock:  # a task is submitted and known to cancel_all at once, or not at all
                if self.interrupted is not None:
                    raise runner.Interrupted(self.interrupted)
                ref = self._remote.options(num_cpus=self.cpus_per_build).remote(
                    job_text, [self.dataset_ref], self.dataset, self.mode, self.cpus_per_build, sweep.timeout,
                    self.memory_limit, {"image": defn.image, "image_id": self.image_id(defn),
                                        "plugin_dir": defn.plugin_dir, "algorithm": defn.algorithm})
                self.running[threading.get_ident()] = ref
            try:
                answer = self.ray.get(ref)
                break
            except self.ray.exceptions.TaskCancelledError:
                raise runner.Interrupted(self.interrupted or 2) from None
            except self.ray.exceptions.RayTaskError as e:  # the task's own code failed on its node
                _write_log(log_path, notes, b"")
                raise runner.EngineError(f"the Ray task failed on its node: {str(e.cause)[:200]}") from None
            except (self.ray.exceptions.NodeDiedError, self.ray.exceptions.WorkerCrashedError,
                    self.ray.exceptions.ObjectLostError, self.ray.exceptions.RaySystemError) as e:
                note = f"[ray] attempt {attempt + 1} lost its node or process ({type(e).__name__}); retried"
                notes.append(note)
                self.say(f"{defn.algorithm} {defn.build_name}: {note}")
            finally:
                self.running.pop(threading.get_ident(), None)
        else:
            _write_log(log_path, notes, b"")
            raise runner.EngineError(f"lost its Ray node or process {RETRIES + 1} times")
        code, reason, entries, log, node = answer
        _write_entries(out_dir, entries)
        _write_log(log_path, notes + [f"[ray] ran on node {node}"], log)
        return code, reason

    def cancel_all(self, signum, force=False):
        """force=False: KeyboardInterrupt in each task, which stops its worker; True: the task's
        process killed."""
        with self.lock:
            self.interrupted = signum
            for ref in list(self.running.values()):
                self.ray.cancel(ref, force=force)


def _write_log(log_path, notes, log):
    with open(log_path, "wb") as f:
        for note in notes:
            f.write(note.encode() + b"\n")
        f.write(log)


def _write_entries(out_dir, entries):
    """The node's output directory, entry for entry: files as files, anything else as a link (which
    the intake rejects, naming it, as it rejects a link a local worker makes)."""
    for rel, kind, payload in entries:
        path = os.path.join(out_dir, rel)
        if os.path.relpath(path, out_dir).startswith(".."):
            continue  # a name climbing out: never written (harness.intake names only what is inside)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if kind == "file":
            with open(path, "wb") as f:
                f.write(payload)
        else:
            os.symlink(payload or "/dev/null", path)


def run_sweep_jobs(engine, sweep, jobs, report):
    """Runs every job at once through the cluster (Ray queues what does not fit); report(done,
    job, outcome) as each ends. Interrupted cancels every task, then is raised again."""
    pool = ThreadPoolExecutor(max(1, len(jobs)))
    futures = {pool.submit(runner.run_job, job, sweep, engine): job for job in jobs}
    pending, done = set(futures), 0
    try:
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when="FIRST_COMPLETED")
            for future in finished:
                done += 1
                report(done, futures[future], future.result())
    except runner.Interrupted as e:
        engine.cancel_all(e.signum)
        if wait(pending, timeout=CANCEL_GRACE).not_done:
            engine.cancel_all(e.signum, force=True)
        for future in pending:
            try:
                future.result()
            except runner.Interrupted:
                pass
        raise
    finally:
        pool.shutdown(wait=True)


# --- On the node ------------------------------------------------------------------------------

def run_on_node(job_text, dataset_refs, dataset, mode, cpus_wanted, timeout, memory, plugin):
    """A Ray task: the worker of one job on this node, its output directory sent back whole."""
    import ray
    node = ray.get_runtime_context().get_node_id()
    path = _node_dataset(node, dataset, dataset_refs[0])
    cpus = _take_cpus(cpus_wanted, timeout)
    with tempfile.TemporaryDirectory(prefix="filterbench-ray-") as run_dir:
        out_dir = os.path.join(run_dir, "out")
        os.makedirs(out_dir)
        os.chmod(run_dir, 0o755)
        os.chmod(out_dir, 0o777)  # a container's unprivileged user writes here
        job_path = os.path.join(run_dir, "job.json")
        with open(job_path, "w") as f:
            f.write(job_text)
        os.chmod(job_path, 0o644)
        log_path = os.path.join(run_dir, "worker.log")

        defn = SimpleNamespace(image=plugin["image"], plugin_dir=plugin["plugin_dir"], algorithm=plugin["algorithm"])
        job = SimpleNamespace(worker_dataset=path, timeout=timeout)  # what the engines read of a sweep

        reaper = runner.Reaper()
        try:
            code, reason = -1, ""
            engine = runner.LocalEngine(reaper, ",".join(map(str, cpus["ids"])))
            if mode == "docker":
                engine = runner.DockerEngine(reaper, ",".join(map(str, cpus["ids"])), memory)
                engine.check_images([defn])
                if plugin["image_id"] and engine.image_id(defn) != plugin["image_id"]:
                    raise runner.DockerError(f"this node's image {plugin['image']} is not the host's: run "
                                             f"`python -m install --algorithm {plugin['algorithm']}` here")
            code, reason = engine.run(defn, job, job_path, out_dir, log_path)
        except (runner.DockerError, runner.EngineError) as e:
            code, reason = -1, f"on node {socket.gethostname()}: {e}"
        finally:
            reaper.close()
            _release_cpus(cpus)
        log = b""
        if os.path.exists(log_path):
            with open(log_path, "rb") as f:
                log = f.read()
        return code, reason, _entries(out_dir), log, f"{node[:12]} ({socket.gethostname()})"


def _entries(out_dir):
    found = []
    for dirpath, dirnames, filenames in os.walk(out_dir):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, out_dir)
            if os.path.islink(full):
                found.append((rel, "link", os.readlink(full)))
            elif os.path.isfile(full):
                with open(full, "rb") as f:
                    found.append((rel, "file", f.read()))
            elif not os.path.isdir(full):
                found.append((rel, "other", ""))
    return found


def _node_dataset(node, dataset, ref):
    """The worker copy on this node: written from the object store by the first task here."""
    import ray
    folder = os.path.join(LOCKS, "data", node)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, dataset["name"])
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(path) or os.path.getsize(path) != dataset["size"]:
            tmp = f"{path}.tmp-{os.getpid()}"
            with open(tmp, "wb") as f:
                f.write(ray.get(ref))
            os.replace(tmp, path)
    os.chmod(path, 0o644)
    return path


def _take_cpus(count, timeout):
    """`count` CPUs of this machine held by lock files (shared by all Ray nodes on the machine, so
    two never pin the same CPU), waiting for them as Ray's own accounting promises they free."""
    allowed = sorted(os.sched_getaffinity(0))
    folder = os.path.join(LOCKS, "cpus")
    os.makedirs(folder, exist_ok=True)
    deadline = time.time() + timeout
    while True:
        held = []
        for cpu in allowed:
            f = open(os.path.join(folder, f"cpu-{cpu}.lock"), "w")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held.append((cpu, f))
            except BlockingIOError:
                f.close()
            if len(held) == count:
                return {"ids": [cpu for cpu, _ in held], "files": [f for _, f in held]}
        for _, f in held:
            f.close()
        if time.time() > deadline:
            raise TimeoutError(f"{count} free CPUs never came on {socket.gethostname()}")
        time.sleep(0.2)


def _release_cpus(cpus):
    for f in cpus["files"]:
        f.close()

