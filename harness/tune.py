"""python -m harness.tune: the FANNS paper's unified parameter tuning (Section 4, Algorithm 1).

    python -m harness.tune --algorithm acorn-1 --dataset arxiv                  # the plugin's `tuning` group
    python -m harness.tune --algorithm faiss-hnsw-bitmap --dataset arxiv \\
        --grid "M=16,32,48 efConstruction=40,100,200" --query "efSearch=10,20,40,80,160,320"
    python run.py --algorithm acorn-1/tuned --dataset arxiv                     # the picks, at full size

1. The parameter space (the plugin's opt-in `tuning` group, or --grid and --query) is divided into
   subspaces along one build parameter (--split; default the first with several values), its
   sorted values cut into --subspaces contiguous parts (default one per value, at most 4).
2. Every build configuration is built on a random sample of the base (--sample, default 50,000
   vectors: the reference scripts' size; seed 0), the dataset NAME@nSIZE (datasets.subsets: its
   queries' ground truth computed anew), or on the whole base when it is smaller (said so), and
   searched with every query setting in every filtered scenario it answers (the sweep is
   run.py's: resumable, isolated, with progress and an estimate of the time left). Tuning runs
   write to a workload of their own, SAMPLE@tune-local or SAMPLE@tune-docker: they never mix
   with the leaderboard's results, nor local passes with containers' in one ranking.
3. Per configuration and query setting, recall is averaged over the scenarios and QPS combined by
   their harmonic mean (the mean time per query across scenarios, so no scenario's speed hides
   another's); over its query settings, the configuration's Pareto frontier gives by linear
   interpolation its QPS at each recall target (--targets, default 0.8, 0.9, 0.95; the reference
   scripts use 0.6, 0.7, 0.8, which on this harness's tie-exact recall almost every method
   passes with its cheapest setting, so they would not separate configurations; 0.9 is the
   big-ann-benchmarks rule the leaderboards use). A target beyond a configuration's best recall
   gets no QPS.
4. Configurations are ranked per target by QPS (one that never reaches it after all that do), the
   ranks averaged; each subspace keeps its best (ties: more QPS at the middle target, then by
   name), and a pick stays only if no other configuration dominates it (as much QPS at every
   target and more at one): the picks lie on the Pareto front of the configurations. The picks
   are the run group `tuned` (results/tuning/DATASET/ALGORITHM.yml), run at full size by
   `run.py --algorithm ALGORITHM/tuned --dataset DATASET`, and the report (ALGORITHM.json beside
   it: per configuration its QPS at each target, its rank at each, the mean, and what dominates
   it; with a note when the targets cannot separate the configurations) is a page of the site.

Deterministic given the seed: the sample, the workloads and the grid are; the ranking is, where
QPS differences exceed timing noise (tested with a plugin whose best setting is known).
"""
import argparse
import json
import math
import os
import sys
import time

TARGETS = (0.8, 0.9, 0.95)
DEFAULT_SAMPLE = 50_000
MAX_SUBSPACES = 4


# --- The arithmetic of Algorithm 1 (pure functions) ---------------------------------------------

def combine(per_scenario):
    """(recall, QPS) of one query setting over scenarios: mean recall, harmonic mean of QPS."""
    recalls = [r for r, _ in per_scenario]
    qps = [q for _, q in per_scenario]
    return sum(recalls) / len(recalls), len(qps) / sum(1.0 / q for q in qps)


def frontier(points):
    """The (recall, QPS) points no other beats on both, by increasing recall."""
    best, front = -math.inf, []
    for recall, qps in sorted(points, key=lambda p: (-p[0], -p[1])):
        if qps > best:
            front.append((recall, qps))
            best = qps
    return sorted(front)


def interpolate(points, targets):
    """QPS at each recall target along the points' Pareto frontier, linearly between its points;
    a target below the frontier's lowest recall gets that point's QPS, one above its highest None."""
    front = frontier(points)
    out = []
    for t in targets:
        if not front or t > front[-1][0]:
            out.append(None)
        elif t <= front[0][0]:
            out.append(front[0][1])
        else:
            for (r0, q0), (r1, q1) in zip(front, front[1:]):
                if r0 <= t <= r1:
                    out.append(q0 + (q1 - q0) * (t - r0) / (r1 - r0) if r1 > r0 else max(q0, q1))
                    break
    return out


