"""Real vector databases as plugins (algorithms/pgvector, qdrant, lancedb, chroma, sqlite_vec,
duckdb), each in its own image with its engine started by the plugin: their filter translations
select exactly what the harness's filter maps select, their exact or deepest settings find the
true neighbours in every scenario they declare, and they answer concurrent client processes
(run.py --clients). Needs a Docker engine (tests/test_docker.py says when these skip)."""
import json
import os

import h5py
import pytest

from harness.export import collect
from tests.test_docker import ROOT, engine, run, sh  # noqa: F401 (engine: a fixture)

ENGINES = ["pgvector", "qdrant", "lancedb", "chroma", "sqlite-vec", "duckdb"]
IMAGES = {name: f"filterbench-{name.replace('-', '_')}" for name in ENGINES}
ALL_SCENARIOS = {"unfiltered", "containment", "overlap", "equality", "fixed_equality", "range", "range-correlated"}

# Inside an engine's image: build the plugin on the mounted dataset with every attribute, and for
# half of each scenario's queries, and for `and`s of a containment and a range query (over two
# attributes of one row), compare the engine's own filtered count with the harness's filter map.
# Prints one JSON line: {"differ": {scenario: [[query, engine count, filter-map count], ...]}}
# for the queries where they differ, and for Qdrant the values its payload stores differently
# from what it was given.
TRANSLATION = """
import json, sys
import numpy as np
from harness.dataset import Dataset
from harness.filters import popcount
from algorithms.{module}.module import {cls} as Engine
ds = Dataset("/data/dataset.hdf5")
algo = Engine(ds.distance)
algo.fit(ds.train, dict(ds.attributes))
report = {{"differ": {{}}, "checked": 0}}
for name, sc in ds.scenarios.items():
    for i in range(0, len(sc.operands), 2):
        want = int(popcount(sc.predicate.filter_map(sc.operands[i])))
        got = algo.count(sc.predicate.filter(sc.operands[i]))
        report["checked"] += 1
        if got != want:
            report["differ"].setdefault(name, []).append([i, got, want])
from harness.predicates import Filter
labels, numbers = ds.scenarios["containment"], ds.scenarios["range"]
for i in range(0, len(labels.operands), 2):
    o_labels, o_range = labels.operands[i], numbers.operands[len(numbers.operands) - 1 - i]
    both = Filter("and", "", (labels.predicate.filter(o_labels), numbers.predicate.filter(o_range)))
    want = int(popcount(labels.predicate.filter_map(o_labels) & numbers.predicate.filter_map(o_range)))
    got = algo.count(both)
    report["checked"] += 1
    report["and_passing"] = report.get("and_passing", 0) + want
    if got != want:
        report["differ"].setdefault("and", []).append([i, got, want])
if "{module}" == "qdrant":
    import qdrant_edge as qe
    values = ds.attributes["cluster_value"].values
    stored = {{p.id: p.payload[algo.keys["cluster_value"]] for p in algo.shard.retrieve(
        list(range(ds.n)), with_payload=True, with_vector=False)}}
    report["shifted"] = [int(i) for i in range(ds.n) if stored[i] != float(values[i])]
    report["shift_bound"] = max([abs(stored[i] - float(values[i])) / np.spacing(float(values[i]))
                                 for i in report["shifted"]], default=0)
    bounds_shifted = {{float(values[i]) for i in report["shifted"]}}
    sc = ds.scenarios["range-correlated"]
    report["unexplained"] = [i for i, _, _ in report["differ"].get("range-correlated", [])
                             if not set(map(float, sc.operands[i])) & bounds_shifted]
algo.done()
print(json.dumps(report))
"""
MODULES = {"pgvector": "Pgvector", "qdrant": "Qdrant", "lancedb": "LanceDB", "chroma": "Chroma",
           "sqlite_vec": "SqliteVec", "duckdb": "DuckDB"}


@pytest.fixture(scope="module")
def images(engine):
    proc = sh("-m", "install", *[arg for name in ENGINES for arg in ("--algorithm", name)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return engine


@pytest.mark.parametrize("module", MODULES)
def test_filter_translation_selects_exactly_the_filter_map(images, xs, module):
    from docker.types import Mount
    script = TRANSLATION.format(module=module, cls=MODULES[module])
    out = images.containers.run(IMAGES[module.replace("_", "-")], ["python", "-c", script], remove=True,
                                network_mode="none", user="1000:1000", tmpfs={"/tmp": ""}, read_only=True,
                                mounts=[Mount("/data/dataset.hdf5", str(xs), type="bind", read_only=True)])
    report = json.loads(out.decode().strip().splitlines()[-1])
    assert report["checked"] > 500 and report["and_passing"] > 0
    if module != "qdrant":
        assert report["differ"] == {}, report
        return
    # Qdrant Edge stores some float payloads one unit in the last place away from the value it was
    # given (0.9.0, measured here), so a range bound equal to such a value misses that point. The
    # translation is exact; what differs is the stored value, and only in range scenarios over the
    # float attribute whose values it shifted.
    assert set(report["differ"]) <= {"range-correlated"}, report
    # Every differing query has a bound among the shifted values, none moved by more than one ulp.
    assert report["shift_bound"] <= 1 and report["unexplained"] == [], report


@pytest.mark.parametrize("name,group", [("pgvector", "pgvector/smoke"), ("qdrant", "qdrant/smoke"),
                                        ("lancedb", "lancedb/smoke"), ("chroma", "chroma/smoke"),
                                        ("sqlite-vec", "sqlite-vec/smoke"), ("duckdb", "duckdb/smoke")])
def test_engine_finds_the_true_neighbours_at_its_deepest_setting_and_under_concurrent_clients(images, xs, tmp_path,
                                                                                             name, group):
    proc = run("--dataset", xs, "--queries", "50", "--algorithm", group, "--clients", "2", "--client-seconds", "1",
               "--client-warmup", "0.2", results=tmp_path)
    assert proc.returncode == 0 and ", 0 failed" in proc.stdout, proc.stdout + proc.stderr
    rows = collect(str(tmp_path), "random-filter-xs@q50", datasets_lookup=lambda n: xs)
    assert {r["scenario"] for r in rows} == ALL_SCENARIOS
    for scenario in ALL_SCENARIOS:
        best = max(r["recall"] for r in rows if r["scenario"] == scenario)
        assert best >= 0.99, (name, scenario, best)
    for r in rows:
        assert r["mode"] == "docker" and r["violations"] == 0 and r["out_of_range"] == 0 and r["duplicates"] == 0
        # Every answer given under load is scored (a share of the queries, from each client's
        # offset): what finds the true neighbours alone finds them under load too.
        (level,) = r["clients"]
        assert level["clients"] == 2 and level["answers"] > 0 and level["qps"] > 0 and level["violations"] == 0
        if r["recall"] >= 0.999:
            assert level["recall"] >= 0.99, (name, r["scenario"], level)
    attrs = h5py.File(os.path.join(tmp_path, rows[0]["path"])).attrs
    about = json.loads(attrs["engine"])
    assert about["name"] and about["version"], about
