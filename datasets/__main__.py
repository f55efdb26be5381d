"""python -m datasets NAME [NAME ...] [--source DIR] | info NAME | --list"""
import argparse
import sys

from datasets import DATASETS, SourceMissing, build_dataset, is_known


def import_command(argv):
    from datasets import dataset_path
    from datasets.formats import FormatError
    from datasets.imports import fanns_query_labels, import_dataset
    from harness.dataset import write_dataset
    p = argparse.ArgumentParser(prog="python -m datasets import",
                                description="Turn vectors and label files into a FilterBench dataset (data/NAME.hdf5).")
    p.add_argument("command")
    p.add_argument("name", help="the dataset's name (run it with --dataset NAME)")
    p.add_argument("--base", required=True, help="base vectors: .npy .fvecs .fbin .u8bin .bin")
    p.add_argument("--base-labels", required=True, help="one line per base vector: comma-separated label ids")
    p.add_argument("--queries", help="query vectors (else --holdout)")
    p.add_argument("--query-labels", action="append", default=[], metavar="SCENARIO=FILE",
                   help="query label sets of a scenario (containment, overlap, equality); repeatable")
    p.add_argument("--fanns-dir", help="a FANNS release directory: takes its *_query_{and,or,equal}.txt")
    p.add_argument("--holdout", type=int, default=0, help="hold N base vectors out as queries")
    p.add_argument("--distance", default="euclidean", choices=("euclidean", "angular", "ip"))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    query_labels = dict(item.split("=", 1) for item in args.query_labels)
    if args.fanns_dir:
        query_labels = {**fanns_query_labels(args.fanns_dir), **query_labels}
    try:
        attrs, arrays = import_dataset(args.base, args.base_labels, args.queries, query_labels, args.holdout,
                                       args.distance, args.seed)
    except FormatError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    attrs["name"] = args.name
    path = dataset_path(args.name)
    write_dataset(path, attrs, arrays)
    print(f"wrote {path}: {len(arrays['train'])} base vectors, {len(arrays['test'])} queries")
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
    args = p.parse_args(argv)
    if args.list or not args.names:
        for spec in DATASETS.values():
            print(f"{spec.name:22s} {spec.size:32s} {spec.source}")
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
    sys.exit(main())
