"""Plugins in their own containers on a real Docker engine: isolation, hardening, faults, ownership,
supervision, same numbers as --local.

Needs a running engine and images built by `python -m install` (.ci/run does both). Outside CI
the tests skip when no engine answers; in CI they fail."""
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from harness.dataset import Dataset
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
    scenarios = len(Dataset(small).scenario_names)
    assert rows["docker"].keys() == rows["local"].keys() and len(rows["docker"]) == 2 * scenarios  # × 2 algorithms
    for key, r in rows["docker"].items():
        assert r["mode"] == "docker" and rows["local"][key]["mode"] == "local"
        assert r["recall"] == rows["local"][key]["recall"], key
    import h5py
    any_result = os.path.join(tmp_path / "docker", next(iter(rows["docker"].values()))["path"])
    attrs = h5py.File(any_result).attrs
    assert attrs["image_id"].startswith("sha256:") and "numpy" in attrs["versions"]
    assert attrs["march"] == "x86-64-v3" == engine.images.get("filterbench-base:latest").labels["filterbench.march"]
    assert "avx2" in attrs["cpu_flags"] or "neon" in attrs["cpu_flags"] or attrs["cpu_flags"]


# The native plugins' smoke groups, each in its own image: (plugin, group, the filtered
# scenarios it answers). Unfiltered runs too, for all.
NATIVE_SMOKE = [("acorn", "acorn-1/smoke", ("unfiltered", "containment", "overlap", "equality", "fixed_equality",
                                             "range", "range-correlated", "containment-and-range")),
                ("ung", "ung/smoke", ("unfiltered", "containment", "overlap", "equality", "fixed_equality")),
                ("caps", "caps/smoke", ("unfiltered", "equality", "fixed_equality")),
                ("irangegraph", "irangegraph/smoke", ("range", "range-correlated")),
                ("stitched-diskann", "stitched-diskann/smoke", ("containment", "overlap", "equality", "fixed_equality")),
                ("nhq", "nhq/smoke", ("fixed_equality",))]


@pytest.mark.parametrize("plugin,group,scenarios", NATIVE_SMOKE)
def test_native_plugin_compiles_in_its_image_and_runs(engine, small, tmp_path, plugin, group, scenarios):
    proc = sh("-m", "install", "--algorithm", plugin)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run("--dataset", small, "--queries", "100", "--algorithm", group, results=tmp_path)
    assert proc.returncode == 0 and ", 0 failed" in proc.stdout, proc.stdout + proc.stderr
    rows = collect(str(tmp_path), "random-filter-s@q100", datasets_lookup=lambda n: small)
    assert {r["scenario"] for r in rows} == set(scenarios)
    for scenario in set(scenarios) - {"unfiltered"}:
        assert max(r["recall"] for r in rows if r["scenario"] == scenario) >= 0.98, scenario
    assert all(r["mode"] == "docker" and r["violations"] == 0 for r in rows)
    import h5py
    attrs = h5py.File(os.path.join(tmp_path, rows[0]["path"])).attrs
    assert attrs["march"] == "x86-64-v3" and "pybind11" in attrs["versions"]


def test_filtered_diskann_runs_the_real_library_in_its_image_and_nothing_it_returns_is_hidden(engine, small, tmp_path):
    # diskannpy pins numpy 1.25: its image has its own pins, and --local skips it with a line.
    proc = sh("-m", "install", "--algorithm", "filtered-diskann")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run("--dataset", small, "--queries", "100", "--algorithm", "filtered-diskann/smoke", results=tmp_path)
    assert proc.returncode == 0 and ", 0 failed" in proc.stdout, proc.stdout + proc.stderr
    rows = collect(str(tmp_path), "random-filter-s@q100", datasets_lookup=lambda n: small)
    assert {r["scenario"] for r in rows} == {"unfiltered", "containment", "overlap", "equality", "fixed_equality"}
    # The predicate check removes the ids that fail it; what it cannot judge (ids outside the base)
    # reaches the harness, which counts it. Recall is whatever the library reached.
    assert all(r["mode"] == "docker" and r["violations"] == 0 and r["out_of_range"] >= 0 for r in rows)
    assert all(0 <= r["recall"] <= 1 for r in rows)
    import h5py
    attrs = h5py.File(os.path.join(tmp_path, rows[0]["path"])).attrs
    versions = json.loads(attrs["versions"])
    assert versions["diskannpy"] == "0.7.0" and versions["numpy"] == "1.25.0"
    local = sh(os.path.join(ROOT, "run.py"), "--local", "--runs", "1", "--results", str(tmp_path / "local"),
               "--dataset", small, "--queries", "100", "--algorithm", "filtered-diskann/smoke")
    assert "skipping filtered-diskann: runs in Docker only" in local.stdout, local.stdout + local.stderr


