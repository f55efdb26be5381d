"""harness.tune, the FANNS paper's Algorithm 1: the arithmetic by hand, then end to end with a
plugin whose best settings are known (tests/plugins/tunable)."""
import json
import os
import subprocess
import sys

import pytest
import yaml

from harness.tune import combine, explain, frontier, interpolate, pick, ranks, subspaces

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


def test_the_ranking_and_the_picks_match_a_hand_computation():
    configurations = {
        "M=8_ef=40": {"build_args": {"M": 8, "ef": 40}, "points": [(0.80, 1000.0), (0.90, 500.0), (0.96, 200.0)]},
        "M=8_ef=100": {"build_args": {"M": 8, "ef": 100}, "points": [(0.85, 900.0), (0.95, 400.0)]},
        "M=16_ef=40": {"build_args": {"M": 16, "ef": 40}, "points": [(0.90, 300.0), (0.99, 100.0)]},
        "M=16_ef=100": {"build_args": {"M": 16, "ef": 100}, "points": [(0.97, 2000.0)]}}
    report = {r["name"]: r for r in pick(configurations, [0.8, 0.9, 0.95], "M")}
    # QPS at 0.8 / 0.9 / 0.95, interpolated by hand along each frontier:
    #   M=8_ef=40:   1000 (its lowest point) / 500 / 500 + (200 - 500) * 0.05 / 0.06 = 250
    #   M=8_ef=100:  900 / 900 + (400 - 900) * 0.05 / 0.10 = 650 / 400
    #   M=16_ef=40:  300 / 300 / 300 + (100 - 300) * 0.05 / 0.09 = 188.9
    #   M=16_ef=100: 2000 / 2000 / 2000 (even its cheapest setting is above every target)
    expected = {"M=8_ef=40": [1000, 500, 250], "M=8_ef=100": [900, 650, 400], "M=16_ef=40": [300, 300, 300 - 200 / 1.8],
                "M=16_ef=100": [2000, 2000, 2000]}
    for name, qps in expected.items():
        assert list(report[name]["qps_at"].values()) == pytest.approx(qps), name
    # Ranks within the subspace M=8: at 0.8 ef=40 leads, at 0.9 and 0.95 ef=100: means 5/3 and 4/3.
    assert report["M=8_ef=40"]["ranks"] == {"0.8": 1, "0.9": 2, "0.95": 2}
    assert report["M=8_ef=100"]["ranks"] == {"0.8": 2, "0.9": 1, "0.95": 1}
    assert report["M=8_ef=40"]["mean_rank"] == pytest.approx(5 / 3) and report["M=8_ef=100"]["mean_rank"] == pytest.approx(4 / 3)
    assert report["M=16_ef=100"]["mean_rank"] == 1 and report["M=16_ef=40"]["mean_rank"] == 2
    # M=8_ef=100 is the best of its subspace, but M=16_ef=100 is faster at every target: off the
    # Pareto front, so not picked; the only pick is M=16_ef=100.
    assert report["M=8_ef=100"]["dominated_by"] == "M=16_ef=100" and not report["M=8_ef=100"]["picked"]
    assert [n for n, r in report.items() if r["picked"]] == ["M=16_ef=100"]
    assert report["M=16_ef=100"]["dominated_by"] is None and explain(list(report.values()), [0.8, 0.9, 0.95]) == ""


def test_when_every_configuration_passes_every_target_at_its_cheapest_setting_the_report_says_so():
    configurations = {f"M={m}": {"build_args": {"M": m}, "points": [(0.97, q), (0.99, q / 2)]}
                      for m, q in ((16, 5811.0), (64, 3111.0))}
    report = pick(configurations, [0.8, 0.9, 0.95], "M")
    assert [r["qps_at"]["0.8"] == r["qps_at"]["0.95"] for r in report] == [True, True]
    assert [r["name"] for r in report if r["picked"]] == ["M=16"]  # M=64 is slower everywhere: dominated
    assert explain(report, [0.8, 0.9, 0.95]).startswith(
        "every configuration reaches recall 0.95 already with its cheapest query setting (lowest recall 0.970)")


def tune(*args, env):
    return subprocess.run([sys.executable, "-m", "harness.tune", "--plugins", PLUGINS, "--local", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)


def test_tuning_end_to_end_picks_the_known_best_settings_the_same_each_time(xxs, tmp_path):
    from website import build_site
    env = dict(os.environ, FILTERBENCH_DATA=os.path.dirname(xxs))
    results = tmp_path / "results"
    args = ["--algorithm", "tunable", "--dataset", "random-filter-xxs", "--queries", "40", "--runs", "3",
            "--results", str(results)]  # the fastest of 3 passes, as the leaderboard times
    first = tune(*args, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "[6/6] tunable" in first.stdout and "s left" in first.stdout  # progress: done, remaining, estimate
    tuned = results / "tuning" / "random-filter-xxs" / "tunable.yml"
    picks = yaml.safe_load(tuned.read_text())["group"]["build"]
    # quality 4 returns the exact top k at its cheapest setting: picked, and the others that no
    # configuration dominates (timing decides which); waste is never picked.
    assert {"quality": 4, "waste": 0} in picks and all(p["waste"] == 0 for p in picks)
    report = json.loads((results / "tuning" / "random-filter-xxs" / "tunable.json").read_text())
    assert report["split"] == "quality" and report["targets"] == [0.8, 0.9, 0.95]
    assert all(c["dominated_by"] for c in report["configurations"] if not c["picked"] and c["build_args"]["waste"])
    # Tuning writes to a workload of its own: never the leaderboard's, never mixing modes.
    assert report["workload"] == "random-filter-xxs@q40@tune-local" and report["mode"] == "local"
    workloads = [name for name in os.listdir(results) if not name.startswith(".")]
    assert sorted(workloads) == ["random-filter-xxs@q40@tune-local", "tuning"]
    for c in report["configurations"]:
        assert c["qps_at"] == dict(zip(["0.8", "0.9", "0.95"], interpolate([tuple(p) for p in c["points"]],
                                                                          [0.8, 0.9, 0.95])))
    again = tune(*args, env=env)  # resumes (nothing to build) and picks the same
    assert again.returncode == 0 and "0 builds to run" in again.stdout
    assert yaml.safe_load(tuned.read_text())["group"]["build"] == picks
    full = subprocess.run([sys.executable, "run.py", "--local", "--runs", "1", "--plugins", PLUGINS, "--dataset",
                           "random-filter-xxs", "--algorithm", "tunable/tuned", "--scenario", "containment",
                           "--results", str(results)], cwd=ROOT, env=env, capture_output=True, text=True)
    assert full.returncode == 0 and f"{len(picks)} builds to run" in full.stdout, full.stdout + full.stderr
    site = build_site(str(results), str(tmp_path / "site"), datasets_lookup=lambda n: xxs)
    page = (tmp_path / "site" / "tuning" / "random-filter-xxs-tunable.html").read_text()
    assert [t["algorithm"] for t in site.tunings] == ["tunable"] and page.count('class="picked"') == len(picks)
    home = (tmp_path / "site" / "index.html").read_text()
    assert "tune-local" not in home  # the full-size run of the picks is on the leaderboard, the tuning is not


def test_a_typo_in_the_grid_is_one_line_before_any_build(tmp_path):
    proc = tune("--algorithm", "tunable", "--dataset", "random-filter-xxs", "--grid", "qualty=1,2",
                "--results", str(tmp_path), env=dict(os.environ))
    assert proc.returncode == 2 and "Tunable.__init__ takes no argument 'qualty'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
