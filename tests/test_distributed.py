"""run.py --ray: a sweep spread over a real two-node Ray cluster on this machine (`ray start --head`
and a second `ray start` with its own resources), workers as local subprocesses on the nodes.
What must hold: the host takes in exactly what it takes in from a local sweep (same results, same
rejections), both nodes work, a lost task process is retried and recorded, Ctrl-C cancels all."""
import os
import secrets
import signal
import socket
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from harness.results import list_failures, list_results

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGINS = os.path.join(ROOT, "tests", "plugins")
# Ray 2.60 asks for token authentication; `ray start` refuses to run without a token, and a clean
# machine has none (~/.ray/auth_token). The test cluster gets its own, shared through the environment
# with every process that joins it.
ENV = dict(os.environ, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
MARKER = "filterbench-ray-"  # in the command line of every worker a Ray task starts (its run directory)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_cli(*args):
    ray = os.path.join(os.path.dirname(sys.executable), "ray")
    return subprocess.run([ray, *args], capture_output=True, text=True, env=ENV, timeout=180)


@pytest.fixture(scope="module")
def cluster():
    port = free_port()
    head = ray_cli("start", "--head", "--port", str(port), "--num-cpus", "1", "--include-dashboard=false",
                   "--disable-usage-stats")
    assert head.returncode == 0, head.stdout + head.stderr
    try:
        second = ray_cli("start", "--address", f"127.0.0.1:{port}", "--num-cpus", "1", "--resources",
                         '{"second_node": 1}', "--disable-usage-stats")
        assert second.returncode == 0, second.stdout + second.stderr
        yield f"127.0.0.1:{port}"
    finally:
        ray_cli("stop", "--force")


def run(*args, results, ray=None, wait=True):
    cmd = [sys.executable, os.path.join(ROOT, "run.py"), "--local", "--runs", "1", "--results", str(results),
           *(["--ray", ray] if ray else []), *args]
    if not wait:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=ENV)
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=600)


SELECTION = ["--plugins", PLUGINS, "--scenario", "containment", "--algorithm", "good", "--algorithm", "forger",
             "--algorithm", "ignores-filter", "--algorithm", "crash"]


def _neighbors(root):
    out = {}
    for path in list_results(str(root)):
        with h5py.File(path, "r") as f:
            out[os.path.relpath(path, root)] = f["neighbors"][()]
    return out


def test_no_cluster_at_the_address_is_one_line(xxs, tmp_path):
    proc = run("--dataset", xxs, "--algorithm", "bruteforce", results=tmp_path, ray=f"127.0.0.1:{free_port()}")
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: no Ray cluster at 127.0.0.1:")
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    proc = run("--dataset", xxs, "--algorithm", "bruteforce", results=tmp_path, ray="headnode")
    assert proc.returncode == 2 and "give the head's HOST:PORT, auto, or local" in proc.stderr


def test_a_sweep_on_two_nodes_takes_in_what_a_local_sweep_does(cluster, xxs, tmp_path):
    spread = run("--dataset", xxs, *SELECTION, results=tmp_path / "ray", ray=cluster)
    alone = run("--dataset", xxs, *SELECTION, results=tmp_path / "local")
    assert "Ray: 2 nodes, 2 CPUs" in spread.stdout, spread.stdout + spread.stderr
    assert spread.returncode == alone.returncode == 1  # crash and forger fail in both
    ours, theirs = _neighbors(tmp_path / "ray"), _neighbors(tmp_path / "local")
    assert set(ours) == set(theirs) and len(ours) == 3  # good, ignores-filter and the forger's own pass
    for name in ours:
        assert np.array_equal(ours[name], theirs[name]), name
    reasons = lambda root: sorted((f["algorithm"], f["reason"].split(" while ")[0]) for f in list_failures(str(root)))
    assert reasons(tmp_path / "ray") == reasons(tmp_path / "local")  # the forger's files rejected the same way
    logs = [open(os.path.join(d, f)).read() for d, _, files in os.walk(tmp_path / "ray" / "random-filter-xxs" / "logs")
            for f in files]
    nodes = {line.split()[4] for log in logs for line in log.splitlines() if line.startswith("[ray] ran on node")}
    assert len(nodes) == 2  # four builds of one CPU each over two one-CPU nodes


def _workers(marker):
    """(pid, parent pid) of the harness workers whose command line names `marker`."""
    out = subprocess.run(["ps", "-ww", "-eo", "pid,ppid,args"], capture_output=True, text=True).stdout
    return [(int(p), int(pp)) for p, pp, *rest in (line.split(None, 2) for line in out.splitlines()[1:])
            if rest and "harness.worker" in rest[0] and marker in rest[0]]


def _wait_for_workers(marker, count, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        found = _workers(marker)
        if len(found) >= count:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{count} workers never started")


def test_a_lost_task_process_is_retried_and_recorded(cluster, xxs, tmp_path):
    proc = run("--dataset", xxs, "--plugins", PLUGINS, "--scenario", "containment", "--algorithm", "slow",
               results=tmp_path, ray=cluster, wait=False)
    (_, task), = _wait_for_workers(MARKER, 1)
    os.kill(task, signal.SIGKILL)  # the Ray worker process running the task: as when its node goes
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    assert "slow default: [ray] attempt 1 lost its node or process (WorkerCrashedError); retried" in out + err
    assert len(list_results(str(tmp_path))) == 1 and not list_failures(str(tmp_path))
    log = open(tmp_path / "random-filter-xxs" / "logs" / "slow" / "default.log").read()
    assert log.startswith("[ray] attempt 1 lost its node or process")


def test_ctrl_c_cancels_every_task(cluster, xxs, tmp_path):
    proc = run("--dataset", xxs, "--plugins", PLUGINS, "--scenario", "containment", "--algorithm", "hang",
               "--algorithm", "slow", "--algorithm", "good", results=tmp_path, ray=cluster, wait=False)
    _wait_for_workers(MARKER, 2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGINT, out + err
    assert "stopped by" in err
    time.sleep(2)
    assert _workers(MARKER) == []  # every worker on every node is gone
    assert list_failures(str(tmp_path)) == []  # an interruption is not a failure of anybody's
