"""One sweep: every build configuration of the selected plugins on one dataset, each in its own
worker, resumable (harness.runner). run.py parses its command line into this; harness.tune and
harness.experiments call it with their own selections.
"""
import argparse
import os
import sys
import time
from collections import Counter

from tqdm import tqdm

from harness.export import defect_line, harness_defects
from harness.filters import UNFILTERED

DEFAULT_DATASET = "fashion-products"
BUILT_ON = {True: "; built on the attribute its predicate reads", "all": "; built on every attribute (whole rows)"}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python run.py", description="Run filtered approximate nearest-neighbour benchmarks.")
    p.add_argument("--dataset", default=DEFAULT_DATASET, help=f"dataset name or .hdf5 path (default: {DEFAULT_DATASET})")
    p.add_argument("--algorithm", action="append", default=[], metavar="NAME",
                   help="plugin, algorithm, run group or algorithm/group; repeatable (default: every default group)")
    p.add_argument("--scenario", default="all",
                   help=f"{UNFILTERED}, a scenario of the dataset (python -m datasets info NAME lists them), or all "
                        f"(default)")
    p.add_argument("-k", "--count", type=counts, default=(10,), metavar="K[,K...]",
                   help="neighbours per query (default: 10); several, e.g. 1,10,100, are all searched with each build")
    p.add_argument("--runs", type=int, default=3, help="timed passes per query set; the fastest is kept (default: 3)")
    p.add_argument("--queries", type=int, default=0, metavar="N",
                   help="use a seeded random sample of N queries, the same for every plugin, for quick checks "
                        "(kept apart as workload DATASET@qN)")
    p.add_argument("--batch", action="store_true", help="also measure batch mode (chunks of queries, all cores)")
    p.add_argument("--clients", type=levels, default=None, metavar="N[,N...]",
                   help="after the usual passes, also measure QPS with N concurrent client processes per level, "
                        "e.g. 1,2,4 (recall from every answer under load; see --client-seconds)")
    p.add_argument("--client-seconds", type=float, default=30, metavar="S",
                   help="measured window per client level, after the warm-up (default: 30, as VectorDBBench)")
    p.add_argument("--client-warmup", type=float, default=15, metavar="S",
                   help="warm-up per client level whose answers are not counted (default: 15, as Qdrant's benchmark)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per build configuration before it is killed (default: 3600)")
    p.add_argument("--heartbeat", type=float, default=300, metavar="S",
                   help="when output goes to a log, not a terminal: a line every S seconds on what a running "
                        "build is doing (default: 300)")
    p.add_argument("--force", action="store_true", help="rerun results that already exist, and builds that failed before")
    p.add_argument("--local", action="store_true", help="run workers as local subprocesses instead of Docker containers")
    p.add_argument("--cpus", default=None, metavar="SET",
                   help="CPUs a worker may use, e.g. 0-1 or 0,2 (default: all); --local applies it too")
    p.add_argument("--memory", default=None, metavar="SIZE",
                   help="memory limit of a container, e.g. 8g (default: 3/4 of this machine's); Docker only")
    p.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run the builds as tasks of a Ray cluster: host:port of its head, auto, or local (a "
                        "cluster of this machine); with --local the nodes run workers as subprocesses, else in "
                        "containers (README: Distributed sweeps)")
    p.add_argument("--ray-cpus", type=int, default=1, metavar="N",
                   help="whole CPUs each build holds on its node, pinned (default: 1)")
    p.add_argument("--source", default=None, metavar="DIR",
                   help="raw-data directory for building the dataset (default: $FILTERBENCH_RAW, else ../shared/data)")
    p.add_argument("--results", default=None, help="results directory (default: results/)")
    p.add_argument("--plugins", default=None, metavar="DIR",
                   help="directory of plugin folders (default: algorithms/); its parent must be importable")
    p.add_argument("--list-algorithms", action="store_true",
                   help="list plugins, their run groups, the predicates they answer and their distances")
    p.add_argument("--list-datasets", action="store_true", help="list the datasets that can be built or are present")
    args = p.parse_args(argv)
    if min(args.count) < 1 or args.runs < 1 or args.timeout <= 0 or args.heartbeat <= 0 or args.queries < 0:
        p.error("--count and --runs must be at least 1, --timeout and --heartbeat positive, --queries not negative")
    if args.client_seconds <= 0 or args.client_warmup < 0:
        p.error("--client-seconds must be positive and --client-warmup not negative")
    return args


