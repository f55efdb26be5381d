"""The leaderboard site: every result under results/ rendered into static pages with jinja2.

    python -m website [--results DIR] [--out DIR]        (default: results/ -> website/build/)

Pages: index.html (leaderboards per dataset × scenario), one per dataset (its card, plots and
tables), one per algorithm, method.html (how every number is measured) and raw.html (every table
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

from harness.metrics import EXACT_RECALL_FLOOR
from harness.results import is_regular_file
from website import plots

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


def leaderboard(rows, qps_key="qps", recall_key="recall"):
    """Per algorithm: best QPS at each recall target, with the configuration behind the headline."""
    by_algo = defaultdict(list)
    for r in rows:
        if r.get(recall_key) is not None and r.get(qps_key) is not None:
            by_algo[r["algorithm"]].append(r)
    board = []
    for algo, rs in by_algo.items():
        entry = {"algorithm": algo, "best_recall": max(r[recall_key] for r in rs), "notes": integrity(rs),
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
        self.defects = []  # rows where an exact plugin scored below 0.999: the harness is wrong

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

    def build(self, results_root):
        workloads = sorted({r["workload"] for r in self.rows})
        boards = []
        for w in workloads:
            w_rows = [r for r in self.rows if r["workload"] == w]
            for (scenario, k) in sorted({(r["scenario"], r["k"]) for r in w_rows}, key=_scenario_order):
                rs = [r for r in w_rows if r["scenario"] == scenario and r["k"] == k]
                single, batch = leaderboard(rs), leaderboard(rs, "batch_qps", "batch_recall")
                tid = f"leaderboard-{w}-{scenario}-k{k}"
                cols = ["algorithm"] + [f"qps@{t}" for t in TARGETS] + ["recall", "build_time", "index_size",
                                                                       "params", "best_recall"]
                boards.append({"workload": w, "scenario": scenario, "k": k, "single": single, "batch": batch,
                               "csv": self.table(tid, f"Leaderboard {w} {scenario} k={k}", cols, single),
                               "batch_csv": self.table(tid + "-batch", f"Batch leaderboard {w} {scenario} k={k}",
                                                       cols, batch) if batch else None})
        self.render("index.html", "index.html", boards=boards, targets=TARGETS, headline=HEADLINE,
                    failures=self.failures, workloads=workloads, unscored=self.unscored, skipped=self.skipped,
                    defects=self.defects)
        for w in workloads:
            self.dataset_page(w, [r for r in self.rows if r["workload"] == w])
        for algo in sorted({r["algorithm"] for r in self.rows}):
            self.algorithm_page(algo, [r for r in self.rows if r["algorithm"] == algo])
        self.render("method.html", "method.html")
        archive = self.archive(results_root)
        self.render("raw.html", "raw.html", tables=self.tables, archive=archive)

    def dataset_page(self, workload, rows):
        name = rows[0]["dataset"]
        card = dataset_card(self.lookup(name))
        sections, fashion = [], None
        for scenario, k in sorted({(r["scenario"], r["k"]) for r in rows}, key=_scenario_order):
            rs = [r for r in rows if r["scenario"] == scenario and r["k"] == k]
            cid = slug(f"{scenario}-k{k}")
            series = lambda y, cond=lambda r: True: [
                {"name": a, "points": [{"x": r["recall"], "y": y(r), "label": f"{args_text(r['build_args'])}; "
                                        f"{args_text(r['query_args'])}"} for r in rs
                                       if r["algorithm"] == a and r.get("recall") is not None and cond(r)]}
                for a in sorted({r["algorithm"] for r in rs})]
            charts = [plots.scatter(f"qps-{cid}", f"QPS against recall@{k}, {scenario}", series(lambda r: r["qps"]),
                                    f"recall@{k}", "queries per second (log)", x_range=(0, 1)),
                      plots.scatter(f"build-{cid}", f"Build time against recall@{k}, {scenario}",
                                    series(lambda r: r.get("build_time")), f"recall@{k}", "build time, s (log)",
                                    x_range=(0, 1), lower_is_better=True),
                      plots.scatter(f"size-{cid}", f"Index size against recall@{k}, {scenario}",
                                    series(lambda r: r.get("index_size")), f"recall@{k}", "index size, bytes (log)",
                                    x_range=(0, 1), lower_is_better=True)]
            group_names = sorted({g for r in rs for g in (r.get("groups") or {})})
            for g in group_names:
                gs = [{"name": s["name"], "points": [{"x": r["groups"][g]["recall"], "y": r["groups"][g]["qps"],
                                                      "label": f"{args_text(r['build_args'])}; {args_text(r['query_args'])}"}
                                                     for r in rs if r["algorithm"] == s["name"] and g in (r.get("groups") or {})]}
                      for s in series(lambda r: r["qps"])]
                charts.append(plots.scatter(f"qps-{cid}-{slug(g)}", f"QPS against recall@{k}, {scenario}, {g}", gs,
                                            f"recall@{k} ({g})", "queries per second (log)", x_range=(0, 1)))
            cols = ["algorithm", "build_args", "query_args", "recall", "qps", "qps_search", "batch_recall", "batch_qps",
                    "latency_p50", "latency_p99", "build_time", "index_size", "distance_computations", "recall_p10",
                    "recall_below_half", "fewer_than_k", "violations", "duplicates", "out_of_range"]
            table_rows = sorted(rs, key=lambda r: (r["algorithm"], -(r.get("recall") or 0)))
            sections.append({"scenario": scenario, "k": k, "charts": charts, "columns": cols, "rows": table_rows,
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

    def algorithm_page(self, algo, rows):
        cfg = self.configs.get(algo)
        versions = sorted({f"{k} {v}" for r in rows for k, v in (r.get("versions") or {}).items()})
        cols = ["workload", "scenario", "k", "build_args", "query_args", "recall", "qps", "build_time", "index_size",
                "mode"]
        rows = sorted(rows, key=lambda r: (r["workload"], r["scenario"], -(r.get("recall") or 0)))
        self.render("algorithm.html", f"algorithms/{slug(algo)}.html", algo=algo, cfg=cfg, versions=versions,
                    columns=cols, rows=rows, notes=integrity(rows),
                    csv=self.table(f"algorithm-{algo}", f"All results of {algo}", cols, rows))

    def archive(self, results_root):
        path = os.path.join(self.out, "results.tar.gz")
        with tarfile.open(path, "w:gz") as tar:
            for dirpath, dirnames, files in os.walk(results_root):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                for name in files:
                    full = os.path.join(dirpath, name)
                    # Plain files only: a symlink in results/ could point at anything on this machine.
                    if name.endswith((".hdf5", ".json", ".log")) and not name.startswith(".") and is_regular_file(full):
                        try:
                            tar.add(full, arcname=os.path.join("results", os.path.relpath(full, results_root)))
                        except OSError as e:
                            self.skipped.append((full, f"left out of the archive: {e.strerror}"))
        return {"path": "results.tar.gz", "size": os.path.getsize(path)}


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
    for s in c["scenarios"]:
        logs = np.log10(np.maximum(s.pop("selectivity"), 1e-9))
        edges = np.arange(np.floor(logs.min()), 0.01, 0.25)
        counts, _ = np.histogram(logs, bins=np.append(edges, 0.01))
        s["hist"] = plots.histogram(f"selectivity-{s['name']}", f"Selectivity of {s['name']} queries",
                                    [(f"{10 ** e:.0e}", int(n)) for e, n in zip(edges, counts)],
                                    "selectivity (fraction of the base that passes, log bins)")
    return c


def _scenario_order(key):
    order = ["unfiltered", "containment", "overlap", "equality", "fixed_equality"]
    return (order.index(key[0]) if key[0] in order else 99, key[1])


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


def build_site(results_root, out, datasets_lookup=None):
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
    site.skipped = [(os.path.relpath(p, results_root), why) for p, why in skipped]
    site.defects = harness_defects(rows)
    site.build(results_root)
    return site
