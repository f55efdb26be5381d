"""ACORN-γ and ACORN-1 (native/src/acorn.cpp) through the plugin class: correctness, not speed
(benchmarks/acorn.py measures speed)."""
import os
import subprocess
import sys

import numpy as np
import pytest

from algorithms.acorn.module import Acorn
from tests.test_formats import write_tiny_yfcc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIANTS = {"acorn-gamma": dict(M=16, gamma=4, M_beta=32), "acorn-1": dict(M=16, gamma=1, efConstruction=40)}


def clustered(n=6000, d=16, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 4, (20, d))
    return (centers[rng.integers(20, size=n)] + rng.normal(0, 1, (n, d))).astype(np.float32)


def filter_maps(n, nq, selectivity, seed=1):
    masks = np.random.default_rng(seed).random((nq, n)) < selectivity
    return masks, np.packbits(masks, axis=1, bitorder="little")


def exact_top(X, q, mask, k):
    ids = np.flatnonzero(mask)
    return ids[np.argsort(((X[ids] - q) ** 2).sum(1), kind="stable")[:k]]


def fitted(X, threads=2, **params):
    algo = Acorn("euclidean", **params)
    algo.set_threads(threads)
    algo.fit(X, None)
    return algo


@pytest.fixture(scope="module")
def data():
    X = clustered()
    return X[:5500], X[5500:]


@pytest.mark.parametrize("variant", VARIANTS)
def test_never_returns_an_id_that_fails_the_filter(data, variant):
    X, Q = data
    algo = fitted(X, **VARIANTS[variant])
    for selectivity in (0.5, 0.05, 0.005):
        masks, bits = filter_maps(len(X), len(Q), selectivity)
        for fallback in (None, 0.0):  # the pure graph too
            algo.set_query_arguments(efSearch=64, fallback_selectivity=fallback)
            for i, q in enumerate(Q):
                ids = algo.filtered_query(q, 10, None, bits[i])
                assert masks[i][ids].all() and len(set(ids)) == len(ids)
            batch = algo.batch_filtered_query(Q, 10, [None] * len(Q), bits)
            assert all(masks[i][row[row >= 0]].all() for i, row in enumerate(batch))


@pytest.mark.parametrize("variant", VARIANTS)
def test_graph_search_is_accurate_where_the_predicate_is_navigable(data, variant):
    X, Q = data
    algo = fitted(X, **VARIANTS[variant])
    masks, bits = filter_maps(len(X), len(Q), 0.3)
    algo.set_query_arguments(efSearch=200, fallback_selectivity=0)
    recall = np.mean([len(set(algo.filtered_query(q, 10, None, bits[i]))
                          & set(exact_top(X, q, masks[i], 10))) / 10 for i, q in enumerate(Q)])
    assert recall >= 0.98
    assert algo.stats()["graph_queries"] == len(Q) and algo.stats()["exact_queries"] == 0


def test_each_query_takes_the_path_expected_to_do_less_work():
    # By default a query takes the exact scan when its work (passing x d) is at most the graph's
    # expected work at its selectivity (calibrated per efSearch): rare predicates are scanned,
    # answered exactly, and frequent ones take the graph.
    X = clustered(n=20100, d=128, seed=3)
    X, Q = X[:20000], X[20000:]
    algo = fitted(X, M=16, gamma=1, efConstruction=40)
    algo.set_query_arguments(efSearch=32)
    for selectivity, path in ((0.002, "exact"), (0.5, "graph")):
        masks, bits = filter_maps(len(X), len(Q), selectivity)
        expected = [masks[i].sum() * X.shape[1] <= algo.index.expected_graph_work(32, masks[i].sum() / len(X))
                    for i in range(len(Q))]
        assert all(expected) if path == "exact" else not any(expected), "the cost puts this selectivity on one path"
        before = algo.stats()
        for i, q in enumerate(Q):
            ids = algo.filtered_query(q, 10, None, bits[i])
            if path == "exact":
                assert list(ids) == list(exact_top(X, q, masks[i], 10))
        after = algo.stats()
        assert after[f"{path}_queries"] - before[f"{path}_queries"] == len(Q)
        if path == "exact":  # a scan computes each passing vector's distance once
            assert after["distance_computations"] - before["distance_computations"] == masks.sum()


def test_the_expected_graph_work_is_the_same_on_every_run(data):
    X, _ = data
    works = [[fitted(X, threads=1, M=16, gamma=4, M_beta=32).index.expected_graph_work(40, s) for s in (1e-3, 0.02, 0.5)]
             for _ in range(2)]
    assert works[0] == works[1] and all(w > 0 for w in works[0])


