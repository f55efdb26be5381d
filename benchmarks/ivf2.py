"""IVF² against ACORN and faiss IVF + bitmap on yfcc, per selectivity quartile, in one run:

    python -m benchmarks.ivf2 [--dataset yfcc] [--queries 1000] [--threads 2]

On the dataset's containment queries (k=10; yfcc: the track's 1 or 2 tags) it builds, on the same
threads: IVF² (nlist 1024, an IVF per tag and tag pair carried by at least `--frequent` vectors),
ACORN-1 (M=32, efConstruction 40), faiss IVF-Flat (nlist 1024) filtering in search with the
harness's bitmap, and the bruteforce plugin (an exact scan of the passing vectors); then sweeps
their query settings one query at a time. Recall is the harness's (harness.metrics); QPS counts
the filter map for the methods that take one, as the harness does (IVF² filters with its own
postings). Printed: each method's QPS at recall 0.9 (interpolated) per selectivity quartile, and IVF²'s
ratio to each. On 2 cores; the track's winners measured 8 vCPUs (../shared/docs/anchors.md).
"""
import argparse

from algorithms.acorn.module import Acorn
from algorithms.bruteforce.module import BruteForce
from algorithms.faiss.module import FaissIVF
from algorithms.ivf2.module import Ivf2
from benchmarks.common import TARGET, Workload, best_qps, build, summary
from datasets import ensure_dataset

NPROBES = [1, 2, 4, 8, 16, 32, 64, 128, 256]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.ivf2", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="yfcc")
    p.add_argument("--queries", type=int, default=1000, help="a seeded sample of N containment queries")
    p.add_argument("--threads", type=int, default=2, help="build threads (search is single-threaded)")
    p.add_argument("--frequent", type=int, default=2000, help="IVF²: a tag or pair carried by this many gets an IVF")
    args = p.parse_args(argv)
    work = Workload(ensure_dataset(args.dataset), "containment", args.queries)
    ds = work.ds
    print(f"{args.dataset}: {ds.n:,} base vectors, d={ds.d}, {work.describe()}", flush=True)
    labels = ds.scenarios["containment"].predicate.attribute
    builds = {name: build(name, algo, ds.train, labels, args.threads) for name, algo in [
        ("ivf2", Ivf2(ds.distance, nlist=1024, frequent=args.frequent)),
        ("acorn-1", Acorn(ds.distance, M=32, gamma=1, efConstruction=40)),
        ("faiss-ivf-bitmap", FaissIVF(ds.distance, nlist=1024, filtering="in-search")),
        ("bruteforce", BruteForce(ds.distance))]}
    nprobes = [{"nprobe": n} for n in NPROBES]
    rows = {
        "ivf2": work.sweep(builds["ivf2"][0], "ivf2", nprobes),
        "acorn-1": work.sweep(builds["acorn-1"][0], "acorn-1", [{"efSearch": ef} for ef in (10, 20, 40, 80, 160, 320, 640)],
                              count_maps=True),
        "faiss-ivf-bitmap": work.sweep(builds["faiss-ivf-bitmap"][0], "faiss-ivf-bitmap", nprobes, count_maps=True),
        "bruteforce": work.sweep(builds["bruteforce"][0], "bruteforce", [{}], count_maps=True),
    }
    summary(rows)
    print(f"\nQPS at recall@10 {TARGET} (interpolated) per selectivity quartile (Q1: the fewest passing vectors), "
          f"and IVF²'s ratio to each:")
    print(f"  {'':18s}" + "".join(f"{f'Q{j + 1}':>12s}" for j in range(4)) + f"{'overall':>12s}")
    for name, r in rows.items():
        print(f"  {name:18s}" + "".join(f"{best_qps(r, j) or 0:12.0f}" for j in range(4)) + f"{best_qps(r) or 0:12.0f}")
    for name in ("acorn-1", "faiss-ivf-bitmap", "bruteforce"):
        print(f"  {'ivf2 / ' + name:18s}" + "".join(f"{short_ratio(best_qps(rows['ivf2'], j), best_qps(rows[name], j)):>12s}"
                                                     for j in range(4))
              + f"{short_ratio(best_qps(rows['ivf2']), best_qps(rows[name])):>12s}")
    print(f"  (-: IVF² does not reach {TARGET} there; inf: the other does not)")
    print("  build seconds: " + ", ".join(f"{name} {b[1]:.0f}" for name, b in builds.items())
          + "; index MiB: " + ", ".join(f"{name} {(b[2] or 0) / 2**20:.0f}" for name, b in builds.items()))


def short_ratio(ours, theirs):
    return "-" if ours is None else "inf" if theirs is None else f"{ours / theirs:.2f}x"


if __name__ == "__main__":
    main()
