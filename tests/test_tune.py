"""harness.tune, the FANNS paper's Algorithm 1: the arithmetic by hand, then end to end with a
plugin whose best settings are known (tests/plugins/tunable)."""
import json
import os
import subprocess
import sys

import pytest
import yaml

from harness.tune import combine, frontier, interpolate, pick, ranks, subspaces

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGINS = os.path.join(ROOT, "tests", "plugins")


def test_scenarios_combine_as_mean_recall_and_harmonic_mean_qps():
    recall, qps = combine([(0.9, 1000.0), (0.7, 250.0)])
    assert recall == pytest.approx(0.8) and qps == pytest.approx(400.0)  # 2 / (1/1000 + 1/250)


def test_interpolation_follows_the_pareto_frontier_linearly():
    points = [(0.70, 5000.0), (0.85, 2000.0), (0.95, 1000.0), (0.90, 900.0), (0.99, 300.0)]
    assert frontier(points) == [(0.70, 5000.0), (0.85, 2000.0), (0.95, 1000.0), (0.99, 300.0)]  # (0.90, 900) beaten
    q80, q90, q95, q995 = interpolate(points, [0.8, 0.9, 0.95, 0.995])
    assert q80 == pytest.approx(5000 + (2000 - 5000) * (0.80 - 0.70) / 0.15)  # 3000
    assert q90 == pytest.approx(2000 + (1000 - 2000) * 0.05 / 0.10)           # 1500
    assert q95 == pytest.approx(1000.0) and q995 is None                       # beyond its best recall
    assert interpolate(points, [0.5]) == [5000.0]  # below its lowest recall: its fastest setting


def test_ranks_average_over_targets_and_unreached_targets_rank_last():
    r = ranks({"a": [3000.0, 1500.0, None], "b": [2000.0, 1800.0, 700.0], "c": [None, None, None]})
    assert r == {"a": pytest.approx((1 + 2 + 2) / 3), "b": pytest.approx((2 + 1 + 1) / 3), "c": pytest.approx((3 + 3 + 2) / 3)}


def test_subspaces_cut_the_sorted_values_of_one_parameter():
    builds = [{"M": m, "ef": e} for m in (8, 16, 32, 64) for e in (40, 100)]
    parts, values = subspaces(builds, "M", 2)
    assert values == [[8, 16], [32, 64]] and parts == [0, 0, 0, 0, 1, 1, 1, 1]
    assert subspaces(builds, "M")[1] == [[8], [16], [32], [64]]


def test_each_subspace_keeps_its_best_ranked_configuration():
    configurations = {"M=8_ef=40": {"build_args": {"M": 8, "ef": 40}, "points": [(0.8, 100.0), (0.9, 50.0)]},
                      "M=8_ef=100": {"build_args": {"M": 8, "ef": 100}, "points": [(0.85, 90.0), (0.95, 60.0)]},
                      "M=16_ef=40": {"build_args": {"M": 16, "ef": 40}, "points": [(0.9, 80.0), (0.99, 40.0)]}}
    report = {r["name"]: r for r in pick(configurations, [0.8, 0.9, 0.95], "M")}
    assert report["M=8_ef=100"]["picked"] and not report["M=8_ef=40"]["picked"]  # reaches 0.95, faster at 0.9
    assert report["M=16_ef=40"]["picked"] and report["M=16_ef=40"]["subspace"] == 1
    assert report["M=8_ef=40"]["qps_at"] == {"0.8": 100.0, "0.9": 50.0, "0.95": None}


def tune(*args, env):
    return subprocess.run([sys.executable, "-m", "harness.tune", "--plugins", PLUGINS, "--local", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)


def test_tuning_end_to_end_picks_the_known_best_settings_the_same_each_time(xxs, tmp_path):
    from website import build_site
    env = dict(os.environ, FILTERBENCH_DATA=os.path.dirname(xxs))
    results = tmp_path / "results"
    args = ["--algorithm", "tunable", "--dataset", "random-filter-xxs", "--queries", "40", "--results", str(results)]
    first = tune(*args, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "[6/6] tunable" in first.stdout and "s left" in first.stdout  # progress: done, remaining, estimate
    tuned = results / "tuning" / "random-filter-xxs" / "tunable.yml"
    picks = yaml.safe_load(tuned.read_text())["group"]["build"]
    assert picks == [{"quality": 2, "waste": 0}, {"quality": 3, "waste": 0}, {"quality": 4, "waste": 0}]
    report = json.loads((results / "tuning" / "random-filter-xxs" / "tunable.json").read_text())
    assert report["split"] == "quality" and report["targets"] == [0.8, 0.9, 0.95]
    for c in report["configurations"]:
        assert c["qps_at"] == dict(zip(["0.8", "0.9", "0.95"], interpolate([tuple(p) for p in c["points"]],
                                                                          [0.8, 0.9, 0.95])))
    again = tune(*args, env=env)  # resumes (nothing to build) and picks the same
    assert again.returncode == 0 and "0 builds to run" in again.stdout
    assert yaml.safe_load(tuned.read_text())["group"]["build"] == picks
    full = subprocess.run([sys.executable, "run.py", "--local", "--runs", "1", "--plugins", PLUGINS, "--dataset",
                           "random-filter-xxs", "--algorithm", "tunable/tuned", "--scenario", "containment",
                           "--results", str(results)], cwd=ROOT, env=env, capture_output=True, text=True)
    assert full.returncode == 0 and "3 builds to run" in full.stdout, full.stdout + full.stderr
    site = build_site(str(results), str(tmp_path / "site"), datasets_lookup=lambda n: xxs)
    page = (tmp_path / "site" / "tuning" / "random-filter-xxs-tunable.html").read_text()
    assert [t["algorithm"] for t in site.tunings] == ["tunable"] and page.count('class="picked"') == 3


def test_a_typo_in_the_grid_is_one_line_before_any_build(tmp_path):
    proc = tune("--algorithm", "tunable", "--dataset", "random-filter-xxs", "--grid", "qualty=1,2",
                "--results", str(tmp_path), env=dict(os.environ))
    assert proc.returncode == 2 and "Tunable.__init__ takes no argument 'qualty'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
