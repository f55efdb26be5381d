"""python -m datasets NAME [NAME ...] | --list"""
import argparse
import sys

from datasets import DATASETS, build_dataset


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m datasets", description="Build datasets into data/NAME.hdf5.")
    p.add_argument("names", nargs="*", help="datasets to build")
    p.add_argument("--list", action="store_true", help="list the datasets that can be built")
    args = p.parse_args(argv)
    if args.list or not args.names:
        for spec in DATASETS.values():
            print(f"{spec.name:22s} {spec.size:32s} {spec.source}")
        return 0
    for name in args.names:
        if name not in DATASETS:
            print(f"error: unknown dataset '{name}' (known: {', '.join(DATASETS)})", file=sys.stderr)
            return 2
        build_dataset(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
