"""python -m datasets NAME [NAME ...] [--source DIR] | info NAME | import NAME ... | yfcc-like --size 1M|10M | --list"""
import argparse
import os
import sys

from datasets import DATASETS, SourceMissing, build_dataset, is_known


def import_command(argv):
    from datasets import DATASETS, data_dir, dataset_path
    from datasets.formats import FormatError
    from datasets.imports import fanns_query_labels, import_dataset
    from datasets.tables import import_table
    from harness.dataset import write_dataset
    from harness.names import UnsafeName, check_name
    p = argparse.ArgumentParser(
        prog="python -m datasets import",
        description="Make a FilterBench dataset (data/NAME.hdf5) from a table (--table: CSV, JSON lines or "
                    "Parquet), or from vector files and label lines (--base, --base-labels).")
    p.add_argument("command")
    p.add_argument("name", help="the dataset's name (run it with --dataset NAME)")
    table = p.add_argument_group("a table")
    table.add_argument("--table", metavar="FILE", help=".csv, .tsv, .jsonl or .parquet, one row per item")
    table.add_argument("--vector", metavar="COL", help="the column of vectors")
    table.add_argument("--text", metavar="COL", help="a column of text, embedded offline with all-MiniLM-L6-v2")
    table.add_argument("--labels", metavar="COL[,COL]", default="", help="label columns (names kept as they are)")
    table.add_argument("--separator", default="|", help="between several labels in one cell (default |)")
    table.add_argument("--numbers", metavar="COL[,COL]", default="", help="numeric (or YYYY-MM-DD date) columns")
    table.add_argument("--skip-bad-rows", action="store_true",
                       help="leave out CSV rows whose number of fields differs from the header's (default: refuse "
                            "them, naming their lines); the card counts them")
    table.add_argument("--source", metavar="TEXT", help="where the data comes from (shown on its card)")
    table.add_argument("--license", metavar="TEXT", help="its licence (shown on its card)")
    files = p.add_argument_group("vector files and label lines")
    files.add_argument("--base", help="base vectors: .npy .fvecs .fbin .u8bin .bin")
    files.add_argument("--base-labels", help="one line per base vector: comma-separated label ids")
    files.add_argument("--queries", help="query vectors (else --holdout)")
    files.add_argument("--query-labels", action="append", default=[], metavar="SCENARIO=FILE",
                       help="query label sets of a scenario (containment, overlap, equality); repeatable")
    files.add_argument("--fanns-dir", help="a FANNS release directory: takes its *_query_{and,or,equal}.txt")
    p.add_argument("--holdout", type=int, default=None,
                   help="hold N rows out of the base as queries (a table: default 1,000, or a tenth of a smaller one)")
    p.add_argument("--distance", default=None, choices=("euclidean", "angular", "ip"),
                   help="default: angular for --text, else euclidean (unit-norm embeddings want angular)")
    p.add_argument("--no-fixed", action="store_true",
                   help="leave out the synthetic fixed-length labels (random, F=4 x V=3) and their fixed_equality "
                        "scenario")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        check_name(args.name, "dataset name")
        if args.name in DATASETS:
            raise FormatError(f"'{args.name}' is a dataset FilterBench builds; give yours another name")
        if args.table:
            split = lambda text: [c.strip() for c in text.split(",") if c.strip()]
            attrs, arrays = import_table(args.table, args.vector, args.text, split(args.labels), split(args.numbers),
                                         args.holdout, args.distance, args.separator, args.seed, args.source,
                                         args.license, cache_dir=os.path.join(data_dir(), "cache"),
                                         fixed=not args.no_fixed, skip_bad_rows=args.skip_bad_rows)
        elif args.base and args.base_labels:
            query_labels = dict(item.split("=", 1) for item in args.query_labels)
            if args.fanns_dir:
                query_labels = {**fanns_query_labels(args.fanns_dir), **query_labels}
            attrs, arrays = import_dataset(args.base, args.base_labels, args.queries, query_labels, args.holdout or 0,
                                           args.distance or "euclidean", args.seed, fixed=not args.no_fixed)
        else:
            raise FormatError("give --table FILE, or --base FILE and --base-labels FILE")
    except (FormatError, UnsafeName) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    attrs["name"] = args.name
    path = dataset_path(args.name)
    write_dataset(path, attrs, arrays)
    print(f"wrote {path}: {len(arrays['train'])} base vectors, {len(arrays['test'])} queries; "
          f"run it with: python run.py --dataset {args.name}")
    return 0