def levels(text):
    """--clients 1,2,4: distinct client counts of at least 1, in the order given."""
    try:
        values = tuple(dict.fromkeys(int(v) for v in text.split(",")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of clients or a comma-separated list of them")
    if min(values) < 1 or max(values) > 256:
        raise argparse.ArgumentTypeError(f"'{text}': client counts are between 1 and 256")
    return values


def client_settings(args):
    """What harness.clients measures, or None without --clients."""
    if not getattr(args, "clients", None):
        return None
    return {"levels": list(args.clients), "seconds": args.client_seconds, "warmup": args.client_warmup}


def counts(text):
    """-k 10 or -k 1,10,100: the distinct values, in the order given."""
    try:
        return tuple(dict.fromkeys(int(v) for v in text.split(",")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of neighbours or a comma-separated list of them")


def list_algorithms(configs):
    from harness.definitions import expand
    for cfg in configs.values():
        print(f"{cfg.name}  ({cfg.plugin}/config.yml, class {cfg.cls})")
        if cfg.description:
            print(f"    {cfg.description}")
        answers = "every predicate (from the filter map)" if cfg.predicates == "all" else ", ".join(cfg.predicates)
        if cfg.fixed_length_labels:
            answers += " on attributes with the same number of labels per item"
        print(f"    answers: {answers}; distances: {', '.join(cfg.distances)}"
              f"{BUILT_ON.get(cfg.builds_on_attribute, '')}")
        for g in cfg.groups.values():
            kind = "opt-in" if (g.opt_in or g.name == "smoke") else "default"
            n_builds = len(expand(cfg, g, None)[0]) if not any("dimension" in c for c in g.constraints) else "?"
            n_queries = 1
            for values in g.query.values():
                n_queries *= len(values)
            print(f"    {g.name:18s} {kind:8s} {n_builds} builds x {n_queries} query settings")


def list_datasets():
    from datasets import DATASETS, dataset_path, other_datasets
    for spec in DATASETS.values():
        path = dataset_path(spec.name)
        state = "built" if os.path.exists(path) else "not built (built on first use)"
        print(f"{spec.name:22s} {spec.size:32s} {spec.source:12s} {state}")
    for name, size, source in other_datasets():
        print(f"{name:22s} {size:32s} {source[:60]} (imported or a subset, in data/)")
    print("NAME@P%                a seeded P% of NAME's base (1 to 99), its queries, ground truth anew: "
          "the scalability experiment")


def summarize(rows, k):
    """Best single-thread QPS (filter map included) at recall >= 0.9 per algorithm and scenario,
    and a line for every workload where an exact plugin scored below 0.999: a harness defect."""
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
        return "no results to summarize", [defect_line(r) for r in harness_defects(rows)]
    scenarios = list(dict.fromkeys([UNFILTERED] * any(sc == UNFILTERED for _, sc in best)
                                   + [r["scenario"] for r in rows if (r["algorithm"], r["scenario"]) in best]))
    algorithms = sorted({a for a, _ in best})
    width = max(len(a) for a in algorithms) + 2
    column = max([16] + [len(s) + 2 for s in scenarios])
    lines = [f"Best QPS at recall@{k} >= 0.9 (single thread, filter map included; '<0.9 (r)' = best recall r)",
             "algorithm".ljust(width) + "".join(s.rjust(column) for s in scenarios)]
    for a in algorithms:
        cells = []
        for s in scenarios:
            b = best.get((a, s))
            cell = "-" if b is None else (f"{b['qps']:.0f}" if b["qps"] is not None else f"<0.9 ({b['recall']:.2f})")
            if b is not None and b["violations"]:
                cell += " !"
            cells.append(cell.rjust(column))
        lines.append(a.ljust(width) + "".join(cells))
    if any(b["violations"] for b in best.values()):
        lines.append("! = returned ids that fail the filter, repeat, or are out of range (see harness.export)")
    return "\n".join(lines), [defect_line(r) for r in harness_defects(rows)]


def summarize_clients(rows, k):
    """Per algorithm and scenario, the QPS of all clients together at each --clients level, the
    best configuration whose answers under that load reach recall 0.9."""
    best = {}
    for r in rows:
        if r.get("k") != k:
            continue
        for level in r.get("clients") or []:
            key = (r["algorithm"], r["scenario"], level["clients"])
            if (level.get("recall") or 0) >= 0.9 and level["qps"] > best.get(key, 0):
                best[key] = level["qps"]
    levels = sorted({c for _, _, c in best})
    if not levels:
        return None
    lines = [f"QPS of all clients together at recall@{k} >= 0.9 (answers under load), per --clients level",
             "algorithm".ljust(20) + "scenario".ljust(22) + "".join(f"{c} clients".rjust(12) for c in levels)]
    for algorithm, scenario in sorted({(a, s) for a, s, _ in best}):
        lines.append(algorithm.ljust(20) + scenario.ljust(22)
                     + "".join((f"{best[(algorithm, scenario, c)]:.0f}" if (algorithm, scenario, c) in best else "-")
                               .rjust(12) for c in levels))
    return "\n".join(lines)


def ray_jobs(args, sweep, jobs, host_engine, memory, report):
    """The jobs as tasks of a Ray cluster (harness.distributed); None when they ran, else the exit
    code of a clear error."""
    from harness import distributed
    if not jobs:
        return None
    try:
        ray = distributed.connect(args.ray)
    except distributed.RayError as e:
        return fail(e)
    try:
        images = {name: image.id for name, image in host_engine.images.items()} if host_engine else {}
        engine = distributed.RayEngine(ray, "local" if args.local else "docker", args.ray_cpus,
                                       sweep.worker_dataset, memory, images)
        engine.say = tqdm.write
        nodes = [n for n in ray.nodes() if n["Alive"]]
        print(f"Ray: {len(nodes)} nodes, {sum(n['Resources'].get('CPU', 0) for n in nodes):g} CPUs; each build "
              f"holds {args.ray_cpus} of its node's CPUs, pinned; workers {'as subprocesses' if args.local else 'in containers'}")
        distributed.run_sweep_jobs(engine, sweep, jobs, report)
    except distributed.RayError as e:
        return fail(e)
    finally:
        ray.shutdown()
    return None


def failure_summary(failed):
    """Failed passes grouped by reason, most frequent first: [(count, reason, cause)]."""
    groups = Counter((reason, cause) for reason, cause in failed)
    return [(n, reason, cause) for (reason, cause), n in groups.most_common()]


def shown(path):
    """A path as the user can use it: relative to here when it is below here."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def fail(message, code=2):
    print(f"error: {message}", file=sys.stderr)
    return code


def run(args, selection=None, tag=""):
    """One sweep; `selection` [(AlgorithmConfig, Group)] instead of --algorithm, and `tag` a
    workload of its own (harness.tune)."""
    from harness import runner
    from harness.dataset import Dataset, DatasetError, worker_copy
    from harness.definitions import ConfigError, load_all, select
    from harness.results import results_dir
    from harness.tune import tuned_group

    broken = [] if args.list_algorithms else None  # a listing shows the good plugins beside the broken
    try:
        configs = load_all(args.plugins, broken) if args.plugins else load_all(broken=broken)
    except ConfigError as e:
        return fail(e)
    if args.list_algorithms:
        list_algorithms(configs)
        for error in broken:
            fail(error)
        return 2 if broken else 0
    if args.list_datasets:
        list_datasets()
        return 0
    try:
        tuned = lambda algorithm: tuned_group(args.results or results_dir(), args.dataset, algorithm, configs)
        selection = selection or select(configs, args.algorithm, tuned)
        cpus = runner.parse_cpus(args.cpus) if args.cpus else None
        memory = f"{runner.parse_memory(args.memory) >> 20}m" if args.memory else None
    except (ConfigError, runner.LimitError) as e:
        return fail(e)
    if args.local and memory:
        print("note: --memory is not enforced with --local (only a container's memory is limited); "
              "--cpus is (the worker binds itself to those CPUs)")

    from datasets import DATASETS, SourceMissing, data_dir, dataset_path, ensure_dataset, is_known
    if not is_known(args.dataset) and not os.path.exists(dataset_path(args.dataset)):
        return fail(f"unknown dataset '{args.dataset}' (known: {', '.join(DATASETS)}; NAME@P% for a P% base "
                    f"subset; or give an .hdf5 path)")
    try:
        path = ensure_dataset(args.dataset, log=lambda m: print(m, file=sys.stderr), raw=args.source)
        ds = Dataset(path)
    except SourceMissing as e:
        return fail(e.hint(f"python run.py --dataset {args.dataset}"))
    except DatasetError as e:
        return fail(e)
    scenarios = None
    if args.scenario != "all":
        if args.scenario not in ds.scenario_names:
            return fail(f"dataset {ds.name} has no scenario '{args.scenario}' (it has: {', '.join(ds.scenario_names)})")
        scenarios = [args.scenario]
    gt_k = min([ds.neighbors.shape[1]] + [s.neighbors.shape[1] for s in ds.scenarios.values()])
    if max(args.count) > gt_k:
        if ds.single_label_classes() is None or scenarios != ["unfiltered"]:
            return fail(f"--count {max(args.count)} exceeds the {gt_k} neighbours of the dataset's ground truth "
                        f"(beyond it only label metrics can be computed: single-class datasets, --scenario unfiltered)")
        print(f"note: k={max(args.count)} exceeds the ground truth's {gt_k}: label metrics only, no recall")

    sweep = runner.Sweep(ds, path, args.count, args.runs, args.batch, args.timeout, args.results or results_dir(),
                         args.force, args.queries if args.queries < ds.nq else 0, tag=tag, local=args.local,
                         clients=client_settings(args))
    lock = runner.WorkloadLock(sweep.root, sweep.workload)
    try:
        os.makedirs(sweep.root, exist_ok=True)
        lock.acquire()
        sweep.worker_dataset = worker_copy(ds, os.path.join(data_dir(), "workers"))
        p = runner.plan(sweep, selection, scenarios)
        reaper = runner.Reaper()
    except runner.Busy as e:
        return fail(e)
    except ConfigError as e:
        lock.release()
        return fail(e)
    except OSError as e:
        lock.release()
        return fail(f"cannot write {e.filename or sweep.root}: {e.strerror}")
    try:
        return sweep_jobs(args, sweep, p, scenarios, selection, reaper, cpus, memory)
    finally:
        reaper.close()
        lock.release()


def sweep_jobs(args, sweep, p, scenarios, selection, reaper, cpus, memory):
    from datasets import dataset_path
    from harness import runner
    from harness.export import collect
    ds = sweep.ds
    if args.local and not args.ray:
        engine = runner.LocalEngine(reaper, cpus)
    elif args.local:
        engine = None
    else:
        try:
            engine = runner.DockerEngine(reaper, cpus, memory)
            removed = engine.remove_stale()
            if removed:
                print(f"removed {removed} containers left running by a run.py that was killed")
            engine.check_images([job.definition for job in p.jobs])
        except runner.DockerError as e:
            return fail(e)
    recovered, discarded = runner.recover(sweep)
    if recovered or discarded:
        print(f"took in {recovered} finished passes left by an interrupted sweep; discarded {discarded} "
              f"other files (results/.runs)")
        p = runner.plan(sweep, selection, scenarios)
    passes = sum(len(j.todo) for j in p.jobs)
    print(f"{sweep.workload}: {ds.n} vectors, d={ds.d}, {len(sweep.query_ids)} queries"
          f"{' (a seeded sample)' if sweep.queries else ''}, scenarios: {', '.join(scenarios or ds.scenario_names)}")
    print(f"{len(p.jobs)} builds to run ({passes} query passes); {p.done} passes already done, "
          f"{p.failed_before} failed before (--force retries them), "
          f"{p.skipped_constraints} combinations skipped by constraints"
          + (f"; {p.host_retries} passes that failed because of the host are run again" if p.host_retries else ""))
    for name, why in p.unsupported:
        print(f"skipping {name}: {why}")
    failed, produced, failed_builds = [], 0, 0
    start = time.time()
    with tqdm(total=len(p.jobs), unit="build", dynamic_ncols=True, file=sys.stderr, disable=None) as bar:
        def report(done, job, out):
            nonlocal produced, failed_builds
            d = job.definition
            left = (time.time() - start) / done * (len(p.jobs) - done)
            produced += out.produced
            failed.extend((reason, cause) for _, _, reason, cause in out.failed)
            status = f"{out.produced} of {len(job.todo)} passes produced a result in {out.seconds:.1f} s"
            if out.reason:
                failed_builds += 1
                status = f"FAILED ({out.reason}); {status}; log: {shown(out.log)}"
            elif out.failed:
                status += f"; {len(out.failed)} failed"
            bar.update(1)
            tqdm.write(f"[{done}/{len(p.jobs)}] {d.algorithm:20s} {d.build_name:40s} {status}"
                       + (f"; about {left:.0f} s left" if done < len(p.jobs) else ""))

        def progress(done, job):
            """What the running worker does: the bar's text in a terminal, a line per --heartbeat in a log."""
            d, said = job.definition, [0.0]

            def show(phase, seconds):
                doing = phase if phase.startswith("building") else f"{d.algorithm}: {phase}"  # a pass names its run
                bar.set_description(doing[:100])
                if bar.disable and seconds - said[0] >= args.heartbeat:
                    said[0] = seconds
                    so_far = f"{seconds:.0f} s" if seconds < 600 else f"{seconds / 60:.0f} min"
                    tqdm.write(f"[{done}/{len(p.jobs)}] {doing}; {so_far} so far")
            return show

        if args.ray:
            outcome = ray_jobs(args, sweep, p.jobs, engine, memory, report)
            if outcome is not None:
                return outcome
        else:
            for done, job in enumerate(p.jobs, 1):
                bar.set_description(f"{job.definition.algorithm} {job.definition.build_name}")
                report(done, job, runner.run_job(job, sweep, engine, progress(done, job)))
    if p.jobs:
        print(f"ran {len(p.jobs)} builds in {time.time() - start:.0f} s: {produced} of {passes} passes produced "
              f"a result, {len(failed)} failed ({failed_builds} builds failed)")
    for n, reason, cause in failure_summary(failed):
        retry = " (the host's fault: retried on the next run)" if cause == runner.HOST_FAULT else ""
        print(f"  {n} {'pass' if n == 1 else 'passes'} failed: {reason}{retry}")
    if p.failed_before:
        print(f"{p.failed_before} passes failed in an earlier run with the same code and were not run again "
              f"(--force retries them):")
        for n, reason, _ in failure_summary(p.failed_before_reasons):
            print(f"  {n} {'pass' if n == 1 else 'passes'} failed before: {reason}")
    names = {cfg.name for cfg, _ in selection}
    lookup = lambda name: sweep.dataset_path if name == ds.name else dataset_path(name)
    problems = []
    rows = [r for r in collect(sweep.root, sweep.workload, datasets_lookup=lookup, problems=problems)
            if r["algorithm"] in names]
    defects = []
    for k in args.count:
        table, defects = summarize(rows, k)
        print(table)
        load = summarize_clients(rows, k) if sweep.clients else None
        if load:
            print(load)
    for path, why in problems:
        print(f"skipped {shown(path)}: {why}")
    for line in defects:
        print(line)
    return 1 if failed or failed_builds or defects else 0
