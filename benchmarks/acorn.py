"""ACORN's speed bars, as ratios measured in one run (single-thread search):

    python -m benchmarks.acorn [--dataset arxiv] [--queries 1000] [--threads 2]

On the dataset's containment queries (k=10) it builds faiss HNSW (M=32, efConstruction 40),
ACORN-1 (M=32, efConstruction 40) and ACORN-γ (M=32, γ=12, M_β=64) on the same threads, then
sweeps efSearch for: faiss HNSW with in-search IDSelectorBitmap filtering, faiss HNSW
post-filtered, ACORN-1 and ACORN-γ with their selectivity fallback, ACORN-1's pure graph
(fallback 0), and the bruteforce plugin. Recall is the harness's (harness.metrics); QPS counts
the filter map as given, as the harness does. It prints each method's best QPS at recall >= 0.9,
overall and per selectivity quartile, and the issue's ratios with their bars.
"""
import argparse
import time

import numpy as np

from algorithms.acorn.module import Acorn
from algorithms.bruteforce.module import BruteForce
from algorithms.faiss.module import FaissHNSW
from datasets import ensure_dataset
from harness.dataset import Dataset
from harness.metrics import Evaluator

K = 10
TARGET = 0.9
EF_GRID = [10, 20, 40, 80, 160, 320, 640]


def sweep(algo, name, settings, ds, maps, evaluator, quartile):
    """One row per query setting: recall, QPS, and per quartile (recall, QPS)."""
    rows = []
    Q = ds.test[:len(maps)]
    for args in settings:
        algo.set_query_arguments(**args)
        seconds = np.zeros(len(Q))
        ids = np.full((len(Q), K), -1, dtype=np.int64)
        for i, q in enumerate(Q):
            t0 = time.perf_counter()
            found = algo.filtered_query(q, K, None, "containment", maps[i])
            seconds[i] = time.perf_counter() - t0
            ids[i, :len(found)] = found[:K]
        metrics, recall = evaluator.evaluate(ids, "containment", K)
        assert metrics["violations"] == 0, f"{name} returned ids that fail the filter"
        row = {"name": name, "args": args, "recall": float(recall.mean()), "qps": len(Q) / seconds.sum(),
               "quartiles": [(float(recall[quartile == j].mean()), float((quartile == j).sum() / seconds[quartile == j].sum()))
                             for j in range(4)]}
        print(f"  {name:22s} {str(args):44s} recall {row['recall']:.3f}  QPS {row['qps']:8.0f}  "
              + "  ".join(f"Q{j + 1} {r:.2f}/{qps:.0f}" for j, (r, qps) in enumerate(row["quartiles"])), flush=True)
        rows.append(row)
    return rows


def best_qps(rows, quartile=None):
    """The best QPS among settings reaching TARGET recall (overall or in one quartile); None if none does."""
    ok = [(r["qps"] if quartile is None else r["quartiles"][quartile][1]) for r in rows
          if (r["recall"] if quartile is None else r["quartiles"][quartile][0]) >= TARGET]
    return max(ok) if ok else None


def ratio(a, b):
    if a is None:
        return "never reaches 0.9"
    if b is None:
        return "inf (baseline never reaches 0.9)"
    return f"{a / b:.2f}x"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.acorn", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="arxiv")
    p.add_argument("--queries", type=int, default=1000, help="the first N containment queries")
    p.add_argument("--threads", type=int, default=2, help="build threads (search is single-threaded)")
    p.add_argument("--max-depth", type=int, default=10000, help="post-filter depth cap (see algorithms.base)")
    args = p.parse_args(argv)
    ds = Dataset(ensure_dataset(args.dataset))
    sc = ds.scenarios["containment"]
    nq = min(args.queries, ds.nq)
    maps = ds.label_index("containment").filter_maps([sc.query_labels.row(i) for i in range(nq)], "containment")
    selectivity = sc.selectivity[:nq]
    # The selectivity quartiles stored with the dataset (harness.dataset.query_groups).
    quartile = np.select([sc.groups[f"selectivity_q{j + 1}"][:nq] for j in range(4)], range(4))
    print(f"{args.dataset}: {ds.n:,} base vectors, d={ds.d}, {nq} containment queries, selectivity "
          f"median {np.median(selectivity):.2%}, quartile bounds "
          + ", ".join(f"{x:.3%}" for x in np.percentile(selectivity, [25, 50, 75])))
    evaluator = Evaluator(ds)

    builds = {}
    for name, algo in [("faiss-hnsw", FaissHNSW(ds.distance, M=32, efConstruction=40, filtering="in-search")),
                       ("acorn-1", Acorn(ds.distance, M=32, gamma=1, efConstruction=40)),
                       ("acorn-gamma", Acorn(ds.distance, M=32, gamma=12, M_beta=64)),
                       ("bruteforce", BruteForce(ds.distance))]:
        algo.set_threads(args.threads)
        t0 = time.perf_counter()
        algo.fit(ds.train, None)
        builds[name] = (algo, time.perf_counter() - t0, algo.index_size())
        print(f"built {name:12s} in {builds[name][1]:7.1f} s on {args.threads} threads, index {builds[name][2] / 2**20:.0f} MiB",
              flush=True)
        algo.set_threads(1)
    post = FaissHNSW(ds.distance, M=32, efConstruction=40, filtering="post")
    post.index, post.n = builds["faiss-hnsw"][0].index, ds.n  # the same graph, post-filtered

    efs = [{"efSearch": ef} for ef in EF_GRID]
    rows = {
        "faiss-hnsw-bitmap": sweep(builds["faiss-hnsw"][0], "faiss-hnsw-bitmap", efs + [{"efSearch": 1280}], ds,
                                   maps, evaluator, quartile),
        "faiss-hnsw-post": sweep(post, "faiss-hnsw-post", [{"efSearch": ef, "max_depth": args.max_depth}
                                                           for ef in (16, 64, 256)], ds, maps, evaluator, quartile),
        "acorn-1": sweep(builds["acorn-1"][0], "acorn-1", efs, ds, maps, evaluator, quartile),
        "acorn-gamma": sweep(builds["acorn-gamma"][0], "acorn-gamma", efs, ds, maps, evaluator, quartile),
        "acorn-1-pure-graph": sweep(builds["acorn-1"][0], "acorn-1-pure-graph",
                                    [{"efSearch": ef, "fallback_selectivity": 0} for ef in EF_GRID], ds, maps,
                                    evaluator, quartile),
        "bruteforce": sweep(builds["bruteforce"][0], "bruteforce", [{}], ds, maps, evaluator, quartile),
    }
    print(f"\nBest single-thread QPS at recall@{K} >= {TARGET} (overall; lowest-selectivity quartile Q1):")
    for name, r in rows.items():
        top = max(x["recall"] for x in r)
        print(f"  {name:22s} {best_qps(r) or 0:8.0f}   Q1 {best_qps(r, 0) or 0:8.0f}   best recall {top:.3f}, "
              f"per quartile " + "/".join(f"{max(x['quartiles'][j][0] for x in r):.2f}" for j in range(4)))
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
        bar = "1.5" if name == "acorn-1" else "12"
        print(f"  {name} / faiss-hnsw build time: {builds[name][1] / hnsw_build:.2f}x [<= {bar}], "
              f"index size {builds[name][2] / hnsw_size:.2f}x")


if __name__ == "__main__":
    main()
