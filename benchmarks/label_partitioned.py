"""UNG's and CAPS's speed bars, as ratios measured in one run (single-thread search):

    python -m benchmarks.label_partitioned [--dataset arxiv] [--queries 1000] [--threads 2]

Builds faiss IVF (nlist 1024, flat codes), UNG (R=32, L_build=100, alpha=1.2, 6 cross edges),
CAPS (1024 partitions, height 8) and the bruteforce plugin on the same threads, then sweeps their
query settings on the dataset's containment and equality queries (k=10): faiss IVF with
in-search IDSelectorBitmap filtering (given the filter map, untimed, as the harness does), UNG,
CAPS (equality only) and bruteforce. UNG runs with 1 and 1,024 start vectors (entry_points). Recall is the harness's (harness.metrics). It prints each
method's QPS at recall 0.9 (interpolated), overall and per selectivity quartile, and the issue's ratios
with their bars.
"""
import argparse

from algorithms.bruteforce.module import BruteForce
from algorithms.caps.module import Caps
from algorithms.faiss.module import FaissIVF
from algorithms.ung.module import Ung
from benchmarks.common import Workload, best_qps, build, ratio, summary
from datasets import ensure_dataset

NPROBE = [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024]
L_SEARCH = [10, 20, 40, 80, 160, 400, 1000]
ENTRY_POINTS = [1, 1024]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.label_partitioned", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="arxiv")
    p.add_argument("--queries", type=int, default=1000, help="the first N queries of each scenario")
    p.add_argument("--threads", type=int, default=2, help="build threads (search is single-threaded)")
    args = p.parse_args(argv)
    path = ensure_dataset(args.dataset)
    containment, equality = Workload(path, "containment", args.queries), Workload(path, "equality", args.queries)
    ds = containment.ds
    print(f"{args.dataset}: {ds.n:,} base vectors, d={ds.d}\n  {containment.describe()}\n  {equality.describe()}")
    labels = ds.scenarios["equality"].predicate.attribute  # the same label attribute serves containment
    builds = {name: build(name, algo, ds.train, labels, args.threads) for name, algo in [
        ("faiss-ivf", FaissIVF(ds.distance, nlist=1024, filtering="in-search")),
        ("ung", Ung(ds.distance, R=32, L_build=100, alpha=1.2, cross_edges=6)),
        ("caps", Caps(ds.distance, partitions=1024, height=8)),
        ("bruteforce", BruteForce(ds.distance))]}
    nprobe = [{"nprobe": n} for n in NPROBE]
    results = {}
    for work in (containment, equality):
        print(f"\n{work.scenario}:")
        rows = {"faiss-ivf-bitmap": work.sweep(builds["faiss-ivf"][0], "faiss-ivf-bitmap", nprobe),
                "ung": work.sweep(builds["ung"][0], "ung", [{"L_search": L, "entry_points": e}
                                                             for e in ENTRY_POINTS for L in L_SEARCH])}
        if work.scenario == "equality":
            rows["caps"] = work.sweep(builds["caps"][0], "caps", nprobe)
        rows["bruteforce"] = work.sweep(builds["bruteforce"][0], "bruteforce", [{}])
        summary(rows)
        results[work.scenario] = rows

    c, e = results["containment"], results["equality"]
    print("\nRatios (bar in brackets):")
    print(f"  UNG containment / IVF+bitmap QPS: {ratio(best_qps(c['ung']), best_qps(c['faiss-ivf-bitmap']))} [>= 1.5]")
    print(f"  UNG containment / bruteforce QPS: {ratio(best_qps(c['ung']), best_qps(c['bruteforce']))} [>= 2.5]")
    print(f"  UNG containment / IVF+bitmap QPS, lowest quartile: "
          f"{ratio(best_qps(c['ung'], 0), best_qps(c['faiss-ivf-bitmap'], 0))} [>= 5]")
    print(f"  UNG equality / IVF+bitmap QPS: {ratio(best_qps(e['ung']), best_qps(e['faiss-ivf-bitmap']))} [>= 5]")
    print(f"  CAPS equality / IVF+bitmap QPS: {ratio(best_qps(e['caps']), best_qps(e['faiss-ivf-bitmap']))} [>= 0.9]")
    print(f"  CAPS equality best recall: {max(r['recall'] for r in e['caps']):.4f} [>= 0.999]")
    ivf_build = builds["faiss-ivf"][1]
    print(f"  UNG / faiss IVF build time: {builds['ung'][1] / ivf_build:.2f}x [<= 2] "
          f"({builds['ung'][1]:.1f} s vs {ivf_build:.1f} s); CAPS build (k-means included): {builds['caps'][1]:.1f} s")
    print(f"  index size / faiss IVF: UNG {builds['ung'][2] / builds['faiss-ivf'][2]:.2f}x, "
          f"CAPS {builds['caps'][2] / builds['faiss-ivf'][2]:.2f}x")


if __name__ == "__main__":
    main()
