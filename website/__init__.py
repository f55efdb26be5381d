"""The leaderboard site: every result under results/ rendered into static pages with jinja2.

    python -m website [--results DIR] [--out DIR]        (default: results/ -> website/build/)

Pages: index.html (per dataset, which method for which filter, then the leaderboards per dataset ×
scenario), quick.html (workloads of a query sample), one per dataset (its card, plots and tables),
one per algorithm, one per tuning report (harness.tune), one per experiment and the reproduction
report (harness.experiments), method.html (how every number is measured) and raw.html (every table
as CSV and JSON, and the results archive). Plots are SVG rendered here; no network is needed.
"""
import csv
import json
import os
import re
import shutil
import tarfile
from collections import defaultdict

import jinja2
import numpy as np

from harness.attributes import EPOCH_DAYS
from harness.export import at_defaults
from harness.metrics import EXACT_RECALL_FLOOR
from harness.results import is_regular_file
from website import experiments, plots

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = (0.8, 0.9, 0.95)  # recall@k targets of the leaderboards; 0.9 is big-ann-benchmarks' rule
HEADLINE = 0.9


def slug(text):
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-") or "x"


def args_text(args):
    return ", ".join(f"{k}={v}" for k, v in sorted((args or {}).items())) or "defaults"


def integrity(rows):
    """Problems the harness found in what a plugin returned, summed over its rows."""
    keys = ("violations", "duplicates", "out_of_range", "too_many_ids")
    found = {k: int(sum(r.get(k) or 0 for r in rows)) for k in keys}
    notes = [f"{v} {k.replace('_', ' ')}" for k, v in found.items() if v]
    if any(r.get("metric_mismatch") for r in rows):
        notes.append("metric differs from the dataset's")
    if any(r.get("error") for r in rows):
        notes.append("some results could not be scored")
    return notes


def paths(row):
    """The share of a result's queries that a plugin answered by exact scan instead of its index
    (from its stats: graph_queries / exact_queries), or None when it does not say or never did."""
    stats = row.get("stats") or {}
    graph, exact = stats.get("graph_queries") or 0, stats.get("exact_queries") or 0
    return exact / (graph + exact) if exact and graph + exact else None


def paths_text(row):
    share = paths(row)
    return "" if share is None else f"; {share:.0%} of queries answered by exact scan, not the index"


def leaderboard(rows, qps_key="qps", recall_key="recall"):
    """Per algorithm (and mode, where Docker and local runs share a board): best QPS at each
    recall target, with the configuration behind the headline and how it answered."""
    by_algo = defaultdict(list)
    modes = {r.get("mode") for r in rows}
    for r in rows:
        if r.get(recall_key) is not None and r.get(qps_key) is not None:
            by_algo[(r["algorithm"], r.get("mode") if len(modes) > 1 else None)].append(r)
    board = []
    for (algo, mode), rs in by_algo.items():
        entry = {"algorithm": algo, "label": f"{algo} ({mode})" if mode else algo,
                 "best_recall": max(r[recall_key] for r in rs), "notes": integrity(rs),
                 "exact": any(r.get("exact") for r in rs)}
        if entry["exact"] and entry["best_recall"] < EXACT_RECALL_FLOOR:
            entry["notes"].insert(0, f"HARNESS DEFECT: an exact method below recall {EXACT_RECALL_FLOOR}")
        for t in TARGETS:
            ok = [r for r in rs if r[recall_key] >= t]
            entry[f"qps@{t}"] = max((r[qps_key] for r in ok), default=None)
            if t == HEADLINE and ok:
                best = max(ok, key=lambda r: r[qps_key])
                entry.update(recall=best[recall_key], build_time=best.get("build_time"),
                             index_size=best.get("index_size"), params=f"{args_text(best.get('build_args'))}; "
                                                                        f"{args_text(best.get('query_args'))}")
                if paths(best) is not None:
                    entry["notes"].append(f"{paths(best):.0%} of queries answered by exact scan, not the index")
        board.append(entry)
    board.sort(key=lambda e: (e[f"qps@{HEADLINE}"] is None, -(e[f"qps@{HEADLINE}"] or 0), -e["best_recall"]))
    return board


