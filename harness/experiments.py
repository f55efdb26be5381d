"""python -m harness.experiments: the FANNS paper's experiments (Section 5) as commands.

    python -m harness.experiments scenarios --dataset fashion-products      # Figure 9
    python -m harness.experiments fixed-equality --dataset fashion-products # Figure 10
    python -m harness.experiments label-length --dataset fashion-products   # Figure 11
    python -m harness.experiments selectivity --dataset fashion-products    # Figure 12
    python -m harness.experiments top-k --dataset fashion-products          # Figure 13
    python -m harness.experiments scale --dataset fashion-products          # Figures 14-15
    python -m harness.experiments all --dataset fashion-products            # the lot, resumable
    python -m harness.experiments report --dataset fashion-products         # the reproduction report

Every plugin's default run groups (or --algorithm), run by run.py, so every run is resumable and
none that has a current result is run again; scenarios a plugin does not answer are skipped with
a line saying why. What each experiment measures is derived here from the result files (metrics
by harness.export) and written to results/experiments/DATASET/NAME.json, which the site shows as
a page:
- scenarios: every scenario of the dataset, QPS against recall (k=10);
- fixed-equality: the fixed_equality scenario (the scenarios run holds it; run alone if not);
- label-length: QPS at recall 0.9 for queries of 1, 2-3 and 4+ labels (the stored query groups),
  in every scenario over labels (containment, overlap, equality, and combinations such as "and");
- selectivity: QPS at recall 0.9 in the paper's percentile groups (the 5% of queries around the
  1st, 25th, 50th and 75th percentile of selectivity, stored with the dataset), and a finer curve
  over ten selectivity bins, from the per-query recall and times of every result, in every
  filtered scenario (ranges too);
- top-k: k = 1, 10, 25, 50, 100 on containment (or the first filtered scenario);
- scale: base subsets of 10%, 25%, 50% (DATASET@P%, ground truth computed anew) and the whole base
  on that scenario: build time, index size and QPS at recall 0.9.
Timing: --runs 1 (one timed pass per setting) unless given; README states the time of `all`.
"""
import argparse
import os
import sys
import time

import numpy as np

TARGET = 0.9
TOP_K = (1, 10, 25, 50, 100)
SCALE = (10, 25, 50, 100)
PERCENTILE_GROUPS = ("selectivity_p1", "selectivity_p25", "selectivity_p50", "selectivity_p75")
LENGTH_GROUPS = ("labels_short", "labels_medium", "labels_long")
BINS = 10
EXPERIMENTS = ("scenarios", "fixed-equality", "label-length", "selectivity", "top-k", "scale")


def best(rows, key=lambda r: (r.get("recall"), r.get("qps"))):
    """The best QPS at recall >= 0.9 among rows (None if none reaches it) and the best recall."""
    pairs = [key(r) for r in rows]
    ok = [q for rec, q in pairs if rec is not None and rec >= TARGET and q]
    return (max(ok) if ok else None), max((rec for rec, _ in pairs if rec is not None), default=None)


def per_query(path, ds, evaluator):
    """(selectivity, recall, seconds) of every query of one result file."""
    from harness.export import read_checked
    attrs, arrays = read_checked(path)
    ids = arrays.get("query_ids", np.arange(len(arrays["neighbors"])))
    _, recall = evaluator.evaluate(arrays["neighbors"], attrs["scenario"], attrs["k"], ids)
    return ds.scenarios[attrs["scenario"]].selectivity[ids], recall, arrays["times"] + arrays["filter_times"]


