"""Vector databases against a library, through the harness, in one run:

    python -m benchmarks.engines [--dataset random-filter-s] [--queries 200] [--clients 4] [--local]

First the default groups of every database plugin (config.yml `database: true`: pgvector,
qdrant, lancedb, chroma, sqlite-vec, duckdb) and of faiss-hnsw-bitmap (faiss HNSW with in-search
filtering on the filter map) run as one sweep (harness.sweep: each build in its own container, or
with --local as local processes). Then, for each of them, the configurations that reached recall
0.9 fastest in some scenario run again with --clients client processes (harness.clients), which
replaces those results with ones that also hold the answers under load. It prints per database
and scenario: the best single-client QPS at recall@10 >= 0.9, the QPS of all clients together
where their answers still reach 0.9, the best recall at the engine's own defaults, and the
single-client ratio to faiss HNSW + bitmap. Recall and integrity are the harness's
(harness.export). Results stay in --results (default results/), so `python -m website` shows them.
"""
import argparse
import json
import sys

from harness.definitions import Group, load_all, select
from harness.export import at_defaults, collect
from harness.results import results_dir
from harness.runner import workload_name
from harness.sweep import parse_args, run

BASELINE = "faiss-hnsw-bitmap"
TARGET = 0.9


def best(rows):
    return max((r["qps"] for r in rows if (r.get("recall") or 0) >= TARGET), default=None)


def best_at(rows, clients):
    return max((level["qps"] for r in rows for level in r.get("clients") or []
                if level["clients"] == clients and (level.get("recall") or 0) >= TARGET), default=None)


def fastest_groups(rows, configs, algorithms):
    """Per algorithm, a run group of the configurations that reached recall 0.9 fastest in some
    scenario: one build each, with the query settings that won on it."""
    selection = []
    for algorithm in algorithms:
        winners = {}
        for scenario in {r["scenario"] for r in rows if r["algorithm"] == algorithm}:
            ok = [r for r in rows if r["algorithm"] == algorithm and r["scenario"] == scenario
                  and (r.get("recall") or 0) >= TARGET]
            if ok:
                best = max(ok, key=lambda r: r["qps"])
                build = {k: v for k, v in best["build_args"].items() if k not in configs[algorithm].args}
                winners.setdefault(json.dumps(build, sort_keys=True), []).append(best["query_args"])
        for i, (build, queries) in enumerate(sorted(winners.items())):
            keys = sorted({key for q in queries for key in q})
            grid = {key: sorted({q[key] for q in queries if key in q}, key=str) for key in keys}
            selection.append((configs[algorithm], Group(f"fastest-{i}", [json.loads(build)], grid, [], True)))
    return selection


def cell(v, width=10):
    return ("-" if v is None else f"{v:,.0f}").rjust(width)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.engines", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="random-filter-s")
    p.add_argument("--queries", type=int, default=200, help="a seeded sample of N queries (default 200)")
    p.add_argument("--clients", type=int, default=4, help="concurrent client processes measured (default 4)")
    p.add_argument("--client-seconds", type=float, default=10, help="measured window per pass (default 10)")
    p.add_argument("--client-warmup", type=float, default=3, help="warm-up per pass (default 3)")
    p.add_argument("--local", action="store_true", help="local processes instead of containers")
    p.add_argument("--results", default=None, help="results directory (default: results/)")
    args = p.parse_args(argv)
    configs = load_all()
    engines = [name for name, cfg in configs.items() if cfg.database]
    common = ["--dataset", args.dataset, "--queries", str(args.queries), "--runs", "1"]
    common += ["--local"] * args.local + (["--results", args.results] if args.results else [])
    sweep = parse_args(common + [arg for name in engines + [BASELINE] for arg in ("--algorithm", name)])
    code = run(sweep, select(configs, sweep.algorithm))
    if code not in (0, 1):  # 1: some pass failed; the table still shows what was measured
        return code
    from datasets import dataset_path
    from harness.dataset import Dataset
    ds = Dataset(dataset_path(args.dataset))
    workload = workload_name(ds.name, args.queries if args.queries < ds.nq else 0)
    scored = lambda: [r for r in collect(args.results or results_dir(), workload, datasets_lookup=dataset_path)
                      if r["k"] == 10]
    rows = scored()
    loaded = parse_args(common + ["--clients", str(args.clients), "--client-seconds", str(args.client_seconds),
                                  "--client-warmup", str(args.client_warmup)])
    code = max(code, run(loaded, fastest_groups(rows, configs, engines + [BASELINE])))
    rows = scored()
    scenarios = [s for s in ["unfiltered"] + ds.scenario_names if any(r["scenario"] == s for r in rows)]
    print(f"\n{workload}: best QPS at recall@10 >= {TARGET}; 1 client / {args.clients} clients (all together); "
          f"best recall at the engine's defaults; x = single-client QPS / {BASELINE}")
    for s in scenarios:
        of = lambda a: [r for r in rows if r["algorithm"] == a and r["scenario"] == s]
        base = best(of(BASELINE))
        print(f"\n{s}: {BASELINE} {cell(base, 0).strip()} QPS (1 client), "
              f"{cell(best_at(of(BASELINE), args.clients), 0).strip()} ({args.clients} clients)")
        print(f"  {'engine':12s} {'1 client':>10s} {f'{args.clients} clients':>11s} {'defaults':>9s} {'x faiss':>8s}")
        for e in engines:
            rs = of(e)
            if not rs:
                print(f"  {e:12s} {'not run':>10s}")
                continue
            one = best(rs)
            defaults = max((r["recall"] for r in at_defaults(rs, configs[e].defaults) if r.get("recall") is not None),
                           default=None)
            ratio = f"{one / base:.2f}x" if one and base else "-"
            print(f"  {e:12s} {cell(one)} {cell(best_at(rs, args.clients), 11)} "
                  f"{'-' if defaults is None else f'{defaults:.3f}':>9s} {ratio:>8s}")
    return code


if __name__ == "__main__":
    sys.exit(main())
