"""FilterBench: run filtered-ANN benchmarks.

    python -m install && python run.py --dataset random-filter-s --algorithm faiss-hnsw
    python run.py --local --algorithm faiss-hnsw        # the same worker, as a local subprocess
    python run.py --list-algorithms
"""
import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, ROOT)

from tqdm import tqdm  # noqa: E402

from harness.filters import SCENARIOS, UNFILTERED  # noqa: E402

DEFAULT_DATASET = "fashion-products"


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python run.py", description="Run filtered approximate nearest-neighbour benchmarks.")
    p.add_argument("--dataset", default=DEFAULT_DATASET, help=f"dataset name or .hdf5 path (default: {DEFAULT_DATASET})")
    p.add_argument("--algorithm", action="append", default=[], metavar="NAME",
                   help="plugin, algorithm, run group or algorithm/group; repeatable (default: every default group)")
    p.add_argument("--scenario", default="all",
                   help=f"one of {', '.join((UNFILTERED,) + SCENARIOS)}, or all (default)")
    p.add_argument("-k", "--count", type=int, default=10, help="neighbours per query (default: 10)")
    p.add_argument("--runs", type=int, default=3, help="timed passes per query set; the fastest is kept (default: 3)")
    p.add_argument("--queries", type=int, default=0, metavar="N",
                   help="use only the first N queries, for quick checks (kept apart as workload DATASET@qN)")
    p.add_argument("--batch", action="store_true", help="also measure batch mode (chunks of queries, all cores)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per build configuration before it is killed (default: 3600)")
    p.add_argument("--force", action="store_true", help="rerun results that already exist, and builds that failed before")
    p.add_argument("--local", action="store_true", help="run workers as local subprocesses instead of Docker containers")
    p.add_argument("--cpus", default=None, metavar="SET", help="Docker: CPUs a container may use, e.g. 0-1 or 0,2 (default: all)")
    p.add_argument("--memory", default=None, metavar="SIZE", help="Docker: memory limit of a container, e.g. 8g (default: none)")
    p.add_argument("--results", default=None, help="results directory (default: results/)")
    p.add_argument("--plugins", default=None, metavar="DIR",
                   help="directory of plugin folders (default: algorithms/); its parent must be importable")
    p.add_argument("--list-algorithms", action="store_true", help="list plugins, their run groups, scenarios and distances")
    p.add_argument("--list-datasets", action="store_true", help="list the datasets that can be built or are present")
    args = p.parse_args(argv)
    if args.count < 1 or args.runs < 1 or args.timeout <= 0 or args.queries < 0:
        p.error("--count and --runs must be at least 1, --timeout positive, --queries not negative")
    return args


def list_algorithms(configs):
    from harness.definitions import expand
    for cfg in configs.values():
        print(f"{cfg.name}  ({cfg.plugin}/config.yml, class {cfg.cls})")
        if cfg.description:
            print(f"    {cfg.description}")
        print(f"    scenarios: unfiltered, {', '.join(cfg.scenarios) or '-'}; distances: {', '.join(cfg.distances)}"
              f"{'; label-aware' if cfg.label_aware else ''}")
        for g in cfg.groups.values():
            kind = "opt-in" if (g.opt_in or g.name == "smoke") else "default"
            n_builds = len(expand(cfg, g, None)[0]) if not any("dimension" in c for c in g.constraints) else "?"
            n_queries = 1
            for values in g.query.values():
                n_queries *= len(values)
            print(f"    {g.name:18s} {kind:8s} {n_builds} builds x {n_queries} query settings")


def list_datasets():
    from datasets import DATASETS, dataset_path
    for spec in DATASETS.values():
        path = dataset_path(spec.name)
        state = "built" if os.path.exists(path) else "not built (built on first use)"
        print(f"{spec.name:22s} {spec.size:32s} {spec.source:12s} {state}")
    print("NAME@P%                a seeded P% of NAME's base (1 to 99), its queries, ground truth anew: "
          "the scalability experiment")