class Experiments:
    """Runs the experiments of one dataset and derives their tables."""

    def __init__(self, dataset, results, local, runs, algorithms, plugins=None, queries=0, log=print):
        from datasets import dataset_path, ensure_dataset
        from harness.dataset import Dataset
        self.dataset_path = dataset_path
        self.dataset, self.results, self.local, self.runs = dataset, results, local, runs
        self.algorithms, self.plugins, self.queries, self.log = algorithms, plugins, queries, log
        self.ds = Dataset(ensure_dataset(dataset, log=log))
        self.out = os.path.join(results, "experiments", dataset)

    def workload(self, name=None):
        from harness.runner import workload_name
        return workload_name(name or self.ds.name, self.queries)

    def sweep(self, dataset=None, scenario="all", k=10):
        """run.py's sweep on one dataset, scenario and k: runs only what has no current result."""
        from harness.sweep import parse_args, run
        argv = ["--dataset", dataset or self.dataset, "--scenario", scenario, "-k", str(k), "--runs", str(self.runs),
                "--results", self.results, "--queries", str(self.queries)]
        for a in self.algorithms:
            argv += ["--algorithm", a]
        argv += (["--local"] if self.local else []) + (["--plugins", self.plugins] if self.plugins else [])
        self.log(f"$ python run.py {' '.join(argv)}")
        code = run(parse_args(argv))
        if code == 2:
            raise SystemExit(code)
        return code

    def rows(self, workload=None, scenario=None, k=10):
        from harness.export import collect
        return [r for r in collect(self.results, workload or self.workload()) if r.get("recall") is not None
                and (scenario is None or r["scenario"] == scenario) and r["k"] == k]

    def save(self, name, record):
        from harness.results import write_json
        record = {"experiment": name, "dataset": self.dataset, "workload": self.workload(), "finished": time.time(),
                  **record}
        write_json(os.path.join(self.out, f"{name}.json"), record)
        self.log(f"wrote {os.path.join(self.out, name + '.json')}")
        return record

    def omit(self, name, why):
        """An experiment the dataset cannot hold: its record says why (the page and the report show it)."""
        self.save(name, {"omitted": f"{self.dataset} {why}"})
        return 0

    def grouped_scenarios(self, groups):
        """Every scenario whose stored query groups include one of `groups` (label lengths: the
        label predicates and their combinations; selectivity percentiles: every filtered one)."""
        return [s for s in self.ds.scenario_names if s != "unfiltered"
                and any(g in self.ds.scenarios[s].groups for g in groups)]

    def main_scenario(self):
        """The scenario of top-k and scale: containment (the paper's first) or the first filtered one."""
        filtered = [s for s in self.ds.scenario_names if s != "unfiltered"]
        return "containment" if "containment" in filtered else (filtered or [None])[0]

    # --- The experiments -----------------------------------------------------------------------

    def scenarios(self):
        code = self.sweep()
        rows = self.rows()
        table = {s: {a: dict(zip(("qps", "recall"), best([r for r in rows if r["algorithm"] == a and r["scenario"] == s])))
                     for a in sorted({r["algorithm"] for r in rows if r["scenario"] == s})}
                 for s in self.ds.scenario_names}
        self.save("scenarios", {"table": table, "points": points(rows), "code": code})
        return code

    def fixed_equality(self):
        if "fixed_equality" not in self.ds.scenarios:
            return self.omit("fixed-equality", "has no fixed_equality scenario")
        code = self.sweep(scenario="fixed_equality")
        rows = self.rows(scenario="fixed_equality")
        table = {a: dict(zip(("qps", "recall"), best([r for r in rows if r["algorithm"] == a])))
                 for a in sorted({r["algorithm"] for r in rows})}
        self.save("fixed-equality", {"table": table, "points": points(rows), "code": code})
        return code

    def groups(self, name, groups):
        """QPS at recall 0.9 per stored query group, per label scenario and algorithm, from the
        per-query recall and times of each result (the percentile groups are not in the export)."""
        from harness.metrics import Evaluator
        from harness.results import list_results
        code = self.sweep()
        evaluator = Evaluator(self.ds)
        table, curve = {}, {}
        for scenario in self.grouped_scenarios(groups):
            sc = self.ds.scenarios[scenario]
            found = {}  # (algorithm, group) -> [(recall, qps)]
            bins = {}   # (algorithm, bin) -> [(recall, qps)]
            edges = np.quantile(sc.selectivity, np.linspace(0, 1, BINS + 1))
            for path in list_results(self.results, self.workload()):
                rel = os.path.relpath(path, self.results).split(os.sep)
                if rel[1] != scenario or rel[2] != "k=10":
                    continue
                selectivity, recall, seconds = per_query(path, self.ds, evaluator)
                ids_groups = {g: sc.groups[g][query_ids(path, len(recall))] for g in groups if g in sc.groups}
                algo = rel[3]
                for g, mask in ids_groups.items():
                    if mask.any():
                        found.setdefault((algo, g), []).append((float(recall[mask].mean()),
                                                                float(mask.sum() / seconds[mask].sum())))
                if name == "selectivity":
                    which = np.clip(np.searchsorted(edges, selectivity, side="right") - 1, 0, BINS - 1)
                    for b in range(BINS):
                        mask = which == b
                        if mask.any():
                            bins.setdefault((algo, b), []).append((float(recall[mask].mean()),
                                                                   float(mask.sum() / seconds[mask].sum())))
            table[scenario] = {a: {g: cell(found[(a, g)]) for g in groups if (a, g) in found}
                               for a in sorted({a for a, _ in found})}
            if name == "selectivity":
                centres = [float(np.sqrt(max(edges[b], 1e-9) * max(edges[b + 1], 1e-9))) for b in range(BINS)]
                curve[scenario] = {"selectivity": centres,
                                   "qps": {a: [best(bins.get((a, b), []), key=lambda p: p)[0] for b in range(BINS)]
                                           for a in sorted({a for a, _ in bins})}}
        self.save(name, {"groups": list(groups), "table": table, "curve": curve, "code": code})
        return code

    def label_length(self):
        return self.groups("label-length", LENGTH_GROUPS)

    def selectivity(self):
        return self.groups("selectivity", PERCENTILE_GROUPS)

    def top_k(self):
        scenario = self.main_scenario()
        if scenario is None:
            return self.omit("top-k", "has no filtered scenario")
        code = self.sweep(scenario=scenario, k=",".join(map(str, TOP_K)))  # one build serves every k
        table = {}
        for k in TOP_K:
            rows = self.rows(scenario=scenario, k=k)
            for a in sorted({r["algorithm"] for r in rows}):
                table.setdefault(a, {})[str(k)] = dict(zip(("qps", "recall"), best([r for r in rows if r["algorithm"] == a])))
        self.save("top-k", {"scenario": scenario, "k": list(TOP_K), "table": table, "code": code})
        return code

    def scale(self):
        scenario = self.main_scenario()
        if scenario is None:
            return self.omit("scale", "has no filtered scenario")
        from harness.dataset import Dataset
        codes, table = [], {}
        for percent in SCALE:
            name = self.dataset if percent == 100 else f"{self.dataset}@{percent}%"
            codes.append(self.sweep(dataset=name, scenario=scenario))
            ds = Dataset(self.dataset_path(name))
            rows = self.rows(workload=self.workload(ds.name), scenario=scenario)
            for a in sorted({r["algorithm"] for r in rows}):
                rs = [r for r in rows if r["algorithm"] == a]
                qps, recall = best(rs)
                table.setdefault(a, {})[str(percent)] = {
                    "n": ds.n, "qps": qps, "recall": recall,
                    "build_time": min(r["build_time"] for r in rs), "index_size": min(r["index_size"] for r in rs)}
        self.save("scale", {"scenario": scenario, "percent": list(SCALE), "table": table, "code": max(codes)})
        return max(codes)


