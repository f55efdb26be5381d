"""Inputs that cannot lie: every way a table, a dataset file or a report could let a wrong number in
through the edges, replayed on real files that the tests write themselves.

1. the table import never builds nonsense silently
2. nothing synthetic without saying so; dates read as dates
3. a tie rule that is tight at every dimension
4. bad data is refused when the dataset loads, not called a harness defect
(5, tuning, is in test_tune.py; 6, reports and plugins that say what went wrong, at the end here.)
"""
import json
import os
import re
import subprocess
import sys

import h5py
import numpy as np
import pytest

from harness.dataset import Dataset
from harness.metrics import Evaluator, rounding_magnitudes, ties

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGINS = os.path.join(ROOT, "tests", "plugins")
GENRES = ["Drama", "Comedy", "Action", "Horror", "Western"]


def import_table(tmp_path, name, table, *options):
    env = dict(os.environ, FILTERBENCH_DATA=str(tmp_path / "data"))
    return subprocess.run([sys.executable, "-m", "datasets", "import", name, "--table", str(table), *options],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def card_of(tmp_path, name):
    env = dict(os.environ, FILTERBENCH_DATA=str(tmp_path / "data"))
    proc = subprocess.run([sys.executable, "-m", "datasets", "info", name], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr


def vectors(n=400, d=8, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def write_csv(path, header, rows):
    path.write_text(header + "\n" + "".join(row + "\n" for row in rows))
    return path


def spaced(v):
    return '"' + " ".join(f"{x:.6f}" for x in v) + '"'


# --- 1. The table import never builds nonsense silently -----------------------------------------

def test_csv_rows_whose_fields_differ_from_the_header_are_refused_with_their_lines(tmp_path):
    # MovieLens' movies.csv holds titles with unquoted commas: "Duck, You Sucker (1971)".
    X = vectors()
    rows = [f"{i},{'Duck, You Sucker (1971)' if i % 50 == 7 else f'Film {i}'},{spaced(X[i])},{GENRES[i % 5]}"
            for i in range(len(X))]
    table = write_csv(tmp_path / "movies.csv", "movieId,title,vec,genres", rows)
    proc = import_table(tmp_path, "movies", table, "--vector", "vec", "--labels", "genres")
    one_line_error(proc, "8 rows do not have the header's 4 fields", "line (fields): 9 (5), 59 (5), 109 (5)",
                   "--skip-bad-rows")
    assert not (tmp_path / "data" / "movies.hdf5").exists()
    # Skipped on request, and counted on the card with their lines.
    proc = import_table(tmp_path, "movies", table, "--vector", "vec", "--labels", "genres", "--skip-bad-rows")
    assert proc.returncode == 0, proc.stderr
    ds = Dataset(tmp_path / "data" / "movies.hdf5")
    assert ds.n + ds.nq == 392 and set(ds.labels.vocabulary) == set(GENRES)
    assert ("import: 8 rows of the table left out (--skip-bad-rows): their number of fields differs from the "
            "header's; lines 9, 59, 109, 159, 209, 259, 309, 359") in card_of(tmp_path, "movies")


def test_a_vector_column_written_with_unquoted_commas_is_refused(tmp_path):
    X = vectors()
    rows = [f"{i},{','.join(f'{x:.6f}' for x in X[i])},{GENRES[i % 5]}" for i in range(len(X))]
    table = write_csv(tmp_path / "unquoted.csv", "id,vec,genres", rows)
    one_line_error(import_table(tmp_path, "unquoted", table, "--vector", "vec", "--labels", "genres"),
                   "400 rows do not have the header's 3 fields", "2 (10), 3 (10)")


def test_duplicate_column_names_are_refused(tmp_path):
    X = vectors()
    csv_table = write_csv(tmp_path / "dup.csv", "id,vec,genres,genres",
                          [f"{i},{spaced(X[i])},{GENRES[i % 5]},x" for i in range(len(X))])
    one_line_error(import_table(tmp_path, "dup", csv_table, "--vector", "vec", "--labels", "genres"),
                   "the column name 'genres' appears twice")
    jsonl = tmp_path / "dup.jsonl"
    jsonl.write_text("".join('{"vec": %s, "genres": "Drama", "genres": "x"}\n' % json.dumps(X[i].tolist())
                             for i in range(len(X))))
    one_line_error(import_table(tmp_path, "dup", jsonl, "--vector", "vec", "--labels", "genres"),
                   "dup.jsonl:1: the column name 'genres' appears twice")


def test_ragged_non_finite_and_missing_vectors_name_their_column_and_row(tmp_path):
    X = vectors()
    cells = [spaced(v) for v in X]
    cells[41] = spaced(X[41][:5])
    table = write_csv(tmp_path / "ragged.csv", "vec,genres", [f"{c},{GENRES[i % 5]}" for i, c in enumerate(cells)])
    one_line_error(import_table(tmp_path, "ragged", table, "--vector", "vec", "--labels", "genres"),
                   "--vector vec: row 42 (line 43) has 5 numbers, most rows 8")
    cells[41] = spaced(X[41]).replace(f"{X[41][3]:.6f}", "nan")
    table = write_csv(tmp_path / "nan.csv", "vec,genres", [f"{c},{GENRES[i % 5]}" for i, c in enumerate(cells)])
    one_line_error(import_table(tmp_path, "nan", table, "--vector", "vec", "--labels", "genres"),
                   "--vector vec: row 42 (line 43) holds NaN or infinity")
    # A null vector in JSON lines and in Parquet (a TypeError traceback before).
    jsonl = tmp_path / "null.jsonl"
    jsonl.write_text("".join(json.dumps({"vec": None if i == 17 else X[i].tolist(), "genres": GENRES[i % 5]}) + "\n"
                             for i in range(len(X))))
    one_line_error(import_table(tmp_path, "null", jsonl, "--vector", "vec", "--labels", "genres"),
                   "--vector vec: row 18 (line 18) has no vector")
    import pyarrow
    import pyarrow.parquet
    parquet = tmp_path / "null.parquet"
    pyarrow.parquet.write_table(pyarrow.table({"vec": [None if i == 9 else X[i].tolist() for i in range(len(X))],
                                               "genres": [GENRES[i % 5] for i in range(len(X))]}), str(parquet))
    one_line_error(import_table(tmp_path, "null", parquet, "--vector", "vec", "--labels", "genres"),
                   "--vector vec: row 10 has no vector")


def test_integers_that_a_range_cannot_hold_exactly_are_refused_and_the_others_stay_exact(tmp_path):
    X = vectors()
    big = [2 ** 62 + i for i in range(len(X))]  # would all collapse to one float64
    table = write_csv(tmp_path / "big.csv", "vec,genres,big",
                      [f"{spaced(X[i])},{GENRES[i % 5]},{big[i]}" for i in range(len(X))])
    one_line_error(import_table(tmp_path, "big", table, "--vector", "vec", "--labels", "genres", "--numbers", "big"),
                   "--numbers big: row 1 (line 2) holds 4611686018427387904, beyond +-2^53")
    exact = [2 ** 53 - 2000 + 3 * i for i in range(len(X))]
    table = write_csv(tmp_path / "exact.csv", "vec,genres,n,x",
                      [f"{spaced(X[i])},{GENRES[i % 5]},{exact[i]},{'inf' if i == 30 else i}" for i in range(len(X))])
    one_line_error(import_table(tmp_path, "exact", table, "--vector", "vec", "--numbers", "n,x"),
                   "--numbers x: row 31 (line 32) holds 'inf', not a finite number")
    table = write_csv(tmp_path / "exact.csv", "vec,genres,n",
                      [f"{spaced(X[i])},{GENRES[i % 5]},{exact[i]}" for i in range(len(X))])
    proc = import_table(tmp_path, "exact", table, "--vector", "vec", "--numbers", "n")
    assert proc.returncode == 0, proc.stderr
    ds = Dataset(tmp_path / "data" / "exact.hdf5")
    n = ds.attributes["n"].values
    assert n.dtype == np.int64 and set(n.tolist()) | set(ds.query_attributes["n"].values.tolist()) == set(exact)


def test_the_card_lists_a_small_vocabulary_whole_and_counts_labels_seen_once(tmp_path):
    X = vectors()
    table = write_csv(tmp_path / "few.csv", "vec,genres", [f"{spaced(X[i])},{GENRES[i % 5]}" for i in range(len(X))])
    assert import_table(tmp_path, "few", table, "--vector", "vec", "--labels", "genres").returncode == 0
    line = next(line for line in card_of(tmp_path, "few").splitlines() if line.startswith("attribute labels:"))
    assert "every label: " in line and all(f"{g} (" in line for g in GENRES)
    # A large vocabulary of junk (each title fragment a label of its own) shows as labels seen once.
    junk = [f"{spaced(X[i])},{GENRES[i % 5]}|fragment {i}" for i in range(len(X))]
    table = write_csv(tmp_path / "junk.csv", "vec,genres", junk)
    assert import_table(tmp_path, "junk", table, "--vector", "vec", "--labels", "genres").returncode == 0
    line = next(line for line in card_of(tmp_path, "junk").splitlines() if line.startswith("attribute labels:"))
    assert "; 360 labels occur once (e.g. 'fragment " in line


# --- 2. Nothing synthetic without saying so; dates as dates ---------------------------------------

def test_fixed_length_labels_are_called_synthetic_and_no_fixed_leaves_them_out(tmp_path):
    X = vectors()
    table = write_csv(tmp_path / "t.csv", "vec,genres", [f"{spaced(X[i])},{GENRES[i % 5]}" for i in range(len(X))])
    assert import_table(tmp_path, "with-fixed", table, "--vector", "vec", "--labels", "genres").returncode == 0
    card = card_of(tmp_path, "with-fixed")
    assert "attribute fixed: labels" in card and "(synthetic: drawn at random (F=4 positions x V=3 values" in card
    assert "[synthetic: reads fixed, drawn at random]" in next(line for line in card.splitlines()
                                                               if line.startswith("fixed_equality"))
    proc = import_table(tmp_path, "without", table, "--vector", "vec", "--labels", "genres", "--no-fixed")
    assert proc.returncode == 0, proc.stderr
    ds = Dataset(tmp_path / "data" / "without.hdf5")
    assert "fixed" not in ds.attributes and set(ds.scenarios) == {"containment", "overlap", "equality"}


def test_dates_are_shown_as_dates_on_the_card_and_the_site(tmp_path):
    from website import build_site
    X = vectors()
    days = [f"20{10 + i % 10}-0{1 + i % 9}-1{i % 10}" for i in range(len(X))]
    table = write_csv(tmp_path / "dated.csv", "vec,genres,released",
                      [f"{spaced(X[i])},{GENRES[i % 5]},{days[i]}" for i in range(len(X))])
    assert import_table(tmp_path, "dated", table, "--vector", "vec", "--labels", "genres", "--numbers",
                        "released").returncode == 0
    card = card_of(tmp_path, "dated")
    line = next(line for line in card.splitlines() if line.startswith("attribute released:"))
    assert line.startswith("attribute released: dates, min 2010-01-10, quartiles 20") and "max 2019-09-19" in line
    example = next(line for line in card.splitlines() if line.startswith("range-released"))
    assert re.search(r"released [<>]= \d{4}-\d\d-\d\d|\d{4}-\d\d-\d\d <= released", example), example
    path = str(tmp_path / "data" / "dated.hdf5")
    env = dict(os.environ, FILTERBENCH_DATA=str(tmp_path / "data"))
    proc = subprocess.run([sys.executable, "run.py", "--local", "--runs", "1", "--dataset", path, "--algorithm",
                           "bruteforce", "--scenario", "range-released", "--results", str(tmp_path / "results")],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    build_site(str(tmp_path / "results"), str(tmp_path / "site"), datasets_lookup=lambda n: path)
    page = (tmp_path / "site" / "datasets" / "dated.html").read_text()
    assert "released</strong>: dates, min 2010-01-10" in page and ">2010-01-10<" in page  # card and histogram


# --- 3. A tie rule that is tight at every dimension -----------------------------------------------

def _at_cosine(q, cos, rng):
    """A unit vector (float32) at the given cosine to the unit vector q."""
    w = rng.normal(size=len(q))
    w -= (w @ q) * q
    w /= np.linalg.norm(w)
    return (cos * q + np.sqrt(1 - cos * cos) * w).astype(np.float32)


def _openai_like(rng, d=1536):
    """A 1536-d unit query and base vectors around it at cosines 0.75 to 0.85, as text embeddings are."""
    q = rng.normal(size=d)
    q /= np.linalg.norm(q)
    return q.astype(np.float32), q


def test_at_1536_dimensions_a_vector_1e5_farther_than_the_kth_is_a_miss(tmp_path):
    from datasets.workloads import build_arrays
    from harness.dataset import write_dataset
    rng = np.random.default_rng(0)
    q32, q = _openai_like(rng)
    near = [_at_cosine(q, c, rng) for c in np.linspace(0.85, 0.80, 10)]  # the true top 10; the 10th at 0.80
    kth = near[-1].astype(np.float64)
    kth_distance = 1 - kth @ q32 / np.linalg.norm(kth) / np.linalg.norm(q32.astype(np.float64))
    farther = [_at_cosine(q, 1 - kth_distance - gap, rng) for gap in (1e-5, 1e-7)]
    others = [_at_cosine(q, c, rng) for c in rng.uniform(0.2, 0.7, 200)]
    train = np.stack(near + farther + others)
    arrays, _ = build_arrays(train, q32[None], "angular", {}, {}, {}, rng, log=lambda m: None)
    path = str(tmp_path / "d1536.hdf5")
    write_dataset(path, {"name": "d1536", "distance": "angular"}, arrays)
    ds = Dataset(path)
    assert list(ds.neighbors[0][:12]) == list(range(10)) + [11, 10]  # the construction: 10 true, then 1e-7, 1e-5
    gaps = [1 - train[i].astype(np.float64) @ q32 / np.linalg.norm(train[i].astype(np.float64))
            / np.linalg.norm(q32.astype(np.float64)) - kth_distance for i in (10, 11)]
    assert gaps[0] == pytest.approx(1e-5, rel=0.05) and 0 <= gaps[1] < 2e-7
    evaluator = Evaluator(ds)
    nine = list(range(9))
    assert evaluator.evaluate(np.array([nine + [10]]), "unfiltered", 10)[0]["recall"] == 0.9  # 1e-5 farther: a miss
    assert evaluator.evaluate(np.array([nine + [11]]), "unfiltered", 10)[0]["recall"] == 1.0  # 1e-7: float32 ties
    # The tolerance at this dimension, for the README: about 8e-6 in 1 - cosine.
    m = rounding_magnitudes("angular", q32, train[[9, 10]])
    assert not ties("angular", [kth_distance + 1e-5], kth_distance, m[1:], m[0], 1536).any()
    assert ties("angular", [kth_distance + 5e-6], kth_distance, m[1:], m[0], 1536).all()


def test_exact_search_at_1536_dimensions_scores_one_with_near_ties_and_duplicates(tmp_path):
    from algorithms.bruteforce.module import BruteForce
    from algorithms.faiss.module import FaissFlat
    from datasets.workloads import LABEL_SCENARIOS, build_arrays, label_attributes
    from harness.attributes import Csr
    from harness.dataset import write_dataset
    rng = np.random.default_rng(1)
    d, n, nq = 1536, 3000, 60
    centre = rng.normal(size=d)
    X = (rng.normal(size=(n + nq, d)) * 0.5 + centre).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    X[100:140] = X[0]  # duplicates, more than k
    X[200:300] = (X[300:400] + rng.normal(size=(100, d)).astype(np.float32) * 1e-6)  # near ties, below float32's reach
    X[n:n + 10] = X[0]  # queries equal to base vectors
    labels = Csr.from_rows([[i % 3, 3 + i % 2] for i in range(n + nq)], ["a", "b", "c", "d", "e"])
    attributes, query_attributes = label_attributes(labels, None, np.arange(n), np.arange(n, n + nq))
    arrays, _ = build_arrays(X[:n], X[n:], "angular", attributes, query_attributes,
                             {"containment": LABEL_SCENARIOS["containment"]}, rng, log=lambda m: None)
    path = str(tmp_path / "high.hdf5")
    write_dataset(path, {"name": "high", "distance": "angular"}, arrays)
    ds = Dataset(path)
    evaluator = Evaluator(ds)
    for cls in (BruteForce, FaissFlat):
        algo = cls("angular")
        algo.fit(ds.train, None)
        algo.set_query_arguments()
        for scenario in ds.scenario_names:
            sc = ds.scenarios.get(scenario)
            ids = np.stack([np.asarray(algo.filtered_query(ds.test[i], 10, sc and sc.filter(i), sc and sc.filter_map(i)))
                            for i in range(ds.nq)])
            assert evaluator.evaluate(ids, scenario, 10)[0]["recall"] == 1.0, (cls.__name__, scenario)


# --- 4. Bad data is refused when the dataset loads -----------------------------------------------

def _edited_copy(src, dst, edit):
    import shutil
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        edit(f)
    return str(dst)


def test_a_range_with_lo_above_hi_is_refused_when_the_dataset_loads(xxs, tmp_path):
    def swap(f):
        lo, hi = f["scenarios/range/operands/lo"], f["scenarios/range/operands/hi"]
        a, b = lo[7], hi[7]
        lo[7], hi[7] = (b, a) if a < b else (a + 1, a)
    bad = _edited_copy(xxs, tmp_path / "bad.hdf5", swap)
    proc = subprocess.run([sys.executable, "run.py", "--local", "--dataset", bad, "--algorithm", "bruteforce",
                           "--results", str(tmp_path / "results")], cwd=ROOT, capture_output=True, text=True)
    one_line_error(proc, "scenario 'range': query 7: the range is empty, lo ")


def test_a_nan_written_over_an_attribute_after_the_ground_truth_is_refused(xxs, tmp_path):
    ds = Dataset(xxs)
    sc = ds.scenarios["range"]
    victim = int(sc.neighbors[3][0])  # query 3's nearest valid vector

    def blank(f):
        values = f["attributes/uniform_value/values"]
        if values.dtype.kind != "f":  # integers cannot hold NaN: rewrite the column as floats
            data = values[()].astype(np.float64)
            del f["attributes/uniform_value/values"]
            values = f.create_dataset("attributes/uniform_value/values", data=data)
        values[victim] = np.nan
    bad = _edited_copy(xxs, tmp_path / "bad.hdf5", blank)
    proc = subprocess.run([sys.executable, "run.py", "--local", "--dataset", bad, "--algorithm", "bruteforce",
                           "--results", str(tmp_path / "results")], cwd=ROOT, capture_output=True, text=True)
    one_line_error(proc, f"its ground-truth neighbour {victim} fails the query's predicate",
                   "changed after the ground truth was computed")


# --- 6. Plugins, sweeps and exports that say what went wrong -------------------------------------

def _plugin(root, folder, config, module="from algorithms.bruteforce.module import BruteForce\n"):
    (root / folder).mkdir(parents=True)
    (root / folder / "__init__.py").write_text("")
    (root / folder / "config.yml").write_text(config)
    (root / folder / "module.py").write_text(module)


def _listing(plugins, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    return subprocess.run([sys.executable, "run.py", "--plugins", str(plugins), "--list-algorithms"], cwd=ROOT,
                          env=env, capture_output=True, text=True)


def test_a_syntax_error_in_one_plugin_is_its_one_line_error_and_the_rest_are_listed(tmp_path):
    plugins = tmp_path / "myplugins"
    plugins.mkdir()
    (plugins / "__init__.py").write_text("")
    _plugin(plugins, "good", "module: myplugins.good.module\nalgorithms:\n  fine: {class: BruteForce, runs: {smoke: {}}}\n")
    _plugin(plugins, "broken", "module: myplugins.broken.module\nalgorithms:\n  bad: {class: X, runs: {smoke: {}}}\n",
            module="class X(:\n    pass\n")
    proc = _listing(plugins, tmp_path)
    assert proc.returncode == 2 and proc.stdout.startswith("fine  (good/config.yml, class BruteForce)"), proc.stdout
    assert proc.stderr.strip() == f"error: {plugins}/broken/module.py:1: not valid Python (invalid syntax)"


@pytest.mark.parametrize("name, reads", [("123", "a number"), ("null", "no value")])
def test_algorithm_names_that_yaml_reads_as_numbers_or_null_are_refused(tmp_path, name, reads):
    plugins = tmp_path / "myplugins"
    plugins.mkdir()
    (plugins / "__init__.py").write_text("")
    _plugin(plugins, "odd", f"module: myplugins.odd.module\nalgorithms:\n  {name}: {{class: BruteForce, runs: {{smoke: {{}}}}}}\n")
    proc = _listing(plugins, tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert f"algorithms.{name}: the algorithm name {name} reads as {reads} in YAML, not as a name" in proc.stderr


def test_a_missing_class_is_named_when_the_config_loads_not_while_loading_the_dataset(tmp_path):
    plugins = tmp_path / "myplugins"
    plugins.mkdir()
    (plugins / "__init__.py").write_text("")
    _plugin(plugins, "gone", "module: myplugins.gone.module\nalgorithms:\n  gone: {class: Nowhere, runs: {smoke: {}}}\n")
    proc = _listing(plugins, tmp_path)
    assert proc.returncode == 2
    assert "algorithms.gone.class: module myplugins.gone.module defines no class 'Nowhere'" in proc.stderr


def test_a_rerun_of_a_sweep_whose_builds_all_failed_says_why_they_are_not_run(xxs, tmp_path):
    args = [sys.executable, "run.py", "--local", "--runs", "1", "--dataset", xxs, "--plugins", PLUGINS, "--algorithm",
            "crash", "--scenario", "containment", "--results", str(tmp_path)]
    first = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    assert first.returncode == 1 and "0 of 1 passes produced a result, 1 failed (1 builds failed)" in first.stdout
    again = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    assert "1 passes failed in an earlier run with the same code and were not run again" in again.stdout
    assert "1 pass failed before: crash: RuntimeError: index construction exploded" in again.stdout


def test_export_of_a_dataset_with_only_sample_results_names_the_sample_workload(xxs, tmp_path):
    run = subprocess.run([sys.executable, "run.py", "--local", "--runs", "1", "--dataset", xxs, "--algorithm",
                          "bruteforce", "--scenario", "containment", "--queries", "30", "--results",
                          str(tmp_path / "results")], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    proc = subprocess.run([sys.executable, "-m", "harness.export", "--results", str(tmp_path / "results"),
                           "--dataset", "random-filter-xxs", "--out", str(tmp_path / "export")], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "wrote 0 results" in proc.stdout
    assert ("note: no results of the workload random-filter-xxs; these workloads of it have results: "
            "random-filter-xxs@q30 (give one as --dataset)") in proc.stdout