# The graph the library built, read back from its files, for benchmarks.filtered_diskann_graph.
READ_BACK = """
import numpy as np
from algorithms.filtered_diskann.module import FilteredDiskann
from harness.attributes import Csr
rng = np.random.default_rng(0)
labels = Csr.from_rows([rng.choice(5, rng.integers(1, 3), replace=False) for _ in range(2000)])
algo = FilteredDiskann("euclidean", R=16, L=32)
algo.threads = 1
algo.fit(rng.standard_normal((2000, 8)).astype(np.float32), labels)
offsets, targets = algo.graph()
assert len(offsets) == 2001 and offsets[-1] == len(targets) and np.diff(offsets).max() <= 16
assert 0 <= targets.min() and targets.max() < 2000
starts = algo.start_nodes()
assert sorted(starts) == [0, 1, 2, 3, 4] and all(label in labels.row(s) for label, s in starts.items())
print("read back", len(targets), "edges")
"""


def test_filtered_diskann_graph_reads_back_from_the_library_files(engine):
    out = engine.containers.run("filterbench-filtered_diskann", ["python", "-c", READ_BACK], remove=True,
                                network_mode="none")
    assert b"read back" in out, out


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


def test_fashion_mnist_resnet_dataset_trains_in_its_image(engine, tmp_path):
    # fashion-mnist-xs: ResNet-18 trained for one short epoch on 2,000 images in the trainer
    # image, embeddings from the layer before the classifier, 2,000 base vectors.
    import json

    from datasets.fashion_mnist import DIRECTORY
    from harness.dataset import Dataset
    from harness.groundtruth import exact_distances
    if not os.path.exists(DIRECTORY):
        pytest.fail("CI must build fashion-mnist: apt-get install dataset-fashion-mnist")
    env = dict(os.environ, FILTERBENCH_DATA=str(tmp_path))
    build = [sys.executable, "-m", "datasets", "fashion-mnist-xs"]
    proc = subprocess.run(build, capture_output=True, text=True, cwd=ROOT, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "epoch 1: train loss" in proc.stdout and "label precision@5" in proc.stdout
    ds = Dataset(str(tmp_path / "fashion-mnist-xs.hdf5"))
    assert (ds.n, ds.d, ds.nq) == (2000, 512, 200) and (ds.labels.sizes() == 1).all()
    # Exact search scores 1.000 on it, like on every dataset the project builds (test_trust.py).
    exact = subprocess.run([sys.executable, "run.py", "--local", "--runs", "1", "--results", str(tmp_path / "results"),
                            "--dataset", str(tmp_path / "fashion-mnist-xs.hdf5"), "--algorithm", "bruteforce",
                            "--algorithm", "faiss-flat"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert exact.returncode == 0 and "HARNESS DEFECT" not in exact.stdout, exact.stdout + exact.stderr
    rows = collect(str(tmp_path / "results"), "fashion-mnist-xs", datasets_lookup=lambda n: str(tmp_path / "fashion-mnist-xs.hdf5"))
    assert len(rows) == 2 * len(ds.scenario_names) and all(r["recall"] == 1.0 for r in rows)
    report = json.loads(ds.attrs["training_report"])
    assert report["arch"] == "resnet18" and report["weights"] == "random (trained from scratch)"
    assert set(report["epochs"][0]) >= {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_precision",
                                        "val_recall", "val_f1", "lr"}
    assert 0.5 < ds.attrs["label_precision_at_5"] <= 1  # one short epoch: well above chance (0.1)
    for name, sc in ds.scenarios.items():
        for i in range(0, ds.nq, 50):
            ids = np.flatnonzero(sc.predicate.passes(np.arange(ds.n), sc.operands[i]))
            d = exact_distances("euclidean", ds.test[i], ds.train[ids])
            assert np.array_equal(sc.neighbors[i][:min(100, len(ids))], ids[np.lexsort((ids, d))][:100]), (name, i)
    # Training again from scratch (cache removed) gives the same vectors: the build is deterministic.
    import shutil
    shutil.rmtree(tmp_path / "cache")
    (tmp_path / "fashion-mnist-xs.hdf5").rename(tmp_path / "first.hdf5")
    proc = subprocess.run(build, capture_output=True, text=True, cwd=ROOT, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert Dataset(str(tmp_path / "fashion-mnist-xs.hdf5")).content_hash == Dataset(str(tmp_path / "first.hdf5")).content_hash


def test_containers_are_hardened_and_have_a_default_memory_limit(isolation_image, xxs, tmp_path):
    from harness.runner import PIDS_LIMIT, default_memory_limit
    proc = run("--dataset", xxs, "--plugins", PLUGINS, "--scenario", "containment", "--algorithm", "reports-limits",
               results=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    [record] = list_failures(str(tmp_path))
    limits = dict(word.split("=") for word in record["reason"].split(" (while")[0].split(": ", 1)[1].split())
    assert int(limits["CapEff"], 16) == 0 and limits["NoNewPrivs"] == "1" and limits["uid"] == "1000"
    assert int(limits["pids"]) == PIDS_LIMIT
    assert int(limits["memory"]) == int(default_memory_limit()[:-1]) << 20


def test_a_container_cannot_forge_results_or_read_the_ground_truth(isolation_image, xxs, tmp_path):
    results = tmp_path / "results"
    assert run("--dataset", xxs, "--plugins", PLUGINS, "--scenario", "containment", "--algorithm", "exact",
               results=results).returncode == 0
    [real] = glob.glob(str(results / "random-filter-xxs" / "containment" / "k=10" / "exact" / "*.hdf5"))
    before = open(real, "rb").read()
    proc = run("--dataset", xxs, "--plugins", PLUGINS, "--scenario", "containment", "--algorithm", "forger",
               results=results)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert open(real, "rb").read() == before
    [record] = list_failures(str(results))
    assert record["algorithm"] == "forger" and "wrote files it does not own, rejected" in record["reason"]
    assert "containment/k=10/exact/default__default.hdf5: not a file of this job" in record["reason"] \
        or "more" in record["reason"]
    for dirpath, dirnames, names in os.walk(results):
        assert not any(os.path.islink(os.path.join(dirpath, n)) for n in names + dirnames)
    log = open(results / "random-filter-xxs" / "logs" / "forger" / "victim=exact.log").read()
    assert "ground truth in the worker's dataset: none" in log


def test_paths_with_a_colon_work(isolation_image, xxs, tmp_path):
    odd = tmp_path / "with:colon"
    odd.mkdir()
    dataset = odd / "data:set.hdf5"
    import shutil
    shutil.copy(xxs, dataset)
    proc = run("--dataset", str(dataset), "--plugins", PLUGINS, "--scenario", "containment", "--algorithm", "exact",
               results=odd / "results")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _containers(label_value=None):
    import docker
    from harness.runner import CONTAINER_LABEL
    wanted = CONTAINER_LABEL if label_value is None else f"{CONTAINER_LABEL}={label_value}"
    for _ in range(20):
        try:
            return docker.from_env().containers.list(all=True, filters={"label": wanted})
        except docker.errors.NotFound:  # another run's container removed between the listing and its inspection
            time.sleep(0.1)
    return docker.from_env().containers.list(all=True, filters={"label": wanted})


def test_a_killed_run_leaves_no_container_and_stale_ones_are_removed(isolation_image, xxs, tmp_path):
    import docker
    from harness.runner import CONTAINER_LABEL
    cmd = [sys.executable, os.path.join(ROOT, "run.py"), "--runs", "1", "--results", str(tmp_path), "--dataset", xxs,
           "--plugins", PLUGINS, "--scenario", "containment", "--algorithm", "sleeps"]
    sweep = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not [c for c in _containers() if c.labels[CONTAINER_LABEL].split(":")[1] == str(sweep.pid)]:
        assert time.time() < deadline, "no container started"
        time.sleep(0.2)
    sweep.kill()  # SIGKILL: run.py cannot clean up; its watcher does
    sweep.wait()
    deadline = time.time() + 30
    while [c for c in _containers() if c.labels[CONTAINER_LABEL].split(":")[1] == str(sweep.pid)]:
        assert time.time() < deadline, "the container outlived run.py"
        time.sleep(0.2)
    # A container whose run.py is gone (here: a made-up one) is removed by the next run.py.
    image = docker.from_env().images.get("filterbench-isolation:latest")
    stale = docker.from_env().containers.create(image.id, ["sleep", "600"], labels={
        CONTAINER_LABEL: f"{socket.gethostname()}:999999:0"})
    proc = run("--dataset", xxs, "--plugins", PLUGINS, "--scenario", "containment", "--algorithm", "exact",
               results=tmp_path / "again")
    assert "removed 1 containers left running by a run.py that was killed" in proc.stdout, proc.stdout + proc.stderr
    assert stale.id not in {c.id for c in _containers()}


def test_sigterm_stops_the_container(isolation_image, xxs, tmp_path):
    from harness.runner import CONTAINER_LABEL
    cmd = [sys.executable, os.path.join(ROOT, "run.py"), "--runs", "1", "--results", str(tmp_path), "--dataset", xxs,
           "--plugins", PLUGINS, "--scenario", "containment", "--algorithm", "sleeps"]
    sweep = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not [c for c in _containers() if c.labels[CONTAINER_LABEL].split(":")[1] == str(sweep.pid)]:
        assert time.time() < deadline, "no container started"
        time.sleep(0.2)
    sweep.send_signal(signal.SIGTERM)
    _, err = sweep.communicate(timeout=60)
    assert sweep.returncode == 128 + signal.SIGTERM and err.strip().startswith("stopped by SIGTERM")
    assert not [c for c in _containers() if c.labels[CONTAINER_LABEL].split(":")[1] == str(sweep.pid)]