def cell(pairs):
    """One algorithm in one query group: QPS at recall 0.9 (best configuration), the best recall,
    and the mean recall over its configurations."""
    qps, recall = best(pairs, key=lambda p: p)
    return {"qps": qps, "recall": recall, "mean_recall": float(np.mean([r for r, _ in pairs]))}


def query_ids(path, n):
    import h5py
    with h5py.File(path, "r") as f:
        return f["query_ids"][()] if "query_ids" in f else np.arange(n)


def points(rows):
    """Every configuration's (recall, QPS), per scenario and algorithm: the figures' data."""
    out = {}
    for r in rows:
        out.setdefault(r["scenario"], {}).setdefault(r["algorithm"], []).append(
            [r["recall"], r["qps"], f"{r['build_args']}; {r['query_args']}"])
    return out


def main(argv=None):
    from harness.results import results_dir
    p = argparse.ArgumentParser(prog="python -m harness.experiments", description=__doc__.splitlines()[0])
    p.add_argument("name", choices=EXPERIMENTS + ("all", "report"))
    p.add_argument("--dataset", required=True)
    p.add_argument("--algorithm", action="append", default=[], metavar="NAME",
                   help="plugins, algorithms or groups (default: every default group), as run.py takes them")
    p.add_argument("--runs", type=int, default=1, help="timed passes per setting (default 1)")
    p.add_argument("--queries", type=int, default=0, help="a seeded sample of N queries (default: all)")
    p.add_argument("--local", action="store_true", help="run workers as local subprocesses, not containers")
    p.add_argument("--results", default=None)
    p.add_argument("--plugins", default=None, metavar="DIR")
    args = p.parse_args(argv)
    results = args.results or results_dir()
    if args.name == "report":
        from harness.reproduction import report
        return report(results, args.dataset)
    start = time.time()
    ex = Experiments(args.dataset, results, args.local, args.runs, args.algorithm, args.plugins, args.queries)
    names = EXPERIMENTS if args.name == "all" else (args.name,)
    codes = []
    for name in names:
        t = time.time()
        print(f"\n== experiment {name} on {args.dataset} ==")
        codes.append(getattr(ex, name.replace("-", "_"))())
        print(f"== {name} done in {time.time() - t:.0f} s ==")
    if args.name == "all":
        from harness.reproduction import report
        report(results, args.dataset)
    print(f"\n{', '.join(names)} on {args.dataset} in {time.time() - start:.0f} s")
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
