"""Why Filtered-DiskANN (diskannpy 0.7.0) reaches low recall on data with many labels: the
label subgraphs of the index it builds, read back from its own graph file.

    python -m benchmarks.filtered_diskann_graph [--dataset random-filter-s] [--R 64] [--L 100]

A filtered search on label l starts at l's start node and expands only points that carry l, so
it can find only the points of l reachable from the start node along edges between points of l.
For every label this prints, by label size: the start node's edges to points of its label, the
mean number of such edges per point, and the share of the label's points reachable from the
start node; and the share of all (label, point) pairs reachable, a ceiling on label-only recall.

Runs where diskannpy imports, which is not the project's environment (diskannpy pins numpy 1.25)
nor the plugin's image (it carries only what the plugin's workers run). A virtualenv does it:

    python3 -m venv /tmp/diskann && /tmp/diskann/bin/pip install diskannpy==0.7.0 numpy==1.25.0 \
        h5py pyyaml threadpoolctl faiss-cpu
    /tmp/diskann/bin/python -m benchmarks.filtered_diskann_graph --dataset random-filter-s
"""
import argparse
import time

import numpy as np

from algorithms.filtered_diskann.module import FilteredDiskann, diskannpy
from datasets import ensure_dataset
from harness.dataset import Dataset


def reachable(start, members, offsets, targets):
    """How many points of `members` (a boolean mask) a walk from `start` reaches along edges
    between members: breadth-first, one frontier at a time."""
    seen = np.zeros(len(members), dtype=bool)
    seen[start] = True
    frontier = np.array([start])
    while len(frontier):
        lengths = offsets[frontier + 1] - offsets[frontier]
        first = np.repeat(offsets[frontier], lengths)
        step = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        neighbours = np.unique(targets[first + step])
        neighbours = neighbours[members[neighbours] & ~seen[neighbours]]
        seen[neighbours] = True
        frontier = neighbours
    return int(seen.sum())


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.filtered_diskann_graph", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="random-filter-s")
    p.add_argument("--scenario", default="containment", help="the scenario whose label attribute is indexed")
    p.add_argument("--R", type=int, default=64)
    p.add_argument("--L", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    if diskannpy is None:
        raise SystemExit("diskannpy is not importable here (it pins numpy 1.25): run this in a virtualenv with "
                         "diskannpy==0.7.0 numpy==1.25.0 h5py pyyaml threadpoolctl faiss-cpu (see this module's help)")
    ds = Dataset(ensure_dataset(args.dataset))
    attribute = ds.scenarios[args.scenario].predicate.attribute
    algo = FilteredDiskann(ds.distance, R=args.R, L=args.L)
    algo.threads = args.threads
    t0 = time.perf_counter()
    algo.fit(np.asarray(ds.train, dtype=np.float32), attribute)
    print(f"{args.dataset}: {ds.n:,} points, {len(algo.label_count):,} labels; diskannpy R={args.R}, L={args.L}, "
          f"built in {time.perf_counter() - t0:.1f} s")
    offsets, targets = algo.graph()
    degree = np.diff(offsets)
    print(f"out-degree: min {degree.min()}, mean {degree.mean():.1f}, max {degree.max()} (R={args.R})")
    # The points of each label: the label attribute's CSR turned around.
    owner = np.repeat(np.arange(ds.n), np.diff(attribute.indptr))
    by_label = np.argsort(attribute.indices, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(attribute.indices, minlength=len(algo.label_count)))])
    edge_owner = np.repeat(np.arange(ds.n), degree)
    rows = []
    for label, start in algo.start_nodes().items():
        members = np.zeros(ds.n, dtype=bool)
        members[owner[by_label[bounds[label]:bounds[label + 1]]]] = True
        count = int(members.sum())
        inside = members[targets] & members[edge_owner]  # edges between two points of the label
        in_label_degree = inside.sum() / count
        rows.append((count, int(members[targets[offsets[start]:offsets[start + 1]]].sum()), in_label_degree,
                     reachable(start, members, offsets, targets)))
    rows.sort()
    counts = np.array([r[0] for r in rows])
    print(f"\n{'label size':>18} {'labels':>7} {'start: edges in label':>22} {'edges in label per point':>25} "
          f"{'reachable from start':>21}")
    for low, high in [(1, 100), (100, 1000), (1000, 10000), (10000, ds.n + 1)]:
        group = [r for r in rows if low <= r[0] < high]
        if not group:
            continue
        members_total = sum(r[0] for r in group)
        print(f"{f'{low:,}-{high - 1:,}':>18} {len(group):>7} {np.mean([r[1] for r in group]):>22.2f} "
              f"{np.mean([r[2] for r in group]):>25.2f} {sum(r[3] for r in group) / members_total:>21.1%}")
    print(f"\nall (label, point) pairs reachable from the label's start node: "
          f"{sum(r[3] for r in rows) / counts.sum():.1%} (a ceiling on label-only recall)")
    algo.done()


if __name__ == "__main__":
    main()
