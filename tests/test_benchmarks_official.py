"""benchmarks.official without official builds (CI has none; README says how to make them): it
measures ours against the baselines for every method the dataset has scenarios for, and a
directory that is not the official checkout it names is refused in one line before any work."""
import pytest

from benchmarks import official


def test_without_official_builds_it_measures_ours_against_the_baselines(capsys):
    official.main(["--dataset", "random-filter-xxs", "--queries", "100", "--threads", "1"])
    out = capsys.readouterr().out
    for row in ("irangegraph-graph-spread", "acorn-1-pure-graph", "acorn-scan", "faiss-hnsw-bitmap",
                "faiss-ivf-bitmap", "bruteforce"):
        assert f"  {row} " in out, row
    assert "containment:" in out and "equality:" in out  # UNG on both of its scenarios
    assert "ours / official" not in out  # nothing to compare with


@pytest.mark.parametrize("flag, repository", [("--irangegraph", "YuexuanXu7/iRangeGraph"),
                                              ("--acorn", "stanford-futuredata/ACORN"),
                                              ("--ung", "YZ-Cai/Unified-Navigating-Graph")])
def test_a_directory_that_is_not_the_official_checkout_is_refused_in_one_line(tmp_path, flag, repository):
    with pytest.raises(SystemExit) as refused:
        official.main(["--dataset", "random-filter-xxs", flag, str(tmp_path)])
    message = str(refused.value)
    assert message.startswith("error: ") and repository in message and "\n" not in message


def test_searches_are_timed_on_one_thread_numpy_blas_included():
    # As the harness's worker times single-query passes: a numpy method's matrix products must
    # not spread over the cores while a C++ method's search runs on one.
    from threadpoolctl import threadpool_info

    from algorithms.bruteforce.module import BruteForce
    from benchmarks.common import Workload, build
    from datasets import ensure_dataset

    blas_threads = []

    class Recording(BruteForce):
        def filtered_query(self, q, k, filter, valid):
            blas_threads.extend(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")
            return super().filtered_query(q, k, filter, valid)

    work = Workload(ensure_dataset("random-filter-xxs"), "containment", 20)
    algo, _, _ = build("bruteforce", Recording(work.ds.distance), work.ds.train, None, 2)
    rows = work.sweep(algo, "bruteforce", [{}])
    assert rows[0]["recall"] == 1.0
    assert blas_threads and set(blas_threads) == {1}
