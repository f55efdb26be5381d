"""A dataset's card: the numbers `python -m datasets info NAME` prints and the website shows."""
import numpy as np


def card(ds):
    out = {"name": ds.name, "n": ds.n, "d": ds.d, "nq": ds.nq, "distance": ds.distance,
           "source": str(ds.attrs.get("source", "unknown")), "license": str(ds.attrs.get("license", "unknown")),
           "scenarios": []}
    if ds.labels is not None:
        sizes = ds.labels.sizes()
        values, counts = np.unique(sizes, return_counts=True)
        out.update(vocabulary=ds.labels.n_labels, labels_mean=float(sizes.mean()),
                   labels_per_item=[(int(v), int(c)) for v, c in zip(values, counts)],
                   distinct_sets=len({tuple(r) for r in ds.labels.rows()}))
    out["attributes"] = [attribute_card(a) for a in ds.attributes.values()]
    for name, sc in ds.scenarios.items():
        s = sc.selectivity
        out["scenarios"].append({"name": name, "kind": sc.kind, "about": sc.predicate.about(),
                                 "example": sc.describe(0), "median": float(np.median(s)),
                                 "p1": float(np.percentile(s, 1)), "p25": float(np.percentile(s, 25)),
                                 "p75": float(np.percentile(s, 75)), "min_valid": int(sc.valid_count.min()),
                                 "selectivity": s})
    if "training_report" in ds.attrs:  # fashion-mnist: the ResNet that made the vectors
        import json
        report = json.loads(ds.attrs["training_report"])
        out["training"] = {"arch": report["arch"], "weights": report["weights"], "epochs": len(report["epochs"]),
                           "best_epoch": report.get("best_epoch"), "test_accuracy": report["test"]["accuracy"],
                           "label_precision_at_5": float(ds.attrs["label_precision_at_5"])}
    out["omitted"] = {k[:-len("_omitted")]: str(v) for k, v in ds.attrs.items() if str(k).endswith("_omitted")}
    return out


def attribute_card(attribute):
    """An attribute's distribution: label counts per vector and the most frequent labels, or the
    quantiles of the numbers (and 20 equal-width bins of them)."""
    if attribute.kind == "labels":
        sizes = attribute.sizes()
        counts = np.bincount(attribute.indices, minlength=attribute.n_labels)
        top = np.argsort(-counts, kind="stable")[:5]
        return {"name": attribute.name, "kind": "labels", "vocabulary": attribute.n_labels,
                "mean": float(sizes.mean()) if len(sizes) else 0.0,
                "top": [(attribute.label_name(int(i)), int(counts[i])) for i in top if counts[i]]}
    values = attribute.values[np.isfinite(attribute.values)] if attribute.values.dtype.kind == "f" else attribute.values
    quantiles = np.percentile(values, [0, 25, 50, 75, 100]) if len(values) else [np.nan] * 5
    counts, edges = np.histogram(values, bins=20) if len(values) else ([], [])
    return {"name": attribute.name, "kind": "numeric", "unit": attribute.unit, "missing": int(len(attribute) - len(values)),
            "quantiles": [float(q) for q in quantiles], "bins": [(float(e), int(c)) for e, c in zip(edges, counts)]}


def text(c):
    lines = [f"{c['name']}: {c['n']:,} base vectors, d={c['d']}, {c['nq']:,} queries, distance {c['distance']}",
             f"source: {c['source']}", f"licence: {c['license']}"]
    if "vocabulary" in c:
        lines.append(f"labels: vocabulary {c['vocabulary']:,}, {c['labels_mean']:.2f} per vector, "
                     f"{c['distinct_sets']:,} distinct label sets")
        lines.append("labels per vector: " + ", ".join(f"{v}: {n:,}" for v, n in c["labels_per_item"]))
    for a in c["attributes"]:
        if a["kind"] == "labels":
            lines.append(f"attribute {a['name']}: labels, vocabulary {a['vocabulary']:,}, {a['mean']:.2f} per vector; "
                         f"most frequent " + ", ".join(f"{name} ({n:,})" for name, n in a["top"]))
        else:
            q = a["quantiles"]
            lines.append(f"attribute {a['name']}: numbers{' (' + a['unit'] + ')' if a['unit'] else ''}, min {q[0]:g}, "
                         f"quartiles {q[1]:g} / {q[2]:g} / {q[3]:g}, max {q[4]:g}"
                         + (f", {a['missing']:,} missing" if a["missing"] else ""))
    for s in c["scenarios"]:
        lines.append(f"{s['name']:15s} {s['kind']}: {s['about']}  (e.g. {s['example']})")
        lines.append(f"{'':15s} selectivity p1 {s['p1']:.2e}  p25 {s['p25']:.2e}  median {s['median']:.2e}  "
                     f"p75 {s['p75']:.2e}  fewest valid {s['min_valid']}")
    if "training" in c:
        t = c["training"]
        lines.append(f"embeddings: {t['arch']} ({t['weights']}), {t['epochs']} epochs, best epoch {t['best_epoch']}, "
                     f"test accuracy {t['test_accuracy']:.4f}, label precision@5 {t['label_precision_at_5']:.4f}")
    for name, why in c["omitted"].items():
        lines.append(f"{name:15s} left out: {why}")
    return "\n".join(lines)
