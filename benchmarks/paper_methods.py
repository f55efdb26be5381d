"""The FANNS paper's last three methods against baselines, as ratios measured in one run
(single-thread search, builds on the same threads):

    python -m benchmarks.paper_methods [--dataset arxiv] [--queries 1000] [--threads 2]

Builds faiss IVF (nlist 1024, flat codes, in-search IDSelectorBitmap filtering), faiss HNSW
(M=32, efConstruction 40, for build time), UNG and CAPS (their label_partitioned settings),
Stitched-DiskANN (R_small 32, L_small 100, R_stitched 64, alpha 1.2) on the dataset's label
attribute, and NHQ-kgraph (its default group) on its fixed-length attribute. It sweeps their
query settings on the containment, equality and fixed-length equality queries (k=10) and prints
each method's QPS at recall 0.9 (interpolated), overall and per selectivity quartile, then the issue's
ratios with their bars. Recall and the filter check are the harness's (harness.metrics).

Filtered-DiskANN (diskannpy) runs only where diskannpy is importable: its image, since it pins
numpy 1.25. Elsewhere the line printed says how to measure it through the harness, whose result
files carry its integrity counts (ids outside the base, ids failing the filter).
"""
import argparse

from algorithms.caps.module import Caps
from algorithms.faiss.module import FaissHNSW, FaissIVF
from algorithms.filtered_diskann.module import FilteredDiskann, diskannpy
from algorithms.nhq.module import Nhq
from algorithms.stitched_diskann.module import StitchedDiskann
from algorithms.ung.module import Ung
from benchmarks.common import Workload, best_qps, build, ratio, summary
from datasets import ensure_dataset

NPROBE = [{"nprobe": n} for n in (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024)]
L_SEARCH = [{"L_search": L} for L in (10, 20, 40, 80, 160, 400, 1000)]
DISKANN_L = [{"L_search": L} for L in (16, 32, 64, 128, 256, 512, 1024)]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.paper_methods", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="arxiv")
    p.add_argument("--queries", type=int, default=1000, help="a seeded sample of N queries of each scenario")
    p.add_argument("--threads", type=int, default=2, help="build threads (search is single-threaded)")
    args = p.parse_args(argv)
    path = ensure_dataset(args.dataset)
    work = {s: Workload(path, s, args.queries) for s in ("containment", "equality", "fixed_equality")}
    ds = work["containment"].ds
    print(f"{args.dataset}: {ds.n:,} base vectors, d={ds.d}")
    for w in work.values():
        print(f"  {w.describe()}")
    labels = ds.scenarios["equality"].predicate.attribute
    fixed = ds.scenarios["fixed_equality"].predicate.attribute
    builds = {name: build(name, algo, ds.train, attribute, args.threads) for name, algo, attribute in [
        ("faiss-ivf", FaissIVF(ds.distance, nlist=1024, filtering="in-search"), None),
        ("faiss-hnsw", FaissHNSW(ds.distance, M=32, efConstruction=40, filtering="in-search"), None),
        ("stitched-diskann", StitchedDiskann(ds.distance, R_small=32, L_small=100, R_stitched=64, alpha=1.2), labels),
        ("ung", Ung(ds.distance, R=32, L_build=100, alpha=1.2, cross_edges=6), labels),
        ("ung-fixed", Ung(ds.distance, R=32, L_build=100, alpha=1.2, cross_edges=6), fixed),
        ("caps-fixed", Caps(ds.distance, partitions=1024, height=8), fixed),
        ("stitched-fixed", StitchedDiskann(ds.distance, R_small=32, L_small=100, R_stitched=64, alpha=1.2), fixed),
        ("nhq", Nhq(ds.distance), fixed)]}
    if diskannpy is not None:
        builds["filtered-diskann"] = build("filtered-diskann", FilteredDiskann(ds.distance, R=64, L=100), ds.train, labels,
                                           args.threads)
    results = {}
    for scenario, w in work.items():
        print(f"\n{scenario}:")
        suffix = "-fixed" if scenario == "fixed_equality" else ""
        rows = {"faiss-ivf-bitmap": w.sweep(builds["faiss-ivf"][0], "faiss-ivf-bitmap", NPROBE),
                "stitched-diskann": w.sweep(builds["stitched" + (suffix or "-diskann")][0], "stitched-diskann", L_SEARCH),
                "ung": w.sweep(builds["ung" + suffix][0], "ung", L_SEARCH)}
        if scenario == "fixed_equality":
            rows["caps"] = w.sweep(builds["caps-fixed"][0], "caps", NPROBE)
            rows["nhq"] = w.sweep(builds["nhq"][0], "nhq", L_SEARCH)
        elif "filtered-diskann" in builds:
            rows["filtered-diskann"] = w.sweep(builds["filtered-diskann"][0], "filtered-diskann", DISKANN_L)
        summary(rows)
        results[scenario] = rows

    c, e, f = results["containment"], results["equality"], results["fixed_equality"]
    print("\nRatios (bar in brackets):")
    print(f"  stitched-diskann equality / IVF+bitmap QPS: "
          f"{ratio(best_qps(e['stitched-diskann']), best_qps(e['faiss-ivf-bitmap']))} [>= 2]")
    print(f"  stitched-diskann containment best recall: {max(r['recall'] for r in c['stitched-diskann']):.4f} [>= 0.9]; "
          f"QPS / IVF+bitmap {ratio(best_qps(c['stitched-diskann']), best_qps(c['faiss-ivf-bitmap']))}")
    print(f"  nhq fixed-length equality best recall: {max(r['recall'] for r in f['nhq']):.4f} [>= 0.9]; QPS / CAPS "
          f"{ratio(best_qps(f['nhq']), best_qps(f['caps']))}, / UNG {ratio(best_qps(f['nhq']), best_qps(f['ung']))}")
    if "filtered-diskann" in builds:
        print(f"  filtered-diskann containment best recall: {max(r['recall'] for r in c['filtered-diskann']):.4f}; "
              f"QPS / IVF+bitmap {ratio(best_qps(c['filtered-diskann']), best_qps(c['faiss-ivf-bitmap']))}")
    else:
        print(f"  filtered-diskann: not in this environment (diskannpy pins numpy 1.25); measure it in its image: "
              f"python -m install --algorithm filtered-diskann && python run.py --dataset {args.dataset} "
              f"--algorithm filtered-diskann --scenario containment (results carry its integrity counts)")
    hnsw = builds["faiss-hnsw"][1]
    print("  build time / faiss HNSW (M=32, efConstruction 40, "
          f"{hnsw:.1f} s): " + ", ".join(f"{name} {builds[name][1] / hnsw:.2f}x ({builds[name][1]:.1f} s)"
                                          for name in ("stitched-diskann", "stitched-fixed", "nhq", "filtered-diskann")
                                          if name in builds))


if __name__ == "__main__":
    main()
