"""Range filters, one run (single-thread search): iRangeGraph against ACORN and faiss HNSW with a bitmap.

    python -m benchmarks.range [--dataset arxiv] [--scenario range-date] [--queries 1000] [--threads 2]
                               [--entry-points cover|N]

On the dataset's range scenario (arxiv: submission dates, 1,000 ranges at 0.1%, 1%, 10% and 50% of
the base) it builds, on the same threads: iRangeGraph (on the scenario's attribute; M=16,
ef_construction 100), ACORN-γ (M=32, γ=12, M_β=64), ACORN-1 (M=32, efConstruction 40), faiss HNSW
(M=32, efConstruction 40) searched with IDSelectorBitmap, and the bruteforce plugin; then sweeps
each one's search parameter. Recall is the harness's (harness.metrics). QPS counts the filter map
for the methods that use one, as the harness's headline does (iRangeGraph builds none). It prints
each method's QPS at recall@10 0.9 (interpolated) per selectivity level, and the bar: iRangeGraph at or
above the best bitmap-filtered method at every level up to 10%, and never below recall 0.9 where
another method reaches it.
"""
import argparse

from algorithms.acorn.module import Acorn
from algorithms.bruteforce.module import BruteForce
from algorithms.faiss.module import FaissHNSW
from algorithms.irangegraph.module import ENTRY_POINTS, IRangeGraph, check_entry_points
from benchmarks.common import TARGET, Workload, build, qps_at_target
from datasets import ensure_dataset

EF_GRID = [10, 20, 40, 80, 160, 320, 640]
BITMAP_METHODS = ("acorn-gamma", "acorn-1", "faiss-hnsw-bitmap")
BAR_UP_TO = 0.1  # the levels the bar covers


def entry_points(text):
    """--entry-points: 'cover' or a count, checked as the plugin checks its entry_points."""
    value = int(text) if text.lstrip("-").isdigit() else text
    try:
        check_entry_points(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return value


def level_of(group):
    return float(group.split()[1].rstrip("%")) / 100


def best(rows, group):
    """(QPS at recall TARGET on the group's queries, interpolated, or None; the best recall reached)."""
    return qps_at_target([r["groups"][group] for r in rows]), max(r["groups"][group][0] for r in rows)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.range", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="arxiv")
    p.add_argument("--scenario", default="range-date")
    p.add_argument("--queries", type=int, default=1000, help="a seeded sample of N of the scenario's queries")
    p.add_argument("--threads", type=int, default=2, help="build threads (search is single-threaded)")
    p.add_argument("--entry-points", type=entry_points, default=ENTRY_POINTS,
                   help=f"iRangeGraph's search entries: 'cover' (by need, the default) or N spread through the range")
    args = p.parse_args(argv)
    work = Workload(ensure_dataset(args.dataset), args.scenario, args.queries)
    ds, sc = work.ds, work.ds.scenarios[args.scenario]
    if sc.kind != "range":
        raise SystemExit(f"error: {args.scenario} is a {sc.kind} scenario, not a range")
    print(f"{args.dataset} {args.scenario} ({sc.predicate.about()}): {ds.n:,} base vectors, d={ds.d}, "
          f"{work.describe()}")
    builds = {name: build(name, algo, ds.train, sc.predicate.attribute, args.threads) for name, algo in [
        ("irangegraph", IRangeGraph(ds.distance, M=16, ef_construction=100)),
        ("acorn-gamma", Acorn(ds.distance, M=32, gamma=12, M_beta=64)),
        ("acorn-1", Acorn(ds.distance, M=32, gamma=1, efConstruction=40)),
        ("faiss-hnsw", FaissHNSW(ds.distance, M=32, efConstruction=40, filtering="in-search")),
        ("bruteforce", BruteForce(ds.distance))]}
    efs = [{"efSearch": ef} for ef in EF_GRID]
    rows = {
        # The default (a span scanned where that is expected to be cheaper), the graph alone, and
        # the fixed size the cost replaced.
        **{name: work.sweep(builds["irangegraph"][0], name,
                            [{"ef_search": ef, "exact_below": e, "entry_points": args.entry_points} for ef in EF_GRID], True)
           for name, e in (("irangegraph", None), ("irangegraph-graph-only", 0), ("irangegraph-scan-1024", 1024))},
        "acorn-gamma": work.sweep(builds["acorn-gamma"][0], "acorn-gamma", efs, True),
        "acorn-1": work.sweep(builds["acorn-1"][0], "acorn-1", efs, True),
        "faiss-hnsw-bitmap": work.sweep(builds["faiss-hnsw"][0], "faiss-hnsw-bitmap", efs + [{"efSearch": 1280}], True),
        "bruteforce": work.sweep(builds["bruteforce"][0], "bruteforce", [{}], True),
    }
    groups = sorted(work.kind_groups, key=level_of)
    print(f"\nSingle-thread QPS at recall@10 {TARGET} (interpolated) per selectivity level (filter map included where used; "
          f"'-' never reaches it, with the best recall):")
    print(f"  {'method':20s}" + "".join(f"{g:>22s}" for g in groups))
    table = {name: {g: best(r, g) for g in groups} for name, r in rows.items()}
    for name, cells in table.items():
        print(f"  {name:20s}" + "".join(f"{(f'{q:,.0f}' if q else f'- ({top:.3f})'):>22s}"
                                        for q, top in (cells[g] for g in groups)))
    print("\nBar (iRangeGraph against the best bitmap-filtered method, ACORN-γ, ACORN-1, faiss HNSW+bitmap):")
    met = True
    for g in groups:
        ours, ours_top = table["irangegraph"][g]
        others = {name: table[name][g][0] for name in BITMAP_METHODS}
        reached = {name: q for name, q in others.items() if q}
        best_name = max(reached, key=reached.get) if reached else None
        if level_of(g) <= BAR_UP_TO + 1e-9:
            ok = ours is not None and (not reached or ours >= reached[best_name])
            met &= ok
            versus = f"{best_name} {reached[best_name]:,.0f}" if best_name else "no other reaches it"
            print(f"  {g}: {ours or 0:,.0f} vs {versus}: {ours / reached[best_name] if ours and best_name else float('nan'):.2f}x "
                  f"[>= 1] {'met' if ok else 'NOT MET'}")
        if reached and ours is None:
            met = False
            print(f"  {g}: iRangeGraph never reaches recall {TARGET} (best {ours_top:.3f}) where {best_name} does: NOT MET")
    print(f"  {'all met' if met else 'not met'}")
    size = {name: b[2] or 0 for name, b in builds.items()}
    print("\nBuild time and index size (threads: %d):" % args.threads)
    for name, (_, seconds, _) in builds.items():
        print(f"  {name:20s} {seconds:8.1f} s  {size[name] / 2**20:8.0f} MiB")


if __name__ == "__main__":
    main()
