"""python -m website.plot: one chart for a paper or a slide, as ann-benchmarks' plot.py makes them.

    python -m website.plot --dataset arxiv --scenario containment -o arxiv-containment.png
    python -m website.plot --dataset arxiv --scenario range-date -x recall -y build_time -o build.svg

Every configuration of every algorithm on the workload (dataset or DATASET@qN), faded, and each
algorithm's Pareto frontier in its colour and marker (the site's). The format follows the file's
extension (.png, .svg, .pdf). Metrics are the harness's (harness.export), never the plugins'.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from website.plots import Styles, pareto  # noqa: E402

AXES = {"recall": ("recall@{k}", False, True), "qps": ("queries per second (single thread)", True, True),
        "qps_search": ("queries per second, search only", True, True),
        "batch_qps": ("queries per second (batch, all cores)", True, True),
        "build_time": ("build time, s", True, False), "index_size": ("index size, bytes", True, False),
        "latency_p50": ("median latency, s", True, False), "latency_p99": ("99th percentile latency, s", True, False),
        "distance_computations": ("distance computations per query", True, False)}  # label, log, higher is better
MARKERS = {"circle": "o", "square": "s", "triangle": "^", "diamond": "D", "cross": "P"}


def frontier(points, x_higher, y_higher):
    """The points no other beats on both axes (each in its better direction)."""
    flipped = [{"x": p["x"] if x_higher else -p["x"], "y": p["y"] if y_higher else -p["y"], "p": p} for p in points]
    return [f["p"] for f in pareto(flipped)]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m website.plot", description=__doc__.splitlines()[0])
    p.add_argument("--dataset", required=True, help="a dataset or workload (NAME@qN) with results")
    p.add_argument("--scenario", required=True, help="unfiltered, or a scenario of the dataset")
    p.add_argument("-x", default="recall", choices=sorted(AXES), help="x axis (default recall)")
    p.add_argument("-y", default="qps", choices=sorted(AXES), help="y axis (default qps)")
    p.add_argument("-k", "--count", type=int, default=10)
    p.add_argument("--results", default=None, help="results directory (default: results/)")
    p.add_argument("-o", "--output", required=True, help="FILE.png, FILE.svg or FILE.pdf")
    args = p.parse_args(argv)
    ext = os.path.splitext(args.output)[1].lower()
    if ext not in (".png", ".svg", ".pdf"):
        print(f"error: -o {args.output}: give a .png, .svg or .pdf file", file=sys.stderr)
        return 2
    from harness.export import collect
    from harness.results import results_dir
    problems = []
    rows = [r for r in collect(args.results or results_dir(), args.dataset, problems=problems)
            if r["scenario"] == args.scenario and r["k"] == args.count
            and r.get(args.x) is not None and r.get(args.y) is not None]
    if not rows:
        print(f"error: no results for {args.dataset} {args.scenario} k={args.count} with {args.x} and {args.y} "
              f"(run python run.py --dataset {args.dataset} first)", file=sys.stderr)
        return 2
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from harness.definitions import load_all
    styles = Styles(list(load_all()) + [r["algorithm"] for r in rows])
    (x_label, x_log, x_higher), (y_label, y_log, y_higher) = AXES[args.x], AXES[args.y]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=150)
    for algo in sorted({r["algorithm"] for r in rows}):
        colour, marker = styles.of(algo)
        points = [{"x": r[args.x], "y": r[args.y]} for r in rows if r["algorithm"] == algo]
        ax.scatter([q["x"] for q in points], [q["y"] for q in points], color=colour, marker=MARKERS[marker],
                   alpha=0.25, s=14, linewidths=0)
        front = sorted(frontier(points, x_higher, y_higher), key=lambda q: q["x"])
        ax.plot([q["x"] for q in front], [q["y"] for q in front], color=colour, marker=MARKERS[marker], markersize=4,
                linewidth=1.6, label=algo)
    if args.x == "recall":
        low = min((r["recall"] for r in rows if r["recall"] >= 0.5), default=0.0)
        ax.set_xlim(int(low * 20) / 20, 1.0)
    ax.set_xscale("log" if x_log else "linear")
    ax.set_yscale("log" if y_log else "linear")
    ax.set_xlabel(x_label.format(k=args.count))
    ax.set_ylabel(y_label.format(k=args.count))
    ax.set_title(f"{args.dataset}, {args.scenario}, k={args.count}", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="best", frameon=False)
    fig.tight_layout()
    fig.savefig(args.output)
    print(f"wrote {args.output}: {len(rows)} configurations of {len({r['algorithm'] for r in rows})} algorithms"
          + (f"; skipped {len(problems)} unreadable files" if problems else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