def yfcc_like_command(argv):
    from datasets import data_dir
    from datasets.yfcc_like import SIZES, generate
    p = argparse.ArgumentParser(
        prog="python -m datasets yfcc-like",
        description="Write SYNTHETIC files in the YFCC filter track's shapes and formats (192-d uint8 vectors, "
                    "200,386 Zipf-distributed tags correlated with vector clusters, 1- or 2-tag queries), for "
                    "building `yfcc` (1M) or `yfcc-10M` at their real scale. Their card says they are synthetic.")
    p.add_argument("command")
    p.add_argument("--size", choices=sorted(SIZES), default="1M", help="base vectors (default 1M)")
    p.add_argument("--queries", type=int, default=100_000, help="query items (default 100,000, as the track)")
    p.add_argument("--out", metavar="DIR", help="raw-data directory to write DIR/yfcc/ into "
                                                "(default data/raw/yfcc-like-SIZE)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    out = args.out or os.path.join(data_dir(), "raw", f"yfcc-like-{args.size}")
    command = f"python -m datasets yfcc-like --size {args.size} --queries {args.queries} --seed {args.seed}"
    generate(os.path.join(out, "yfcc"), SIZES[args.size], n_queries=args.queries, seed=args.seed, command=command)
    name = "yfcc" if args.size == "1M" else "yfcc-10M"
    print(f"wrote {os.path.join(out, 'yfcc')}; build it with: python -m datasets {name} --source {out}\n"
          f"(or run it at once: python run.py --dataset {name} --source {out})")
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m datasets", description="Build datasets into data/NAME.hdf5.")
    p.add_argument("names", nargs="*", help="datasets to build (NAME@25%% etc.: a seeded base subset); `info NAME` "
                                            "prints a card; `import NAME ...` imports")
    p.add_argument("--list", action="store_true", help="list the datasets that can be built")
    p.add_argument("--source", metavar="DIR", help="raw-data directory (default: $FILTERBENCH_RAW, else "
                                                  "../shared/data beside the repo); yfcc reads DIR/yfcc/")
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "import":  # its own options
        return import_command(argv)
    if argv and argv[0] == "yfcc-like":
        return yfcc_like_command(argv)
    args = p.parse_args(argv)
    if args.list or not args.names:
        from datasets import other_datasets
        for spec in DATASETS.values():
            print(f"{spec.name:22s} {spec.size:32s} {spec.source}")
        for name, size, source in other_datasets():
            print(f"{name:22s} {size:32s} {source[:60]} (in data/)")
        return 0
    if args.names[0] == "info":
        from datasets import dataset_path
        from datasets.card import card, text
        from harness.dataset import Dataset, DatasetError
        for name in args.names[1:]:
            try:
                print(text(card(Dataset(dataset_path(name)))))
            except DatasetError as e:
                print(f"error: {e} (build it with python -m datasets {name})", file=sys.stderr)
                return 2
        return 0
    for name in args.names:
        if not is_known(name):
            print(f"error: unknown dataset '{name}' (known: {', '.join(DATASETS)}, and NAME@P% for a P% base "
                  f"subset)", file=sys.stderr)
            return 2
        try:
            build_dataset(name, raw=args.source)
        except SourceMissing as e:
            print(f"error: {e.hint(f'python -m datasets {name}')}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # progress lines reach a log file as they are written
    sys.exit(main())