def target_ranks(qps_at_targets):
    """Each configuration's rank at each target: {name: [QPS or None per target]} -> {name: [rank
    per target]} (1 the most QPS; configurations that never reach a target share the last rank)."""
    names = sorted(qps_at_targets)
    out = {name: [] for name in names}
    for j in range(len(next(iter(qps_at_targets.values()), []))):
        reached = sorted((n for n in names if qps_at_targets[n][j] is not None), key=lambda n: -qps_at_targets[n][j])
        for name in names:
            out[name].append(reached.index(name) + 1 if name in reached else len(reached) + 1)
    return out


def ranks(qps_at_targets):
    """Mean rank of each configuration over the targets (target_ranks averaged)."""
    return {name: sum(r) / max(len(r), 1) for name, r in target_ranks(qps_at_targets).items()}


def dominates(a, b):
    """Whether QPS-at-targets a dominates b: at least as fast at every target (None: not reached)
    and faster at one."""
    qa = [-1.0 if q is None else q for q in a]
    qb = [-1.0 if q is None else q for q in b]
    return all(x >= y for x, y in zip(qa, qb)) and any(x > y for x, y in zip(qa, qb))


def subspaces(builds, split, count=None):
    """Each build's subspace: the sorted values of `split` cut into `count` contiguous parts."""
    values = sorted({b[split] for b in builds}, key=lambda v: (isinstance(v, str), v))
    count = min(len(values), MAX_SUBSPACES) if count is None else min(count, len(values))
    part = {v: min(i * count // len(values), count - 1) for i, v in enumerate(values)}
    return [part[b[split]] for b in builds], [[v for v in values if part[v] == j] for j in range(count)]


def pick(configurations, targets, split, count=None):
    """Algorithm 1's choice. configurations: {name: {"build_args", "points": [(recall, QPS)]}}.
    Returns the report: every configuration with its subspace, interpolated QPS, rank at each
    target (within its subspace) and mean rank, what dominates it, and whether it was picked."""
    names = sorted(configurations)
    builds = [configurations[n]["build_args"] for n in names]
    parts, values = subspaces(builds, split, count)
    qps = {n: interpolate(configurations[n]["points"], targets) for n in names}
    dominated_by = {n: next((m for m in names if dominates(qps[m], qps[n])), None) for n in names}
    rows = []
    for j in range(len(values)):
        members = [n for n, p in zip(names, parts) if p == j]
        per_target = target_ranks({n: qps[n] for n in members})
        rank = {n: sum(r) / len(r) for n, r in per_target.items()}
        middle = len(targets) // 2
        best = min(members, key=lambda n: (rank[n], -(qps[n][middle] or 0), n))
        rows += [{"name": n, "build_args": configurations[n]["build_args"], "subspace": j,
                  "subspace_values": values[j], "points": configurations[n]["points"],
                  "qps_at": dict(zip(map(str, targets), qps[n])), "ranks": dict(zip(map(str, targets), per_target[n])),
                  "mean_rank": rank[n], "dominated_by": dominated_by[n],
                  "picked": n == best and dominated_by[n] is None}
                 for n in members]
    return rows


def explain(rows, targets):
    """A note when the ranking cannot separate the configurations, else ""."""
    reached = [r for r in rows if any(q is not None for q in r["qps_at"].values())]
    if not reached:
        return (f"no configuration reaches recall {min(targets)} with any query setting: nothing to rank; add "
                f"costlier query settings (--query)")
    lowest = [min(recall for recall, _ in r["points"]) for r in rows if r["points"]]
    if lowest and min(lowest) >= max(targets):
        return (f"every configuration reaches recall {max(targets)} already with its cheapest query setting (lowest "
                f"recall {min(lowest):.3f}), so each configuration's QPS at every target is that of its cheapest "
                f"setting and the targets do not separate them: add cheaper query settings (--query) to see where "
                f"each one drops")
    if len({tuple(r["qps_at"].values()) for r in rows}) == 1:
        return "every configuration has the same QPS at every target: the ranking is a tie, broken by name"
    return ""


# --- The tuned group --------------------------------------------------------------------------

def tuning_dir(results_root, dataset):
    return os.path.join(results_root, "tuning", dataset)


def tuned_group(results_root, dataset, algorithm, configs=None):
    """The run group `tuned` that a tuning of `algorithm` on `dataset` wrote, or None."""
    import yaml

    from harness.definitions import Group, _check_builds, _check_grid
    path = os.path.join(tuning_dir(results_root, dataset), f"{algorithm}.yml")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        raw = yaml.safe_load(f) or {}
    group = raw.get("group", {})
    return Group("tuned", _check_builds(group.get("build"), f"{path}: group.build"),
                 _check_grid(group.get("query"), f"{path}: group.query"), [], True)


def parse_grid(text, where):
    """'M=16,32 efConstruction=40,100' -> {"M": [16, 32], "efConstruction": [40, 100]}."""
    grid = {}
    for item in (text or "").split():
        key, sep, values = item.partition("=")
        if not sep or not values:
            raise ValueError(f"{where} {text!r}: write NAME=V1,V2 ... separated by spaces")
        grid[key] = [_value(v) for v in values.split(",")]
    return grid


def _value(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main(argv=None):
    import yaml

    from datasets import dataset_path, ensure_dataset
    from harness.dataset import Dataset, DatasetError
    from harness.definitions import ConfigError, Group, _check_arguments, _grid, _search_roots, load_all
    from harness.export import collect
    from harness.results import results_dir, write_json
    from harness.runner import workload_name
    from harness.sweep import parse_args, run
    p = argparse.ArgumentParser(prog="python -m harness.tune", description=__doc__.splitlines()[0])
    p.add_argument("--algorithm", required=True, help="an algorithm (not a plugin folder or group)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--grid", help="build grid instead of the tuning group, e.g. \"M=16,32 efConstruction=40,100\"")
    p.add_argument("--query", help="query grid (default: the tuning group's, else the default group's)")
    p.add_argument("--sample", type=int, default=DEFAULT_SAMPLE, help=f"base vectors to tune on (default {DEFAULT_SAMPLE:,})")
    p.add_argument("--split", help="the build parameter the subspaces divide (default: the first with several values)")
    p.add_argument("--subspaces", type=int, help=f"how many (default: one per value of --split, at most {MAX_SUBSPACES})")
    p.add_argument("--targets", default=",".join(map(str, TARGETS)), help="recall targets (default 0.8,0.9,0.95)")
    p.add_argument("--queries", type=int, default=0, help="a seeded sample of N queries (default: all)")
    p.add_argument("--runs", type=int, default=1, help="timed passes per setting (default 1)")
    p.add_argument("--local", action="store_true", help="run workers as local subprocesses, not containers")
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--results", default=None)
    p.add_argument("--plugins", default=None, metavar="DIR")
    args = p.parse_args(argv)
    fail = lambda message: print(f"error: {message}", file=sys.stderr) or 2
    try:
        targets = [float(t) for t in args.targets.split(",")]
        configs = load_all(args.plugins) if args.plugins else load_all()
        if args.algorithm not in configs:
            return fail(f"--algorithm {args.algorithm}: no such algorithm (algorithms: {', '.join(configs)})")
        cfg = configs[args.algorithm]
        base = cfg.groups.get("tuning")
        if args.grid:
            query = parse_grid(args.query, "--query") if args.query else (base or cfg.default_groups()[0]).query
            group = Group("tuning", _grid(parse_grid(args.grid, "--grid")), query, [], True)
        elif base is not None:
            group = Group("tuning", base.builds, parse_grid(args.query, "--query") if args.query else base.query,
                          base.constraints, True)
        else:
            return fail(f"{args.algorithm} has no `tuning` group in {cfg.path}: give the grid, --grid \"NAME=V1,V2 ...\"")
        cfg.groups["tuning"] = group
        _check_arguments(cfg, _search_roots(cfg.path))  # a typo in --grid is one line, before any build
    except (ValueError, ConfigError) as e:
        return fail(e)
    split = args.split or next((k for k in group.build_keys if len({b[k] for b in group.builds}) > 1), None)
    if split is None or split not in group.build_keys:
        return fail(f"--split {split}: the grid's build parameters with several values are: "
                    f"{', '.join(k for k in group.build_keys if len({b[k] for b in group.builds}) > 1) or 'none'}")
    root = args.results or results_dir()
    try:
        full = Dataset(ensure_dataset(args.dataset, log=lambda m: print(m, file=sys.stderr)))
    except DatasetError as e:
        return fail(e)
    sample = args.dataset if args.sample >= full.n else f"{args.dataset}@n{args.sample}"
    if args.sample >= full.n:
        print(f"note: the base has {full.n:,} vectors, no more than --sample {args.sample:,}: tuning on the whole base")
    mode = "local" if args.local else "docker"
    print(f"tuning {args.algorithm} on {sample} ({min(args.sample, full.n):,} of {full.n:,} base vectors, {mode} "
          f"workers): {len(group.builds)} build configurations x {len(_grid(group.query))} query settings, "
          f"subspaces along {split}")
    sweep_args = parse_args(["--dataset", sample, "--runs", str(args.runs), "--timeout", str(args.timeout),
                             "--results", root, "--queries", str(args.queries)]
                            + (["--local"] if args.local else []) + (["--plugins", args.plugins] if args.plugins else []))
    start = time.time()
    code = run(sweep_args, selection=[(cfg, group)], tag=f"tune-{mode}")
    if code == 2:
        return code
    ds = Dataset(dataset_path(sample))
    workload = workload_name(ds.name, args.queries if args.queries < ds.nq else 0, f"tune-{mode}")
    rows = [r for r in collect(root, workload) if r["algorithm"] == cfg.name and r.get("recall") is not None
            and r["scenario"] != "unfiltered"]
    wanted = {json.dumps({**cfg.args, **b}, sort_keys=True) for b in group.builds}
    configurations = {}
    by_setting = {}
    for r in rows:
        key = json.dumps(r["build_args"], sort_keys=True)
        if key in wanted:
            by_setting.setdefault(key, {}).setdefault(json.dumps(r["query_args"], sort_keys=True), []).append(
                (r["recall"], r["qps"]))
    for key, settings in by_setting.items():
        build_args = json.loads(key)
        scenarios = max(len(v) for v in settings.values())
        points = [combine(v) for v in settings.values() if len(v) == scenarios]  # settings measured everywhere
        configurations[_name(build_args, cfg.args)] = {"build_args": build_args, "points": points}
    if not configurations:
        return fail(f"no results of {cfg.name} on {workload} to rank (did every build fail? see above)")
    report = pick(configurations, targets, split, args.subspaces)
    note = explain(report, targets)
    picked = [r for r in report if r["picked"]]
    directory = tuning_dir(root, args.dataset)
    os.makedirs(directory, exist_ok=True)
    builds = [{k: v for k, v in r["build_args"].items() if k not in cfg.args} for r in picked]
    with open(os.path.join(directory, f"{cfg.name}.yml.tmp"), "w") as f:
        f.write(f"# Written by python -m harness.tune --algorithm {cfg.name} --dataset {args.dataset} on "
                f"{time.strftime('%Y-%m-%d')}: the best of each subspace along {split} that no other "
                f"configuration dominates.\n")
        yaml.safe_dump({"algorithm": cfg.name, "dataset": args.dataset,
                        "group": {"build": builds, "query": group.query}}, f, sort_keys=False)
    os.replace(os.path.join(directory, f"{cfg.name}.yml.tmp"), os.path.join(directory, f"{cfg.name}.yml"))
    write_json(os.path.join(directory, f"{cfg.name}.json"),
               {"algorithm": cfg.name, "dataset": args.dataset, "sample": sample, "workload": workload,
                "split": split, "targets": targets, "seconds": time.time() - start, "configurations": report,
                "query_grid": group.query, "mode": mode, "note": note})
    print(f"\n{'configuration':36s} {'subspace':>8s} " + " ".join(f"{f'QPS@{t}':>10s}" for t in targets)
          + f"  {'rank at each':>14s}  mean rank")
    for r in sorted(report, key=lambda r: (r["subspace"], r["mean_rank"])):
        cells = " ".join(f"{(f'{q:,.0f}' if q else '-'):>10s}" for q in r["qps_at"].values())
        at_each = "/".join(str(x) for x in r["ranks"].values())
        verdict = "  <- picked" if r["picked"] else f"  (dominated by {r['dominated_by']})" if r["dominated_by"] else ""
        print(f"{r['name'][:36]:36s} {r['subspace']:>8d} {cells}  {at_each:>14s}  {r['mean_rank']:9.2f}{verdict}")
    if note:
        print(f"\nnote: {note}")
    print(f"\npicked {len(picked)} configurations: the best of each subspace of {split} that no other configuration "
          f"dominates; results in the workload {workload} (not on the leaderboard); run them at full size with:\n"
          f"  python run.py --algorithm {cfg.name}/tuned --dataset {args.dataset}"
          f"{' --local' if args.local else ''}")
    return 0 if code == 0 else 1


def _name(build_args, fixed):
    from harness.definitions import args_name
    return args_name({k: v for k, v in build_args.items() if k not in fixed}) or "default"


if __name__ == "__main__":
    sys.exit(main())
