"""harness.experiments and the reproduction report: the verdicts on hand-made tables, then two
experiments end to end with a plugin whose recall is known in advance (tests/plugins/tunable:
quality q and ef e return round(10 * min(1, (q + e - 1) / 4)) of the exact top 10)."""
import json
import os
import subprocess
import sys

import pytest

from harness import reproduction
from harness.experiments import best, cell

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGINS = os.path.join(ROOT, "tests", "plugins")


def verdict(claim, tables):
    try:
        return claim().measure(tables)
    except reproduction.Untestable as e:
        return str(e), "not testable"


def test_qps_at_recall_0_9_is_the_fastest_configuration_that_reaches_it():
    rows = [{"recall": 0.95, "qps": 800.0}, {"recall": 0.99, "qps": 300.0}, {"recall": 0.85, "qps": 5000.0}]
    assert best(rows) == (800.0, 0.99)
    assert best([{"recall": 0.5, "qps": 10.0}]) == (None, 0.5)  # never reached: no QPS, the best recall
    assert cell([(0.8, 100.0), (1.0, 50.0)]) == {"qps": 50.0, "recall": 1.0, "mean_recall": 0.9}


def test_a_claim_agrees_only_where_every_case_agrees():
    scenarios = {"table": {"containment": {"ung": {"qps": 900.0}, "acorn-1": {"qps": 500.0}},
                           "equality": {"ung": {"qps": 100.0}, "bruteforce": {"qps": 200.0}}}}
    measured, v = verdict(reproduction.UngLeadsContainmentEquality, {"scenarios": scenarios})
    assert v == "partly" and "equality: UNG 100 QPS, rank 2 of 2, first bruteforce 200" in measured
    scenarios["table"]["equality"]["ung"]["qps"] = 300.0
    assert verdict(reproduction.UngLeadsContainmentEquality, {"scenarios": scenarios})[1] == "agrees"


def test_leading_is_among_the_papers_methods_and_our_other_plugins_ahead_are_named():
    scenarios = {"table": {"containment": {"ung": {"qps": 900.0}, "faiss-hnsw-bitmap": {"qps": 1500.0}},
                           "equality": {"ung": {"qps": 300.0}, "bruteforce": {"qps": 200.0}}}}
    measured, v = verdict(reproduction.UngLeadsContainmentEquality, {"scenarios": scenarios})
    assert v == "agrees" and "rank 1 of 1 (ahead of the paper's methods: faiss-hnsw-bitmap 1,500)" in measured


def test_a_claim_whose_experiment_has_not_run_says_not_run_yet_with_the_command():
    [entry] = [f for f in reproduction.findings({}, "fashion-products")
               if f["claim"] == reproduction.UngLeadsContainmentEquality.claim]
    assert entry["verdict"] == "not run yet"
    assert entry["why"] == "not run yet: python -m harness.experiments scenarios --dataset fashion-products"


def test_a_claim_without_its_methods_is_not_testable_and_says_why():
    fixed = {"fixed-equality": {"table": {"hnswlib": {"qps": 10.0, "recall": 0.95}}}}
    assert verdict(reproduction.UngCapsLeadFixedEquality, fixed)[1] == "not testable"


def test_scaling_claims_compute_the_ratio_and_the_log_log_slope():
    scale = {"scale": {"percent": [10, 100], "table": {
        "hnswlib": {"10": {"n": 1000, "qps": 1000.0, "build_time": 1.0}, "100": {"n": 10000, "qps": 600.0, "build_time": 10.0}},
        "acorn-1": {"10": {"n": 1000, "qps": 1000.0, "build_time": 2.0}, "100": {"n": 10000, "qps": 200.0, "build_time": 20.0}},
        "ung": {"10": {"n": 1000, "qps": 900.0, "build_time": 20.0}, "100": {"n": 10000, "qps": 100.0, "build_time": 200.0}},
        "bruteforce": {"10": {"n": 1000, "qps": 100.0, "build_time": 0.1}, "100": {"n": 10000, "qps": 1.0, "build_time": 1.0}}}}}
    measured, v = verdict(reproduction.SizeBarelyMatters, scale)
    assert measured == "median QPS 100%/10% 0.20 over 3 index methods" and v == "disagrees"  # 0.6, 0.2, 0.11
    assert verdict(reproduction.BuildTimeLinear, scale) == ("median slope 1.00 over 4 algorithms (1 = linear)", "agrees")
    measured, v = verdict(reproduction.LabelAwareBuildSlower, scale)
    # UNG against ACORN-1 (hnswlib is none of the paper's label-agnostic methods): 200 s / 20 s
    assert v == "agrees" and measured == "label-aware/agnostic build time 10.0x (median 200.0 s vs 20.0 s)"


