"""The pages of harness.experiments: one per experiment and dataset, and the reproduction report.

Each experiment's JSON (results/experiments/DATASET/NAME.json) becomes sections of charts and
tables; the charts use the site's one colour and marker per algorithm.
"""
import glob
import json
import os

from website import plots

GROUP_TITLES = {"labels_short": "1 label", "labels_medium": "2-3 labels", "labels_long": "4+ labels",
                "selectivity_p1": "1st pct", "selectivity_p25": "25th pct", "selectivity_p50": "50th pct",
                "selectivity_p75": "75th pct"}
FIGURES = {"scenarios": "Figure 9", "fixed-equality": "Figure 10", "label-length": "Figure 11",
           "selectivity": "Figure 12", "top-k": "Figure 13", "scale": "Figures 14-15"}
ABOUT = {
    "scenarios": "QPS against recall@10 in every scenario of the dataset, each algorithm's configurations faded and "
                 "its best trade-offs bold.",
    "fixed-equality": "Equality over the fixed-length labels (length 4, three values each, as in NHQ).",
    "label-length": "QPS at recall 0.9 on the queries of 1, 2-3 and 4+ labels, per label scenario.",
    "selectivity": "QPS at recall 0.9 on the 5% of queries around the 1st, 25th, 50th and 75th percentile of "
                   "selectivity, and on ten selectivity bins of equal query count.",
    "top-k": "QPS at recall@k 0.9 for k = 1, 10, 25, 50 and 100.",
    "scale": "Base subsets of 10%, 25%, 50% and the whole base: QPS at recall 0.9, build time and index size.",
}


def load(results_root, problems):
    """{dataset: {name: record}} of every readable experiment file; unreadable ones are listed."""
    found = {}
    for path in sorted(glob.glob(os.path.join(results_root, "experiments", "*", "*.json"))):
        try:
            with open(path) as f:
                record = json.load(f)
            if "experiment" not in record and "findings" not in record:
                raise ValueError("not an experiment record")
        except (OSError, ValueError) as e:
            problems.append((path, f"unreadable experiment record: {str(e)[:120]}"))
            continue
        name = os.path.splitext(os.path.basename(path))[0]
        found.setdefault(os.path.basename(os.path.dirname(path)), {})[name] = record
    return found


def _value(cell, key="qps"):
    return (cell or {}).get(key)


def sections(name, record, styles, table):
    """[{title, charts, columns, rows, csv}] for one experiment record. `table(id, title, cols,
    rows)` registers a table for download and returns its link stem."""
    if "omitted" in record:
        return []
    d, out = record["dataset"], []

    def section(title, charts, columns, rows):
        out.append({"title": title, "charts": charts, "columns": columns, "rows": rows,
                    "csv": table(f"experiment-{d}-{name}-{title}", f"{d} {name}: {title}", columns, rows)})

    if name in ("scenarios", "fixed-equality"):
        for scenario, algos in sorted(record["points"].items()):
            series = [{"name": a, "points": [{"x": r, "y": q, "label": f"{args}: recall {r:.3f}"} for r, q, args in pts]}
                      for a, pts in sorted(algos.items())]
            chart = plots.scatter(f"exp-{name}-{scenario}", f"{d}, {scenario}: QPS against recall@10, every "
                                  "configuration", series, "recall@10", "queries per second (log)", x_range="recall",
                                  styles=styles)
            cells = record["table"].get(scenario, {}) if name == "scenarios" else record["table"]
            rows = [{"algorithm": a, "QPS at recall 0.9": _value(c), "best recall": _value(c, "recall")}
                    for a, c in sorted(cells.items())]
            section(scenario, [chart], ["algorithm", "QPS at recall 0.9", "best recall"], rows)
    elif name in ("label-length", "selectivity"):
        groups = record["groups"]
        titles = [GROUP_TITLES.get(g, g) for g in groups]
        for scenario, algos in sorted(record["table"].items()):
            series = [{"name": a, "values": {GROUP_TITLES.get(g, g): _value(c.get(g)) for g in groups}}
                      for a, c in sorted(algos.items())]
            charts = [plots.bars(f"exp-{name}-{scenario}", f"{d}, {scenario}: QPS at recall 0.9 per query group",
                                 titles, series, "queries per second (log)", styles=styles)]
            curve = record.get("curve", {}).get(scenario)
            if curve:
                lines = [{"name": a, "points": [{"x": s, "y": q, "label": f"selectivity {s:.2g}: {q or 0:,.0f} QPS"}
                                                for s, q in zip(curve["selectivity"], qs)]}
                         for a, qs in sorted(curve["qps"].items())]
                charts.append(plots.lines(f"exp-{name}-{scenario}-curve", f"{d}, {scenario}: QPS at recall 0.9 "
                                          "against selectivity (ten bins of equal query count)", lines,
                                          "selectivity (log)", "queries per second (log)", styles=styles))
            columns = ["algorithm"] + [f"{t} QPS" for t in titles] + [f"{t} recall" for t in titles]
            rows = [{"algorithm": a, **{f"{t} QPS": _value(c.get(g)) for g, t in zip(groups, titles)},
                     **{f"{t} recall": _value(c.get(g), "recall") for g, t in zip(groups, titles)}}
                    for a, c in sorted(algos.items())]
            section(scenario, charts, columns, rows)
    elif name == "top-k":
        ks = [str(k) for k in record["k"]]
        series = [{"name": a, "points": [{"x": int(k), "y": _value(c.get(k)), "label": f"k={k}"} for k in ks]}
                  for a, c in sorted(record["table"].items())]
        chart = plots.lines(f"exp-top-k", f"{d}, {record['scenario']}: QPS at recall@k 0.9 against k", series,
                            "k (log)", "queries per second (log)", styles=styles)
        rows = [{"algorithm": a, **{f"k={k}": _value(c.get(k)) for k in ks}} for a, c in sorted(record["table"].items())]
        section(record["scenario"], [chart], ["algorithm"] + [f"k={k}" for k in ks], rows)
    elif name == "scale":
        ps = [str(p) for p in record["percent"]]
        table_ = record["table"]
        line = lambda key, label: [{"name": a, "points": [{"x": c[p]["n"], "y": c[p][key], "label": f"{p}%: {label}"}
                                                          for p in ps if c.get(p)]} for a, c in sorted(table_.items())]
        charts = [plots.lines(f"exp-scale-{key}", f"{d}, {record['scenario']}: {title} against base size", line(key, title),
                              "base vectors (log)", f"{title} (log)", styles=styles)
                  for key, title in (("qps", "QPS at recall 0.9"), ("build_time", "build time, s"),
                                     ("index_size", "index size, bytes"))]
        rows = [{"algorithm": a, "percent": p, **{k: c[p][k] for k in ("n", "qps", "recall", "build_time", "index_size")}}
                for a, c in sorted(table_.items()) for p in ps if c.get(p)]
        section(record["scenario"], charts, ["algorithm", "percent", "n", "qps", "recall", "build_time", "index_size"],
                rows)
    return out
