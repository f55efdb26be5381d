"""ACORN's speed bars, as ratios measured in one run (single-thread search):

    python -m benchmarks.acorn [--dataset arxiv] [--queries 1000] [--threads 2]

On the dataset's containment queries (k=10) it builds faiss HNSW (M=32, efConstruction 40),
ACORN-1 (M=32, efConstruction 40) and ACORN-γ (M=32, γ=12, M_β=64) on the same threads, then
sweeps efSearch for: faiss HNSW with in-search IDSelectorBitmap filtering, faiss HNSW
post-filtered, ACORN-1 and ACORN-γ as they run by default (graph or exact scan per query, by
expected work), each one's pure graph (fallback_selectivity 0), ACORN's exact scan alone
(fallback_selectivity 1.01), and the bruteforce plugin. Recall is the harness's (harness.metrics);
QPS counts the filter map as given, as the harness does. It prints each method's QPS at
recall 0.9 (interpolated), overall and per selectivity quartile, and the ratios with their bars: the default
per quartile against the better of its pure graph and the scan (>= 0.95).
"""
import argparse

from algorithms.acorn.module import Acorn
from algorithms.bruteforce.module import BruteForce
from algorithms.faiss.module import FaissHNSW
from benchmarks.common import Workload, best_qps, build, ratio, summary
from datasets import ensure_dataset

EF_GRID = [10, 20, 40, 80, 160, 320, 640]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.acorn", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="arxiv")
    p.add_argument("--queries", type=int, default=1000, help="the first N containment queries")
    p.add_argument("--threads", type=int, default=2, help="build threads (search is single-threaded)")
    p.add_argument("--max-depth", type=int, default=10000, help="post-filter depth cap (see algorithms.base)")
    args = p.parse_args(argv)
    work = Workload(ensure_dataset(args.dataset), "containment", args.queries)
    ds = work.ds
    print(f"{args.dataset}: {ds.n:,} base vectors, d={ds.d}, {work.describe()}")
    builds = {name: build(name, algo, ds.train, None, args.threads) for name, algo in [
        ("faiss-hnsw", FaissHNSW(ds.distance, M=32, efConstruction=40, filtering="in-search")),
        ("acorn-1", Acorn(ds.distance, M=32, gamma=1, efConstruction=40)),
        ("acorn-gamma", Acorn(ds.distance, M=32, gamma=12, M_beta=64)),
        ("bruteforce", BruteForce(ds.distance))]}
    post = FaissHNSW(ds.distance, M=32, efConstruction=40, filtering="post")
    post.index, post.n = builds["faiss-hnsw"][0].index, ds.n  # the same graph, post-filtered

    efs = [{"efSearch": ef} for ef in EF_GRID]
    rows = {
        "faiss-hnsw-bitmap": work.sweep(builds["faiss-hnsw"][0], "faiss-hnsw-bitmap", efs + [{"efSearch": 1280}]),
        "faiss-hnsw-post": work.sweep(post, "faiss-hnsw-post", [{"efSearch": ef, "max_depth": args.max_depth}
                                                                for ef in (16, 64, 256)]),
        "acorn-1": work.sweep(builds["acorn-1"][0], "acorn-1", efs),
        "acorn-gamma": work.sweep(builds["acorn-gamma"][0], "acorn-gamma", efs),
        "acorn-1-pure-graph": work.sweep(builds["acorn-1"][0], "acorn-1-pure-graph",
                                         [{"efSearch": ef, "fallback_selectivity": 0} for ef in EF_GRID]),
        "acorn-gamma-pure-graph": work.sweep(builds["acorn-gamma"][0], "acorn-gamma-pure-graph",
                                             [{"efSearch": ef, "fallback_selectivity": 0} for ef in EF_GRID]),
        "acorn-scan": work.sweep(builds["acorn-1"][0], "acorn-scan", [{"fallback_selectivity": 1.01}]),
        "bruteforce": work.sweep(builds["bruteforce"][0], "bruteforce", [{}]),
    }
    summary(rows)
    hnsw_build = builds["faiss-hnsw"][1]
    hnsw_size = builds["faiss-hnsw"][2]
    print("\nRatios (bar in brackets):")
    for name in ("acorn-1", "acorn-gamma"):
        r = rows[name]
        top = max(x["recall"] for x in r)
        worst_quartile = min(max(x["quartiles"][j][0] for x in r) for j in range(4))
        print(f"  {name}: best recall {top:.3f} [>= 0.95], worst quartile's best {worst_quartile:.3f} [>= 0.9]")
        print(f"  {name} / faiss-hnsw-bitmap QPS: {ratio(best_qps(r), best_qps(rows['faiss-hnsw-bitmap']))}"
              f"{' [>= 1.2]' if name == 'acorn-1' else ''}")
        print(f"  {name} / faiss-hnsw-post QPS: {ratio(best_qps(r), best_qps(rows['faiss-hnsw-post']))}"
              f"{' [>= 5]' if name == 'acorn-1' else ''}")
        print(f"  {name} / faiss-hnsw-bitmap QPS, lowest quartile: "
              f"{ratio(best_qps(r, 0), best_qps(rows['faiss-hnsw-bitmap'], 0))} [>= 5]")
        print(f"  {name} / bruteforce QPS: {ratio(best_qps(r), best_qps(rows['bruteforce']))}")
        print(f"  {name} (graph or scan by cost) / the better of its pure graph and the scan: "
              f"{against_the_better(rows, name)} [>= 0.95 in each quartile]")
        bar = "1.5" if name == "acorn-1" else "12"
        print(f"  {name} / faiss-hnsw build time: {builds[name][1] / hnsw_build:.2f}x [<= {bar}], "
              f"index size {builds[name][2] / hnsw_size:.2f}x")


def against_the_better(rows, name):
    """Per quartile, the default's best QPS at the target over the better of its pure graph and the scan."""
    parts = []
    for j in range(4):
        graph, scan = best_qps(rows[f"{name}-pure-graph"], j), best_qps(rows["acorn-scan"], j)
        which = "pure graph" if (graph or 0) >= (scan or 0) else "scan"
        parts.append(f"Q{j + 1} {ratio(best_qps(rows[name], j), max(graph or 0, scan or 0) or None)} ({which})")
    return ", ".join(parts)


if __name__ == "__main__":
    main()