def experiments(*args, env):
    return subprocess.run([sys.executable, "-m", "harness.experiments", *args, "--dataset", "random-filter-xxs",
                           "--plugins", PLUGINS, "--local", "--algorithm", "tunable/tuning"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)


def test_two_experiments_end_to_end_with_known_recall_then_their_pages(xxs, tmp_path):
    from harness.dataset import Dataset
    from website import build_site
    env = dict(os.environ, FILTERBENCH_DATA=os.path.dirname(xxs))
    results = tmp_path / "results"
    for name in ("label-length", "top-k"):
        proc = experiments(name, "--results", str(results), env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # top-k: each build searched at the four k label-length did not run (k=10 is reused).
    assert "6 builds to run (72 query passes); 18 passes already done" in proc.stdout, proc.stdout
    folder = results / "experiments" / "random-filter-xxs"

    lengths = json.loads((folder / "label-length.json").read_text())
    ds = Dataset(xxs)
    with_labels = [s for s, sc in ds.scenarios.items() if "labels_short" in sc.groups]
    assert sorted(lengths["table"]) == sorted(with_labels) and "containment" in with_labels
    for scenario, algos in lengths["table"].items():
        for group, c in algos["tunable"].items():
            # Of the 9 (quality, ef) pairs, 5 keep all 10, two keep 8 and one 5: recall 0.9 on average;
            # every query group alike, since the plugin keeps the same share of every query's top 10.
            assert c["mean_recall"] == pytest.approx(0.9) and c["recall"] == pytest.approx(1.0)
            assert c["qps"] > 500  # a waste=0 setting: waste=2 costs 2 ms a query, at most 500 QPS

    top = json.loads((folder / "top-k.json").read_text())
    assert top["scenario"] == "containment" and top["k"] == [1, 10, 25, 50, 100]
    assert all(top["table"]["tunable"][str(k)]["recall"] == pytest.approx(1.0) for k in top["k"])

    again = experiments("top-k", "--results", str(results), env=env)  # nothing is run twice
    assert again.returncode == 0 and "0 builds to run (0 query passes); 90 passes already done" in again.stdout

    report = experiments("report", "--results", str(results), env=env)
    assert report.returncode == 0, report.stdout + report.stderr
    findings = json.loads((folder / "report.json").read_text())["findings"]
    not_run = [f for f in findings if f["section"] == "5.3" and f["verdict"] == "not run yet"]
    assert any(f["why"] == "not run yet: python -m harness.experiments scenarios --dataset random-filter-xxs"
               for f in not_run)
    assert all(f["verdict"] not in ("not testable", "not run yet") or f["why"] for f in findings)  # gaps say why

    build_site(str(results), str(tmp_path / "site"), datasets_lookup=lambda n: xxs)
    page = (tmp_path / "site" / "experiments" / "random-filter-xxs" / "top-k.html").read_text()
    assert 'id="exp-top-k"' in page and "QPS at recall@k 0.9 against k" in page
    length_page = (tmp_path / "site" / "experiments" / "random-filter-xxs" / "label-length.html").read_text()
    assert all(f'id="exp-label-length-{s}"' in length_page for s in with_labels)
    home = (tmp_path / "site" / "index.html").read_text()
    assert "experiments/random-filter-xxs/report.html" in home
    report_page = (tmp_path / "site" / "experiments" / "random-filter-xxs" / "report.html").read_text()
    assert report_page.count("<tr class=\"verdict-") == len(findings)


def test_a_damaged_experiment_record_is_listed_not_fatal(xxs, tmp_path):
    from website import build_site
    folder = tmp_path / "results" / "experiments" / "random-filter-xxs"
    folder.mkdir(parents=True)
    (folder / "top-k.json").write_text(json.dumps({"experiment": "top-k", "dataset": "random-filter-xxs"}))
    (folder / "scale.json").write_text("{trunc")
    site = build_site(str(tmp_path / "results"), str(tmp_path / "site"), datasets_lookup=lambda n: xxs)
    reasons = dict(site.skipped)
    assert "unreadable experiment record" in reasons[os.path.join("experiments", "random-filter-xxs", "scale.json")]
    assert "report not understood: KeyError" in reasons[os.path.join("experiments", "random-filter-xxs", "top-k.json")]
    assert "top-k.json" in (tmp_path / "site" / "index.html").read_text()
