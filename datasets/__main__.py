"""python -m datasets NAME [NAME ...] [--source DIR] | info NAME | --list"""
import argparse
import sys

from datasets import DATASETS, SourceMissing, build_dataset


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m datasets", description="Build datasets into data/NAME.hdf5.")
    p.add_argument("names", nargs="*", help="datasets to build")
    p.add_argument("--list", action="store_true", help="list the datasets that can be built")
    p.add_argument("--source", metavar="DIR", help="raw-data directory (default: $FILTERBENCH_RAW, else "
                                                  "../shared/data beside the repo); yfcc reads DIR/yfcc/")
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
        if name not in DATASETS:
            print(f"error: unknown dataset '{name}' (known: {', '.join(DATASETS)})", file=sys.stderr)
            return 2
        try:
            build_dataset(name, raw=args.source)
        except SourceMissing as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