def summarize(rows, k):
    """Best single-thread QPS (filter map included) at recall >= 0.9 per algorithm and scenario."""
    best = {}
    for r in rows:
        if r.get("k") != k or r.get("recall") is None:
            continue
        key = (r["algorithm"], r["scenario"])
        b = best.setdefault(key, {"qps": None, "recall": 0.0, "violations": 0})
        b["recall"] = max(b["recall"], r["recall"])
        b["violations"] += r.get("violations", 0) + r.get("duplicates", 0) + r.get("out_of_range", 0)
        if r["recall"] >= 0.9 and (b["qps"] is None or r["qps"] > b["qps"]):
            b["qps"] = r["qps"]
    if not best:
        return "no results to summarize"
    scenarios = [s for s in (UNFILTERED,) + SCENARIOS if any(sc == s for _, sc in best)]
    algorithms = sorted({a for a, _ in best})
    width = max(len(a) for a in algorithms) + 2
    lines = [f"Best QPS at recall@{k} >= 0.9 (single thread, filter map included; '<0.9 (r)' = best recall r)",
             "algorithm".ljust(width) + "".join(s.rjust(16) for s in scenarios)]
    for a in algorithms:
        cells = []
        for s in scenarios:
            b = best.get((a, s))
            cell = "-" if b is None else (f"{b['qps']:.0f}" if b["qps"] is not None else f"<0.9 ({b['recall']:.2f})")
            if b is not None and b["violations"]:
                cell += " !"
            cells.append(cell.rjust(16))
        lines.append(a.ljust(width) + "".join(cells))
    if any(b["violations"] for b in best.values()):
        lines.append("! = returned ids that fail the filter, repeat, or are out of range (see harness.export)")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    from harness.dataset import Dataset, DatasetError
    from harness.definitions import ConfigError, load_all, select
    from harness.results import results_dir

    try:
        configs = load_all(args.plugins) if args.plugins else load_all()
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.list_algorithms:
        list_algorithms(configs)
        return 0
    if args.list_datasets:
        list_datasets()
        return 0
    from harness import runner
    if args.local:
        engine = runner.LocalEngine()
    else:
        try:
            engine = runner.DockerEngine(args.cpus, args.memory)
        except runner.DockerError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    try:
        selection = select(configs, args.algorithm)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    from datasets import DATASETS, dataset_path, ensure_dataset, is_known
    if not is_known(args.dataset) and not os.path.exists(dataset_path(args.dataset)):
        print(f"error: unknown dataset '{args.dataset}' (known: {', '.join(DATASETS)}; NAME@P% for a P% base "
              f"subset; or give an .hdf5 path)", file=sys.stderr)
        return 2
    from datasets import SourceMissing
    try:
        path = ensure_dataset(args.dataset, log=lambda m: print(m, file=sys.stderr))
        ds = Dataset(path)
    except (DatasetError, SourceMissing) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    scenarios = None
    if args.scenario != "all":
        if args.scenario not in ds.scenario_names:
            print(f"error: dataset {ds.name} has no scenario '{args.scenario}' (it has: {', '.join(ds.scenario_names)})",
                  file=sys.stderr)
            return 2
        scenarios = [args.scenario]
    gt_k = min([ds.neighbors.shape[1]] + [s.neighbors.shape[1] for s in ds.scenarios.values()])
    if args.count > gt_k:
        if ds.single_label_classes() is None or scenarios != ["unfiltered"]:
            print(f"error: --count {args.count} exceeds the {gt_k} neighbours of the dataset's ground truth "
                  f"(beyond it only label metrics can be computed: single-class datasets, --scenario unfiltered)",
                  file=sys.stderr)
            return 2
        print(f"note: k={args.count} exceeds the ground truth's {gt_k}: label metrics only, no recall")

    from harness.export import collect
    sweep = runner.Sweep(ds, path, args.count, args.runs, args.batch, args.timeout, args.results or results_dir(),
                         args.force, min(args.queries, ds.nq) if args.queries < ds.nq else 0)
    p = runner.plan(sweep, selection, scenarios)
    if isinstance(engine, runner.DockerEngine):
        try:
            engine.check_images([job.definition for job in p.jobs])
        except runner.DockerError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    passes = sum(len(j.todo) for j in p.jobs)
    print(f"{sweep.workload}: {ds.n} vectors, d={ds.d}, {sweep.queries or ds.nq} queries, "
          f"scenarios: {', '.join(scenarios or ds.scenario_names)}")
    print(f"{len(p.jobs)} builds to run ({passes} query passes); {p.done} passes already done, "
          f"{p.failed_before} failed before (builds or passes; --force retries them), "
          f"{p.skipped_constraints} combinations skipped by constraints")
    for name, why in p.unsupported:
        print(f"skipping {name}: {why}")
    failures = 0
    start = time.time()
    with tqdm(p.jobs, unit="build", dynamic_ncols=True, file=sys.stderr, disable=None) as bar:
        for job in bar:
            d = job.definition
            bar.set_description(f"{d.algorithm} {d.build_name}")
            out = runner.run_job(job, sweep, engine)
            status = f"{len(out.moved)} of {len(job.todo)} passes in {out.seconds:.1f} s"
            if not out.ok:
                failures += 1
                status = f"FAILED ({out.reason}); {status}; log: {os.path.relpath(out.log)}"
            tqdm.write(f"{d.algorithm:20s} {d.build_name:40s} {status}")
    if p.jobs:
        print(f"ran {len(p.jobs)} builds in {time.time() - start:.0f} s, {failures} failed")
    names = {cfg.name for cfg, _ in selection}
    lookup = lambda name: path if name == ds.name else dataset_path(name)
    rows = [r for r in collect(sweep.root, sweep.workload, datasets_lookup=lookup) if r["algorithm"] in names]
    print(summarize(rows, args.count))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