class Site:
    def __init__(self, rows, failures, out, datasets_lookup, configs):
        self.rows, self.failures, self.out = rows, failures, out
        self.lookup, self.configs = datasets_lookup, configs
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(HERE, "templates")),
                                      autoescape=True, undefined=jinja2.StrictUndefined)
        self.env.filters.update(num=_num, size=_size, slug=slug, args=args_text)
        self.tables = []  # (id, title, columns, rows) for raw.html
        self.unscored = []  # rows whose metrics could not be computed (e.g. the dataset changed)
        self.skipped = []  # (path, reason) of files that could not be read: listed, never fatal
        self.cards = {}
        self.tunings = []  # harness.tune's reports
        self.experiments = {}  # harness.experiments' records: {dataset: {name: record}}
        self.defects = []  # rows where an exact plugin scored below 0.999: the harness is wrong
        # One colour and marker per algorithm on every chart of the site.
        self.styles = plots.Styles(list(configs) + [r["algorithm"] for r in rows])

    def table(self, table_id, title, columns, rows):
        """Registers a table for download as CSV and JSON; returns its link stem."""
        os.makedirs(os.path.join(self.out, "data"), exist_ok=True)
        stem = f"data/{slug(table_id)}"
        with open(os.path.join(self.out, stem + ".csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(columns)
            w.writerows([[_plain(r.get(c)) for c in columns] for r in rows])
        with open(os.path.join(self.out, stem + ".json"), "w") as f:
            json.dump([{c: r.get(c) for c in columns} for r in rows], f, indent=1, default=_plain)
        self.tables.append((stem, title))
        return stem

    def render(self, template, path, **context):
        html = self.env.get_template(template).render(root="../" * path.count("/"), **context)
        full = os.path.join(self.out, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(html)

    def card(self, name):
        """A dataset's card, read once."""
        if name not in self.cards:
            self.cards[name] = dataset_card(self.lookup(name))
        return self.cards[name]

    def predicate_words(self, name, scenario):
        """(the scenario's predicate in general, one query's in words) from the dataset's card."""
        if scenario == "unfiltered":
            return "no filter: the k nearest of the whole base", ""
        for s in self.card(name).get("scenarios", []):
            if s["name"] == scenario:
                return f"{s['kind']}: {s['about']}", s["example"]
        return "", ""

    def build(self, results_root, archive=None):
        workloads = sorted({r["workload"] for r in self.rows})
        boards = {w: self.boards(w) for w in workloads}
        full = [w for w in workloads if not is_quick(w) and not is_tuning(w)]
        quick = [w for w in workloads if is_quick(w)]
        # Reports first: one that cannot be rendered is listed on the home page, never fatal.
        self.tunings = [t for t in self.tunings
                        if self.guarded(os.path.join("tuning", t["dataset"], t["algorithm"] + ".json"),
                                        self.tuning_page, t)]
        self.experiments = {d: {n: r for n, r in sorted(records.items())
                                if self.guarded(os.path.join("experiments", d, n + ".json"), self.experiment_page,
                                                d, n, r)}
                            for d, records in sorted(self.experiments.items())}
        self.render("index.html", "index.html", boards=[b for w in full for b in boards[w]], targets=TARGETS,
                    headline=HEADLINE, failures=failure_groups(self.failures), workloads=full, quick=quick,
                    overview=[self.overview(w) for w in full],
                    databases=[d for d in (self.databases(w) for w in full) if d], unscored=self.unscored, skipped=self.skipped,
                    defects=self.defects, tunings=self.tunings, experiments=self.experiments)
        self.render("quick.html", "quick.html", boards=[b for w in quick for b in boards[w]], targets=TARGETS,
                    headline=HEADLINE, workloads=quick)
        for w in workloads:
            self.dataset_page(w, [r for r in self.rows if r["workload"] == w])
        for algo in sorted({r["algorithm"] for r in self.rows}):
            self.algorithm_page(algo, [r for r in self.rows if r["algorithm"] == algo])
        self.render("method.html", "method.html")
        archive = self.archive(results_root, force=archive)
        self.render("raw.html", "raw.html", tables=self.tables, archive=archive)

    def guarded(self, path, page, *args):
        """Renders one report's page; a record of another version, or a damaged one, is listed
        with its reason (False) instead of taking the site down."""
        try:
            page(*args)
            return True
        except (KeyError, TypeError, ValueError, AttributeError, jinja2.UndefinedError) as e:
            self.skipped.append((path, f"report not understood: {type(e).__name__}: {str(e)[:100]}"))
            return False

    def overview(self, workload, k=10):
        """The home page's charts of a dataset: QPS at recall 0.9 per scenario (bars), and per
        selectivity quartile of its first label scenario and per level of its ranges (lines)."""
        rows = [r for r in self.rows if r["workload"] == workload and r["k"] == k]
        scenarios = sorted({r["scenario"] for r in rows}, key=lambda s: _scenario_order((s, k)))
        algos = sorted({r["algorithm"] for r in rows})
        best = lambda rs: max((r["qps"] for r in rs if (r.get("recall") or 0) >= HEADLINE), default=None)
        series = [{"name": a, "values": {s: best([r for r in rows if r["algorithm"] == a and r["scenario"] == s])
                                         for s in scenarios}} for a in algos]
        cid = slug(f"home-{workload}")
        charts = [plots.bars(f"{cid}-scenarios", f"{workload}: best QPS at recall@{k} >= {HEADLINE} per scenario "
                                                 f"(single thread)", scenarios, series, "queries per second (log)",
                             styles=self.styles)]
        first = next((s for s in scenarios if s in ("containment", "overlap", "equality")), None)
        if first:
            charts.append(quartile_chart(f"{cid}-quartiles", workload, first, k,
                                         [r for r in rows if r["scenario"] == first], self.styles))
        for s in scenarios:
            chart = selectivity_levels(f"{cid}-levels-{slug(s)}", f"{workload} {s}", k,
                                       [r for r in rows if r["scenario"] == s], self.styles)
            if chart:
                charts.append(chart)
        table = [{"algorithm": a, **{s: v for s, v in ser["values"].items()}} for a, ser in zip(algos, series)]
        return {"workload": workload, "charts": charts, "scenarios": scenarios, "table": table,
                "csv": self.table(f"overview-{workload}-k{k}", f"{workload}: QPS at recall {HEADLINE} per scenario",
                                  ["algorithm"] + scenarios, table)}

    def databases(self, workload, k=10):
        """The home page's "which database for my filter": per scenario (its predicate kind), each
        database's best QPS at recall 0.9, alone and under its highest concurrent-client level,
        beside the best library's, and a flag where its defaults return too little."""
        rows = [r for r in self.rows if r["workload"] == workload and r["k"] == k]
        is_db = lambda a: a in self.configs and self.configs[a].database
        engines = sorted({r["algorithm"] for r in rows if is_db(r["algorithm"])})
        if not engines:
            return None
        scenarios = sorted({r["scenario"] for r in rows}, key=lambda s: _scenario_order((s, k)))
        best = lambda rs: max((r["qps"] for r in rs if (r.get("recall") or 0) >= HEADLINE), default=None)
        table = []
        for engine in engines:
            cells = {}
            for s in scenarios:
                rs = [r for r in rows if r["algorithm"] == engine and r["scenario"] == s]
                cells[s] = {"qps": best(rs), "load": best_under_load(rs), "measured": bool(rs),
                            "flag": default_flag(rs, self.configs[engine].defaults) if rs else None}
            table.append({"algorithm": engine, "cells": cells})
        libraries = {}
        for s in scenarios:
            found = [(best([r for r in rows if r["algorithm"] == a and r["scenario"] == s]), a)
                     for a in {r["algorithm"] for r in rows if not is_db(r["algorithm"])}]
            found = [f for f in found if f[0] is not None]
            libraries[s] = max(found) if found else None
        kinds = {s: self.predicate_words(rows[0]["dataset"], s)[0].split(":")[0] for s in scenarios}
        flat = [{"algorithm": e["algorithm"], **{f"{s} qps": e["cells"][s]["qps"] for s in scenarios},
                 **{f"{s} flag": e["cells"][s]["flag"] for s in scenarios}} for e in table]
        return {"workload": workload, "scenarios": scenarios, "kinds": kinds, "table": table, "libraries": libraries,
                "csv": self.table(f"databases-{workload}-k{k}", f"{workload}: databases at recall {HEADLINE}",
                                  ["algorithm"] + [f"{s} {c}" for s in scenarios for c in ("qps", "flag")], flat)}

    def boards(self, w):
        """The leaderboards of one workload, one per scenario and k."""
        boards = []
        w_rows = [r for r in self.rows if r["workload"] == w]
        for (scenario, k) in sorted({(r["scenario"], r["k"]) for r in w_rows}, key=_scenario_order):
            rs = [r for r in w_rows if r["scenario"] == scenario and r["k"] == k]
            about, example = self.predicate_words(rs[0]["dataset"], scenario)
            single, batch = leaderboard(rs), leaderboard(rs, "batch_qps", "batch_recall")
            tid = f"leaderboard-{w}-{scenario}-k{k}"
            cols = ["algorithm"] + [f"qps@{t}" for t in TARGETS] + ["recall", "build_time", "index_size",
                                                                   "params", "best_recall"]
            boards.append({"workload": w, "scenario": scenario, "k": k, "single": single, "batch": batch,
                           "about": about, "example": example,
                           "csv": self.table(tid, f"Leaderboard {w} {scenario} k={k}", cols, single),
                           "batch_csv": self.table(tid + "-batch", f"Batch leaderboard {w} {scenario} k={k}",
                                                   cols, batch) if batch else None})
        return boards

    def dataset_page(self, workload, rows):
        name = rows[0]["dataset"]
        card = self.card(name)
        sections, fashion = [], None
        for scenario, k in sorted({(r["scenario"], r["k"]) for r in rows}, key=_scenario_order):
            rs = [r for r in rows if r["scenario"] == scenario and r["k"] == k]
            cid = slug(f"{scenario}-k{k}")
            label = lambda r: f"{args_text(r['build_args'])}; {args_text(r['query_args'])}{paths_text(r)}"
            series = lambda y: [
                {"name": a, "points": [{"x": r["recall"], "y": y(r), "label": label(r)} for r in rs
                                       if r["algorithm"] == a and r.get("recall") is not None]}
                for a in sorted({r["algorithm"] for r in rs})]
            subject = f"{workload}, {scenario}, all {rs[0].get('queries')} queries"
            scatter = lambda chart_id, title, y, y_label, lower=False: plots.scatter(
                chart_id, title, series(y), f"recall@{k}", y_label, x_range="recall", lower_is_better=lower,
                styles=self.styles)
            charts = [scatter(f"qps-{cid}", f"QPS against recall@{k}: {subject}", lambda r: r["qps"],
                              "queries per second (log)"),
                      scatter(f"build-{cid}", f"Build time against recall@{k}: {subject}",
                              lambda r: r.get("build_time"), "build time, s (log)", True),
                      scatter(f"size-{cid}", f"Index size against recall@{k}: {subject}",
                              lambda r: r.get("index_size"), "index size, bytes (log)", True)]
            level_chart = selectivity_levels(f"levels-{cid}", f"{workload}, {scenario}", k, rs, self.styles)
            if level_chart:
                charts.insert(1, level_chart)
            load_chart = client_chart(f"clients-{cid}", f"{workload}, {scenario}", k, rs, self.styles)
            if load_chart:
                charts.insert(1, load_chart)
            group_names = sorted({g for r in rs for g in (r.get("groups") or {})})
            for g in group_names:
                gs = [{"name": s["name"], "points": [{"x": r["groups"][g]["recall"], "y": r["groups"][g]["qps"],
                                                      "label": label(r)}
                                                     for r in rs if r["algorithm"] == s["name"] and g in (r.get("groups") or {})]}
                      for s in series(lambda r: r["qps"])]
                charts.append(plots.scatter(f"qps-{cid}-{slug(g)}", f"QPS against recall@{k}: {workload}, {scenario}, "
                                                                    f"the queries of {g}", gs,
                                            f"recall@{k} ({g})", "queries per second (log)", x_range="recall",
                                            styles=self.styles))
            cols = ["algorithm", "build_args", "query_args", "recall", "qps", "qps_search", "batch_recall", "batch_qps",
                    "latency_p50", "latency_p99", "build_time", "index_size", "distance_computations", "recall_p10",
                    "recall_below_half", "fewer_than_k", "violations", "duplicates", "out_of_range"]
            table_rows = sorted(rs, key=lambda r: (r["algorithm"], -(r.get("recall") or 0)))
            about, example = self.predicate_words(name, scenario)
            sections.append({"scenario": scenario, "k": k, "charts": charts, "columns": cols, "rows": table_rows,
                             "about": about, "example": example,
                             "csv": self.table(f"results-{workload}-{scenario}-k{k}", f"{workload} {scenario} k={k}",
                                               cols, table_rows)})
        labelled = [r for r in rows if r.get("label_precision") is not None]
        if labelled:
            cols = ["algorithm", "k", "build_args", "query_args", "build_peak_memory", "index_size", "build_time",
                    "query_time_ms", "label_precision", "knn_precision", "knn_recall", "knn_f1", "metric"]
            fashion_rows = [{**r, "query_time_ms": 1000 / r["qps"]} for r in
                            sorted(labelled, key=lambda r: (r["k"], r["algorithm"]))]
            fashion = {"columns": cols, "rows": fashion_rows,
                       "csv": self.table(f"fashion-{workload}", f"{workload}: label metrics", cols, fashion_rows)}
        self.render("dataset.html", f"datasets/{slug(workload)}.html", workload=workload, card=card,
                    sections=sections, fashion=fashion)

    def tuning_page(self, report):
        """harness.tune's report: every configuration's QPS at the recall targets, its rank in its
        subspace, the picks, and each configuration's QPS-recall curve (averaged over scenarios)."""
        name = f"{report['dataset']}-{report['algorithm']}"
        configurations = sorted(report["configurations"], key=lambda c: (c["subspace"], c["mean_rank"]))
        styles = plots.Styles(c["name"] for c in configurations)
        series = [{"name": c["name"] + (" (picked)" if c["picked"] else ""),
                   "points": [{"x": r, "y": q, "label": f"recall {r:.3f}, QPS {q:,.0f}"} for r, q in c["points"]]}
                  for c in configurations]
        chart = plots.scatter(f"tuning-{slug(name)}", f"Tuning {report['algorithm']} on {report['sample']}: "
                                                      f"QPS against recall, averaged over scenarios", series,
                              "mean recall@10 over scenarios", "harmonic mean QPS over scenarios (log)",
                              x_range="recall", styles=styles)
        cols = ["name", "subspace", *[f"QPS@{t}" for t in report["targets"]], "rank at each target", "mean_rank",
                "picked", "dominated by"]
        rows = [{"name": c["name"], "subspace": f"{c['subspace']} ({report['split']} = "
                                                f"{', '.join(map(str, c['subspace_values']))})",
                 **{f"QPS@{t}": c["qps_at"][str(t)] for t in report["targets"]},
                 "rank at each target": " / ".join(str(c.get("ranks", {}).get(str(t), "?")) for t in report["targets"]),
                 "mean_rank": c["mean_rank"],
                 "picked": "picked" if c["picked"] else "", "dominated by": c.get("dominated_by") or ""}
                for c in configurations]
        self.render("tuning.html", f"tuning/{slug(name)}.html", report=report, chart=chart, columns=cols, rows=rows,
                    csv=self.table(f"tuning-{name}", f"Tuning of {report['algorithm']} on {report['dataset']}", cols,
                                   rows))

    def experiment_page(self, dataset, name, record):
        """One experiment of harness.experiments (its charts and tables), or the reproduction report."""
        path = f"experiments/{slug(dataset)}/{slug(name)}.html"
        if name == "report":
            self.render("report.html", path, report=record, others=sorted(self.experiments[dataset]))
            return
        self.render("experiment.html", path, dataset=dataset, name=name, record=record,
                    figure=experiments.FIGURES.get(name, ""), about=experiments.ABOUT.get(name, ""),
                    sections=experiments.sections(name, record, self.styles, self.table))

    def algorithm_page(self, algo, rows):
        cfg = self.configs.get(algo)
        versions = sorted({f"{k} {v}" for r in rows for k, v in (r.get("versions") or {}).items()})
        cols = ["workload", "scenario", "k", "build_args", "query_args", "recall", "qps", "build_time", "index_size",
                "mode"]
        rows = sorted(rows, key=lambda r: (r["workload"], r["scenario"], -(r.get("recall") or 0)))
        self.render("algorithm.html", f"algorithms/{slug(algo)}.html", algo=algo, cfg=cfg, versions=versions,
                    columns=cols, rows=rows, notes=integrity(rows),
                    csv=self.table(f"algorithm-{algo}", f"All results of {algo}", cols, rows))

    def archive(self, results_root, force=None):
        """results.tar.gz of every result file, failure record and log, made again only when they
        changed since the last one (its manifest: paths, sizes and times) or when asked (force
        True; False: never). Gzipping is most of a render's time."""
        path = os.path.join(self.out, "results.tar.gz")
        files = []
        for dirpath, dirnames, names in os.walk(results_root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(names):
                full = os.path.join(dirpath, name)
                # Plain files only: a symlink in results/ could point at anything on this machine.
                if name.endswith((".hdf5", ".json", ".log")) and not name.startswith(".") and is_regular_file(full):
                    stat = os.stat(full)
                    files.append((full, os.path.relpath(full, results_root), stat.st_size, stat.st_mtime_ns))
        manifest = json.dumps([f[1:] for f in files])
        manifest_path = path + ".manifest"
        current = os.path.exists(path) and os.path.exists(manifest_path) and open(manifest_path).read() == manifest
        if force is False and os.path.exists(path) or (force is None and current):
            return {"path": "results.tar.gz", "size": os.path.getsize(path), "files": len(files), "made": False}
        if force is False:
            return None
        with tarfile.open(path + ".tmp", "w:gz") as tar:
            for full, rel, _, _ in files:
                try:
                    tar.add(full, arcname=os.path.join("results", rel))
                except OSError as e:
                    self.skipped.append((full, f"left out of the archive: {e.strerror}"))
        os.replace(path + ".tmp", path)
        with open(manifest_path, "w") as f:
            f.write(manifest)
        return {"path": "results.tar.gz", "size": os.path.getsize(path), "files": len(files), "made": True}


LEVEL_GROUP = re.compile(r"^range (?P<percent>[0-9.e+-]+)%$")  # the groups of harness/predicates/range.py
QUARTILE_GROUP = re.compile(r"^selectivity Q(?P<q>[1-4])$")


def is_tuning(workload):
    """A tuning workload (harness.tune: SAMPLE@tune-local or @tune-docker): shown on its tuning page,
    never on a leaderboard."""
    return re.search(r"@tune-[a-z]+$", workload) is not None


def is_quick(workload):
    """A quick workload (run.py --queries N): kept off the home page."""
    return re.search(r"@q[0-9]+$", workload) is not None


def group_best(rows, pattern, x_of):
    """Per algorithm, the best QPS at recall >= 0.9 in each query group matching `pattern`, judged on
    that group's queries alone: series of points (x_of(match, group stats), QPS)."""
    series = []
    for algo in sorted({r["algorithm"] for r in rows}):
        best = {}
        for r in rows:
            if r["algorithm"] != algo:
                continue
            for g, m in (r.get("groups") or {}).items():
                match = pattern.match(g)
                if match and m["recall"] >= HEADLINE and m["qps"] > best.get(g, (0,))[0]:
                    best[g] = (m["qps"], x_of(match, m), f"{g}: {args_text(r['build_args'])}; "
                                                          f"{args_text(r['query_args'])}{paths_text(r)}")
        series.append({"name": algo, "points": [{"x": x, "y": qps, "label": label} for qps, x, label in best.values()]})
    return series


def selectivity_levels(chart_id, subject, k, rows, styles):
    """QPS at recall@k >= 0.9 against the selectivity level of range queries, one line per
    algorithm: the best configuration per level, judged on that level's queries alone."""
    series = group_best(rows, LEVEL_GROUP, lambda match, m: float(match["percent"]) / 100)
    if not any(s["points"] for s in series):
        return None
    return plots.lines(chart_id, f"QPS at recall@{k} >= {HEADLINE} by selectivity level, {subject}", series,
                       "selectivity level (share of the base a range passes, log)", "queries per second (log)",
                       styles=styles)


def client_chart(chart_id, subject, k, rows, styles):
    """QPS at recall@k >= 0.9 against concurrent client processes (run.py --clients), one line per
    algorithm: at each level the best configuration whose answers under that load reach it."""
    series = []
    for algo in sorted({r["algorithm"] for r in rows}):
        best = {}
        for r in rows:
            for level in (r.get("clients") or []) if r["algorithm"] == algo else []:
                if (level.get("recall") or 0) >= HEADLINE and level["qps"] > best.get(level["clients"], (0, ""))[0]:
                    best[level["clients"]] = (level["qps"], f"{level['clients']} clients, recall {level['recall']:.3f}: "
                                                            f"{args_text(r['build_args'])}; {args_text(r['query_args'])}")
        series.append({"name": algo, "points": [{"x": c, "y": qps, "label": label} for c, (qps, label) in best.items()]})
    if not any(s["points"] for s in series):
        return None
    return plots.lines(chart_id, f"QPS at recall@{k} >= {HEADLINE} against concurrent clients, {subject}", series,
                       "concurrent client processes (log)", "queries per second, all clients (log)", styles=styles)


def best_under_load(rows):
    """(QPS, clients) of the highest client level at which any of rows reaches recall 0.9, else None."""
    found = [(level["clients"], level["qps"]) for r in rows for level in r.get("clients") or []
             if (level.get("recall") or 0) >= HEADLINE]
    if not found:
        return None
    top = max(c for c, _ in found)
    return max(q for c, q in found if c == top), top


def default_flag(rows, defaults):
    """A line where an engine's default settings return fewer than k results or recall below 0.5,
    with the measured setting nearest the defaults that fixes it (recall >= 0.9, none short)."""
    measured = [r for r in at_defaults(rows, defaults) if r.get("recall") is not None]
    if not measured:
        return None
    d = max(measured, key=lambda r: r["recall"])
    short = d.get("fewer_than_k") or 0
    if not short and d["recall"] >= 0.5:
        return None
    problem = f"defaults: recall {d['recall']:.2f}" + (f", {short} of {d.get('queries')} queries get fewer than k"
                                                        if short else "")
    fixes = [r for r in rows if (r.get("recall") or 0) >= HEADLINE and not r.get("fewer_than_k")]
    if not fixes:
        return f"{problem}; no measured setting fixes it"

    def changes(r):
        args = {**(r.get("build_args") or {}), **(r.get("query_args") or {})}
        return {key: value for key, value in args.items() if defaults.get(key) != value}

    def rebuilds(r):  # a query setting fixes it without a new index: preferred at the same number of changes
        return sum(defaults.get(key) != value for key, value in (r.get("build_args") or {}).items())
    fix = min(fixes, key=lambda r: (len(changes(r)), rebuilds(r), -r["qps"]))
    return f"{problem}; fixed by {', '.join(f'{k} = {v}' for k, v in sorted(changes(fix).items()))}"


def quartile_chart(chart_id, workload, scenario, k, rows, styles):
    """QPS at recall@k >= 0.9 per selectivity quartile (x: the quartile's median selectivity)."""
    series = group_best(rows, QUARTILE_GROUP, lambda match, m: m["selectivity_median"])
    if not any(s["points"] for s in series):
        return None
    return plots.lines(chart_id, f"{workload}: QPS at recall@{k} >= {HEADLINE} by selectivity quartile, {scenario}",
                       series, "median selectivity of the quartile (log)", "queries per second (log)", styles=styles)


def failure_groups(failures):
    """Failures grouped by reason: one line per reason, however many builds or passes share it."""
    groups = {}
    for f in failures:
        g = groups.setdefault((f["reason"], f.get("cause", "plugin")), {"reason": f["reason"], "cause": f.get("cause"),
                                                                         "count": 0, "algorithms": set(),
                                                                         "workloads": set()})
        g["count"] += 1
        g["algorithms"].add(f["algorithm"])
        g["workloads"].add(f.get("workload") or f.get("dataset") or "?")
    return sorted(({**g, "algorithms": sorted(g["algorithms"]), "workloads": sorted(g["workloads"])}
                   for g in groups.values()), key=lambda g: (-g["count"], g["reason"]))


def dataset_card(path):
    """The dataset's card (datasets.card) with its histograms drawn; {'error'} if it cannot be read."""
    from datasets.card import card
    from harness.dataset import Dataset, DatasetError
    try:
        c = card(Dataset(path))
    except DatasetError as e:
        return {"error": str(e)}
    if "labels_per_item" in c:
        c["labels_hist"] = plots.histogram("labels-per-item", "Labels per base vector",
                                           [(str(v), n) for v, n in c["labels_per_item"]], "labels per vector")
    for a in c["attributes"]:
        if a["kind"] == "numeric" and a["bins"]:
            a["hist"] = plots.histogram(f"attribute-{slug(a['name'])}", f"Values of {a['name']}",
                                        a["bins"], f"{a['name']}{' (' + a['unit'] + ')' if a['unit'] and a['unit'] != EPOCH_DAYS else ''}"
                                                   f", 20 equal bins")
    for s in c["scenarios"]:
        logs = np.log10(np.maximum(s.pop("selectivity"), 1e-9))
        edges = np.arange(np.floor(logs.min()), 0.01, 0.25)
        counts, _ = np.histogram(logs, bins=np.append(edges, 0.01))
        s["hist"] = plots.histogram(f"selectivity-{slug(s['name'])}", f"Selectivity of {s['name']} queries",
                                    [(f"{10 ** e:.0e}", int(n)) for e, n in zip(edges, counts)],
                                    "selectivity (fraction of the base that passes, log bins)")
    return c


def _scenario_order(key):
    """Unfiltered first, then the FANNS paper's four, then the others by name."""
    order = ["unfiltered", "containment", "overlap", "equality", "fixed_equality"]
    return (order.index(key[0]) if key[0] in order else len(order), key[0], key[1])


def _num(v, digits=3):
    if v is None:
        return "–"
    if isinstance(v, float):
        if abs(v) >= 100:
            return f"{v:,.0f}"
        return f"{v:.{digits}g}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _size(v):
    if v is None:
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(v) < 1024:
            return f"{v:.0f} {unit}"
        v /= 1024
    return f"{v:.1f} TiB"


def _plain(v):
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    if isinstance(v, np.generic):
        return v.item()
    return v


def build_site(results_root, out, datasets_lookup=None, archive=None):
    """Renders every readable result; what cannot be read is listed on the home page with its
    reason (and returned in site.skipped), never fatal."""
    from datasets import dataset_path
    from harness.definitions import load_all
    from harness.export import collect, harness_defects
    from harness.results import list_failures
    lookup = datasets_lookup or dataset_path
    skipped = []
    rows = collect(results_root, datasets_lookup=lookup, problems=skipped)
    failures = list_failures(results_root, problems=skipped)
    unscored = [r for r in rows if "error" in r]
    rows = [r for r in rows if "error" not in r]
    os.makedirs(out, exist_ok=True)
    shutil.copy(os.path.join(HERE, "templates", "style.css"), os.path.join(out, "style.css"))
    site = Site(rows, failures, out, lookup, load_all())
    site.unscored = unscored
    site.defects = harness_defects(rows)
    site.tunings = tuning_reports(results_root, skipped)
    site.experiments = experiments.load(results_root, skipped)
    site.skipped = [(os.path.relpath(p, results_root), why) for p, why in skipped]
    site.build(results_root, archive)
    return site


def tuning_reports(results_root, problems):
    """harness.tune's reports (results/tuning/DATASET/ALGORITHM.json); unreadable ones are listed."""
    import glob
    reports = []
    for path in sorted(glob.glob(os.path.join(results_root, "tuning", "*", "*.json"))):
        try:
            with open(path) as f:
                report = json.load(f)
            if not all(key in report for key in ("algorithm", "dataset", "sample", "configurations", "targets")):
                raise ValueError("not a tuning report")
            reports.append(report)
        except (OSError, ValueError) as e:
            problems.append((path, f"unreadable tuning report: {str(e)[:120]}"))
    return reports