def test_a_fixed_fallback_threshold_is_still_honoured(data):
    X, Q = data
    algo = fitted(X, M=16, gamma=4, M_beta=32)
    algo.set_query_arguments(efSearch=32, fallback_selectivity=0.25)
    for selectivity, path in ((0.02, "exact"), (0.5, "graph")):
        _, bits = filter_maps(len(X), len(Q), selectivity)
        before = algo.stats()[f"{path}_queries"]
        for i, q in enumerate(Q):
            algo.filtered_query(q, 10, None, bits[i])
        assert algo.stats()[f"{path}_queries"] - before == len(Q)


def test_unfiltered_and_angular(data):
    X, Q = data
    algo = Acorn("angular", M=16, gamma=1, efConstruction=100)
    algo.fit(X, None)
    algo.set_query_arguments(efSearch=200)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    hits = 0
    for q in Q:
        truth = np.argsort(-(Xn @ (q / np.linalg.norm(q))), kind="stable")[:10]
        hits += len(set(algo.filtered_query(q, 10, None, None)) & set(truth))
    assert hits / (10 * len(Q)) >= 0.98


@pytest.mark.parametrize("variant", VARIANTS)
def test_same_seed_one_thread_same_index(data, variant, tmp_path):
    X, _ = data
    for i in range(2):
        fitted(X, threads=1, **VARIANTS[variant]).save(str(tmp_path / f"{i}.acorn"))
    assert (tmp_path / "0.acorn").read_bytes() == (tmp_path / "1.acorn").read_bytes()


def test_a_byte_base_builds_the_index_of_its_float_copy(tmp_path):
    # yfcc's uint8 base goes to the native build as stored (Acorn.stored_vectors): the index widens
    # it into its own floats, and must come out as if it had been given float32.
    X = np.clip(clustered(2000) * 8 + 128, 0, 255).astype(np.uint8)
    for name, base in (("bytes", X), ("floats", X.astype(np.float32))):
        fitted(base, threads=1, **VARIANTS["acorn-1"]).save(str(tmp_path / f"{name}.acorn"))
    assert (tmp_path / "bytes.acorn").read_bytes() == (tmp_path / "floats.acorn").read_bytes()


def test_save_load_round_trip_and_exact_size(data, tmp_path):
    X, Q = data
    algo = fitted(X, M=16, gamma=4, M_beta=32)
    path = str(tmp_path / "index.acorn")
    algo.save(path)
    assert os.path.getsize(path) == algo.index_size()
    loaded = Acorn("euclidean", M=16, gamma=4, M_beta=32)
    loaded.load(path)
    _, bits = filter_maps(len(X), len(Q), 0.3)
    for a in (algo, loaded):
        a.set_query_arguments(efSearch=50, fallback_selectivity=0)
    assert np.array_equal(algo.batch_filtered_query(Q, 10, [None] * len(Q), bits),
                          loaded.batch_filtered_query(Q, 10, [None] * len(Q), bits))
    (tmp_path / "bad.acorn").write_bytes(b"not an index")
    with pytest.raises(RuntimeError, match="not a FBACORN index"):
        loaded.load(str(tmp_path / "bad.acorn"))


@pytest.mark.parametrize("params, message", [
    (dict(M=16, gamma=2, M_beta=65), "M_beta must be at most 2·M·gamma = 64"),
    (dict(M=1, gamma=1, M_beta=2), "M must be at least 2"),
    (dict(M=16, gamma=0, M_beta=16), "gamma must be at least 1"),
])
def test_bad_parameters_are_refused(params, message):
    with pytest.raises(ValueError, match=message):
        Acorn("euclidean", **params)


def test_wrong_dimension_and_short_filter_map_are_refused(data):
    X, Q = data
    algo = fitted(X[:500], M=8, gamma=1)
    with pytest.raises(ValueError, match="dimension 8, the index 16"):
        algo.filtered_query(Q[0][:8], 10, None, None)
    with pytest.raises(ValueError, match="filter map has 10 bytes"):
        algo.filtered_query(Q[0], 10, None, np.ones(10, dtype=np.uint8))


def test_acorn_on_yfcc_end_to_end(tmp_path):
    """The headline command, `python run.py --algorithm acorn --dataset yfcc`, on tiny files in
    the track's formats."""
    write_tiny_yfcc(tmp_path / "raw" / "yfcc")
    env = dict(os.environ, FILTERBENCH_RAW=str(tmp_path / "raw"), FILTERBENCH_DATA=str(tmp_path / "data"))
    proc = subprocess.run([sys.executable, "run.py", "--local", "--algorithm", "acorn", "--dataset", "yfcc",
                           "--runs", "1", "--results", str(tmp_path / "results")],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ", 0 failed" in proc.stdout
    table = proc.stdout.split("Best QPS")[-1]
    for algorithm in ("acorn-gamma", "acorn-1"):
        row = next(line for line in table.splitlines() if line.startswith(algorithm))
        assert "<0.9" not in row, row
