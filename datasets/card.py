"""A dataset's card: the numbers `python -m datasets info NAME` prints and the website shows."""
import json

import numpy as np

from harness.attributes import EPOCH_DAYS


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
    synthetic = synthetic_attributes(ds.attrs)
    out["attributes"] = [attribute_card(a, synthetic.get(a.name)) for a in ds.attributes.values()]
    for name, sc in ds.scenarios.items():
        s = sc.selectivity
        made_up = sorted(set(spec_attributes(sc.predicate.spec)) & set(synthetic))
        out["scenarios"].append({"name": name, "kind": sc.kind, "about": sc.predicate.about(),
                                 "example": sc.describe(0), "median": float(np.median(s)),
                                 "p1": float(np.percentile(s, 1)), "p25": float(np.percentile(s, 25)),
                                 "p75": float(np.percentile(s, 75)), "min_valid": int(sc.valid_count.min()),
                                 "selectivity": s,
                                 "synthetic": f"synthetic: reads {', '.join(made_up)}, drawn at random" if made_up else ""})
    if "training_report" in ds.attrs:  # fashion-mnist: the ResNet that made the vectors
        report = json.loads(ds.attrs["training_report"])
        out["training"] = {"arch": report["arch"], "weights": report["weights"], "epochs": len(report["epochs"]),
                           "best_epoch": report.get("best_epoch"), "test_accuracy": report["test"]["accuracy"],
                           "label_precision_at_5": float(ds.attrs["label_precision_at_5"])}
    if ds.attrs.get("import_skipped_rows"):
        lines = json.loads(ds.attrs.get("import_skipped_lines", "[]"))
        count = int(ds.attrs["import_skipped_rows"])
        out["skipped_rows"] = (f"{count:,} rows of the table left out (--skip-bad-rows): their number of fields "
                               f"differs from the header's; lines {', '.join(map(str, lines))}"
                               f"{', ...' if count > len(lines) else ''}")
    out["omitted"] = {k[:-len("_omitted")]: str(v) for k, v in ds.attrs.items() if str(k).endswith("_omitted")}
    return out


SMALL_VOCABULARY = 30  # a vocabulary this small is listed whole on the card, so junk labels show


def synthetic_attributes(attrs):
    """{attribute: how it was drawn} of the attributes a builder made up rather than read."""
    try:
        found = json.loads(attrs.get("synthetic_attributes", "{}"))
    except (TypeError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def spec_attributes(spec):
    """The attribute names a predicate spec reads (its parts' too)."""
    return ([spec["attribute"]] if spec.get("attribute") else []) + \
        [a for part in spec.get("parts", []) for a in spec_attributes(part)]


def attribute_card(attribute, synthetic=None):
    """An attribute's distribution: the labels (every one of a small vocabulary; else the most
    frequent and how many occur once), or the quantiles of the numbers (and 20 equal-width bins
    of them), with `summary`, the line that cards and the site show."""
    note = f" (synthetic: {synthetic})" if synthetic else ""
    if attribute.kind == "labels":
        sizes = attribute.sizes()
        counts = np.bincount(attribute.indices, minlength=attribute.n_labels)
        order = np.argsort(-counts, kind="stable")
        named = lambda ids: [(attribute.label_name(int(i)), int(counts[i])) for i in ids if counts[i]]
        once = np.flatnonzero(counts == 1)
        listed = attribute.n_labels <= SMALL_VOCABULARY
        out = {"name": attribute.name, "kind": "labels", "vocabulary": attribute.n_labels,
               "mean": float(sizes.mean()) if len(sizes) else 0.0, "top": named(order[:5]),
               "all": named(order) if listed else None, "seen_once": int(len(once)),
               "seen_once_examples": named(once[:5]), "synthetic": synthetic or ""}
        words = f"labels, vocabulary {attribute.n_labels:,}, {out['mean']:.2f} per vector; "
        if listed:
            words += "every label: " + ", ".join(f"{name} ({n:,})" for name, n in out["all"])
        else:
            words += "most frequent " + ", ".join(f"{name} ({n:,})" for name, n in out["top"])
            words += f"; {len(once):,} labels occur once" + (
                " (e.g. " + ", ".join(repr(name) for name, _ in out["seen_once_examples"]) + ")" if len(once) else "")
        out["summary"] = words + note
        return out
    values = attribute.values[np.isfinite(attribute.values)] if attribute.values.dtype.kind == "f" else attribute.values
    quantiles = np.percentile(values, [0, 25, 50, 75, 100]) if len(values) else [np.nan] * 5
    counts, edges = np.histogram(values, bins=20) if len(values) else ([], [])
    missing = int(len(attribute) - len(values))
    q = [attribute.text(float(x)) for x in quantiles]
    unit = "" if attribute.unit == EPOCH_DAYS else attribute.unit
    summary = (f"{'dates' if attribute.unit == EPOCH_DAYS else 'numbers'}{' (' + unit + ')' if unit else ''}, "
               f"min {q[0]}, quartiles {q[1]} / {q[2]} / {q[3]}, max {q[4]}" + (f", {missing:,} missing" if missing else ""))
    return {"name": attribute.name, "kind": "numeric", "unit": attribute.unit, "missing": missing,
            "quantiles": [float(x) for x in quantiles],
            "bins": [(attribute.text(float(e)), int(c)) for e, c in zip(edges, counts)],
            "synthetic": synthetic or "", "summary": summary + note}


def text(c):
    lines = [f"{c['name']}: {c['n']:,} base vectors, d={c['d']}, {c['nq']:,} queries, distance {c['distance']}",
             f"source: {c['source']}", f"licence: {c['license']}"]
    if "vocabulary" in c:
        lines.append(f"labels: vocabulary {c['vocabulary']:,}, {c['labels_mean']:.2f} per vector, "
                     f"{c['distinct_sets']:,} distinct label sets")
        lines.append("labels per vector: " + ", ".join(f"{v}: {n:,}" for v, n in c["labels_per_item"]))
    if c.get("skipped_rows"):
        lines.append(f"import: {c['skipped_rows']}")
    for a in c["attributes"]:
        lines.append(f"attribute {a['name']}: {a['summary']}")
    for s in c["scenarios"]:
        lines.append(f"{s['name']:15s} {s['kind']}: {s['about']}  (e.g. {s['example']})"
                     + (f"  [{s['synthetic']}]" if s["synthetic"] else ""))
        lines.append(f"{'':15s} selectivity p1 {s['p1']:.2e}  p25 {s['p25']:.2e}  median {s['median']:.2e}  "
                     f"p75 {s['p75']:.2e}  fewest valid {s['min_valid']}")
    if "training" in c:
        t = c["training"]
        lines.append(f"embeddings: {t['arch']} ({t['weights']}), {t['epochs']} epochs, best epoch {t['best_epoch']}, "
                     f"test accuracy {t['test_accuracy']:.4f}, label precision@5 {t['label_precision_at_5']:.4f}")
    for name, why in c["omitted"].items():
        lines.append(f"{name:15s} left out: {why}")
    return "\n".join(lines)
