"""Plugins in their own containers on a real Docker engine: isolation, faults, same numbers as --local.

Needs a running engine and images built by `python -m install` (.ci/run does both). Outside CI
the tests skip when no engine answers; in CI they fail."""
import os
import socket
import subprocess
import sys

import pytest

from harness.export import collect
from harness.results import list_failures

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGINS = os.path.join(ROOT, "tests", "container_plugins")


@pytest.fixture(scope="module")
def engine():
    try:
        import docker
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as e:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Docker tests, but no engine answers: {e}")
        pytest.skip(f"no Docker engine: {e}")
    return client


def sh(*cmd, timeout=1800):
    return subprocess.run([sys.executable, *cmd], capture_output=True, text=True, cwd=ROOT, timeout=timeout)


def run(*args, results):
    return sh(os.path.join(ROOT, "run.py"), "--runs", "1", "--results", str(results), *args)


@pytest.fixture(scope="module")
def isolation_image(engine):
    proc = sh("-m", "install", "--plugins", PLUGINS, "--algorithm", "exact")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_install_reports_each_image_and_skips_unchanged_ones(isolation_image):
    again = sh("-m", "install", "--plugins", PLUGINS, "--algorithm", "exact")
    assert again.returncode == 0
    assert "filterbench-base             up to date" in again.stdout
    assert "filterbench-isolation        up to date" in again.stdout


def test_same_recall_in_containers_as_local(engine, small, tmp_path):
    proc = sh("-m", "install", "--algorithm", "bruteforce", "--algorithm", "faiss")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Deterministic plugins only (faiss' k-means and HNSW build depend on thread scheduling).
    selection = ["--algorithm", "bruteforce", "--algorithm", "faiss-flat/smoke"]
    for mode, extra in (("docker", []), ("local", ["--local"])):
        proc = run("--dataset", small, "--queries", "100", *selection, *extra, results=tmp_path / mode)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {mode: {(r["algorithm"], r["scenario"], str(r["query_args"])): r
                   for r in collect(str(tmp_path / mode), "random-filter-s@q100", datasets_lookup=lambda n: small)}
            for mode in ("docker", "local")}
    assert rows["docker"].keys() == rows["local"].keys() and len(rows["docker"]) == 10  # 5 scenarios × 2 algorithms
    for key, r in rows["docker"].items():
        assert r["mode"] == "docker" and rows["local"][key]["mode"] == "local"
        assert r["recall"] == rows["local"][key]["recall"], key
    import h5py
    any_result = os.path.join(tmp_path / "docker", next(iter(rows["docker"].values()))["path"])
    attrs = h5py.File(any_result).attrs
    assert attrs["image_id"].startswith("sha256:") and "numpy" in attrs["versions"]
    assert attrs["march"] == "x86-64-v3" == engine.images.get("filterbench-base:latest").labels["filterbench.march"]
    assert "avx2" in attrs["cpu_flags"] or "neon" in attrs["cpu_flags"] or attrs["cpu_flags"]


def test_native_plugin_compiles_in_its_image_and_runs(engine, small, tmp_path):
    proc = sh("-m", "install", "--algorithm", "acorn")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run("--dataset", small, "--queries", "100", "--algorithm", "acorn-1/smoke", results=tmp_path)
    assert proc.returncode == 0 and ", 0 failed" in proc.stdout, proc.stdout + proc.stderr
    rows = collect(str(tmp_path), "random-filter-s@q100", datasets_lookup=lambda n: small)
    assert {r["scenario"] for r in rows} == {"unfiltered", "containment", "overlap", "equality", "fixed_equality"}
    for scenario in {r["scenario"] for r in rows}:
        assert max(r["recall"] for r in rows if r["scenario"] == scenario) >= 0.98, scenario
    assert all(r["mode"] == "docker" and r["violations"] == 0 for r in rows)
    import h5py
    attrs = h5py.File(os.path.join(tmp_path, rows[0]["path"])).attrs
    assert attrs["march"] == "x86-64-v3" and "pybind11" in attrs["versions"]


def test_container_cannot_reach_host_network_dataset_or_files(isolation_image, xxs, tmp_path):
    sentinel = "/var/tmp/filterbench-host-sentinel"
    with open(sentinel, "w") as f:
        f.write("host secret")
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 47391))
    listener.listen(5)
    try:
        before = open(xxs, "rb").read()
        proc = run("--dataset", xxs, "--plugins", PLUGINS, "--scenario", "containment", "--algorithm", "opens-network",
                   "--algorithm", "writes-dataset", "--algorithm", "reads-host-file", "--algorithm", "exact",
                   results=tmp_path)
        assert open(xxs, "rb").read() == before
    finally:
        listener.close()
        os.remove(sentinel)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    reasons = {f["algorithm"]: f["reason"] for f in list_failures(str(tmp_path))}
    assert "ConnectionRefusedError" in reasons["opens-network"] or "OSError" in reasons["opens-network"]
    assert "Read-only file system" in reasons["writes-dataset"] or "Permission denied" in reasons["writes-dataset"]
    assert "FileNotFoundError" in reasons["reads-host-file"]
    rows = collect(str(tmp_path), "random-filter-xxs", datasets_lookup=lambda n: xxs)
    assert {r["algorithm"] for r in rows} == {"exact"}  # the sweep went on
    assert all(r["recall"] == 1.0 for r in rows)


def test_timeout_memory_and_errors_are_recorded_with_their_reason(isolation_image, xxs, tmp_path):
    proc = run("--dataset", xxs, "--plugins", PLUGINS, "--scenario", "containment", "--timeout", "10",
               "--memory", "512m", "--algorithm", "sleeps", "--algorithm", "allocates", "--algorithm", "raises",
               "--algorithm", "exact", results=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    reasons = {f["algorithm"]: f["reason"] for f in list_failures(str(tmp_path))}
    assert reasons["sleeps"].startswith("timeout: killed after 10 s")
    assert reasons["allocates"].startswith("out of memory")
    assert "RuntimeError: plugin gave up" in reasons["raises"]
    assert {r["algorithm"] for r in collect(str(tmp_path), "random-filter-xxs", datasets_lookup=lambda n: xxs)} == {"exact"}
    logs = os.path.join(tmp_path, "random-filter-xxs", "logs")
    assert sorted(os.listdir(logs)) == ["allocates", "exact", "raises", "sleeps"]
    import docker
    assert not docker.from_env().containers.list(all=True, filters={"ancestor": "filterbench-isolation:latest"})


def test_missing_image_gets_a_one_line_hint(engine, xxs, tmp_path):
    import docker
    try:
        docker.from_env().images.remove("filterbench-labelaware:latest", force=True)
    except docker.errors.ImageNotFound:
        pass
    plugins = os.path.join(ROOT, "tests", "plugins")
    proc = run("--dataset", xxs, "--plugins", plugins, "--algorithm", "own-labels", results=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"error: image filterbench-labelaware is not built: run "
                                   f"`python -m install --algorithm own-labels --plugins {plugins}`")


def test_no_engine_is_one_line_unless_local(xxs, tmp_path):
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent/docker.sock")
    proc = subprocess.run([sys.executable, "run.py", "--dataset", xxs, "--algorithm", "bruteforce",
                           "--results", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith("error: no Docker engine reachable") and "--local" in proc.stderr
