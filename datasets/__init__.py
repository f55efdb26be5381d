"""Dataset registry: `python -m datasets NAME` builds data/NAME.hdf5.

Build outputs are caches (git-ignored under data/, or $FILTERBENCH_DATA).
"""
import os
import time
from dataclasses import dataclass
from typing import Callable

from harness.dataset import write_dataset

BUILDER_VERSION = 1
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class DatasetSpec:
    name: str
    size: str
    source: str
    build: Callable  # (raw-data directory, log) -> (attrs, arrays)


class SourceMissing(Exception):
    """Raw input files that a builder needs are not there; the message says which. With
    `raw_files`, they belong in a raw-data directory that the commands take as --source DIR."""

    def __init__(self, message, raw_files=False):
        super().__init__(message)
        self.raw_files = raw_files

    def hint(self, command):
        """The message, plus the exact command to run once the files are in place."""
        return f"{self}; then run: {command} --source DIR" if self.raw_files else str(self)


def _synthetic(n, nq, d, seed):
    from datasets import synthetic
    return lambda raw, log: synthetic.build(n, nq, d, seed, log=log)


def _yfcc(base_size):
    def build(raw, log):
        from datasets import yfcc
        try:
            return yfcc.build(os.path.join(raw, "yfcc"), base_size=base_size, log=log)
        except yfcc.MissingSource as e:
            raise SourceMissing(str(e), raw_files=True) from None
    return build


def _text(kind, limit=None, n_queries=1000):
    def build(raw, log):
        from datasets import text
        try:
            return getattr(text, kind)(raw, n_queries=n_queries, limit=limit,
                                       cache_dir=os.path.join(data_dir(), "cache"), log=log)
        except text.MissingSource as e:
            raise SourceMissing(str(e), raw_files=True) from None
    return build


def _fashion_mnist(limit=None, n_queries=1000, arch=None, max_epochs=30):
    """Raw pixels without `arch`; else the embeddings of a ResNet trained for at most max_epochs."""
    def build(raw, log):
        from datasets import fashion_mnist
        try:
            if arch is None:
                return fashion_mnist.build(n_queries=n_queries, limit=limit, log=log)
            return fashion_mnist.build_resnet(arch=arch, n_queries=n_queries, limit=limit, max_epochs=max_epochs,
                                              cache_dir=os.path.join(data_dir(), "cache"), log=log)
        except fashion_mnist.MissingSource as e:
            raise SourceMissing(str(e)) from None
    return build


DATASETS = {spec.name: spec for spec in [
    DatasetSpec("random-filter-s", "100,000 x 50, 1,000 queries", "synthetic", _synthetic(100_000, 1_000, 50, 0)),
    DatasetSpec("random-filter-xs", "10,000 x 32, 200 queries", "synthetic", _synthetic(10_000, 200, 32, 1)),
    DatasetSpec("random-filter-xxs", "2,000 x 16, 100 queries", "synthetic", _synthetic(2_000, 100, 16, 2)),
    DatasetSpec("fashion-mnist", "60,000 x 512, 1,000 queries", "Fashion-MNIST + ResNet-18 trained here (Docker)",
                _fashion_mnist(arch="resnet18")),
    DatasetSpec("fashion-mnist-resnet50", "60,000 x 2048, 1,000 queries", "Fashion-MNIST + ResNet-50 (long CPU run)",
                _fashion_mnist(arch="resnet50")),
    DatasetSpec("fashion-mnist-xs", "2,000 x 512, 200 queries", "Fashion-MNIST + ResNet-18, one epoch on 2,000",
                _fashion_mnist(limit=2000, n_queries=200, arch="resnet18", max_epochs=1)),
    DatasetSpec("fashion-mnist-784", "60,000 x 784, 1,000 queries", "Fashion-MNIST pixels (Debian)", _fashion_mnist()),
    DatasetSpec("fashion-mnist-784-xs", "2,000 x 784, 200 queries", "Fashion-MNIST pixels (Debian)",
                _fashion_mnist(limit=2000, n_queries=200)),
    DatasetSpec("fashion-products", "38,596 x 384, 1,000 queries", "Kaggle styles.csv + MiniLM",
                _text("fashion_products")),
    DatasetSpec("fashion-products-xs", "1,800 x 384, 200 queries", "Kaggle styles.csv + MiniLM",
                _text("fashion_products", limit=2000, n_queries=200)),
    DatasetSpec("arxiv", "199,000 x 384, 1,000 queries", "arXiv titles + MiniLM", _text("arxiv")),
    DatasetSpec("arxiv-xs", "1,800 x 384, 200 queries", "arXiv titles + MiniLM", _text("arxiv", limit=2000, n_queries=200)),
    DatasetSpec("yfcc", "1,000,000 x 192 (uint8), 10,000 queries", "big-ann YFCC-10M (--source)", _yfcc(1_000_000)),
    DatasetSpec("yfcc-10M", "10,000,000 x 192 (uint8), 10,000 queries", "big-ann YFCC-10M (--source)", _yfcc(None)),
]}


def other_datasets():
    """Datasets in data/ that the registry does not build (imported ones, NAME@P% subsets):
    [(name, size, source)], read from their files' headers."""
    import glob

    import h5py
    found = []
    for path in sorted(glob.glob(os.path.join(data_dir(), "*.hdf5"))):
        name = os.path.splitext(os.path.basename(path))[0]
        if name in DATASETS:
            continue
        try:
            with h5py.File(path, "r") as f:
                n, d = f["train"].shape
                size = f"{n:,} x {d}, {len(f['test']):,} queries"
                source = f.attrs.get("source", "")
                source = source.decode() if isinstance(source, bytes) else str(source)
        except (OSError, KeyError, ValueError):
            size, source = "unreadable", ""
        found.append((name, size, source))
    return found


def data_dir():
    return os.environ.get("FILTERBENCH_DATA", os.path.join(ROOT, "data"))


def raw_dir():
    """Raw inputs that cannot be downloaded here: $FILTERBENCH_RAW, else ../shared/data beside the repo."""
    return os.environ.get("FILTERBENCH_RAW", os.path.join(os.path.dirname(ROOT), "shared", "data"))


def dataset_path(name):
    """Path of a dataset by registry name, or the name itself when it is a path to an HDF5 file."""
    if name.endswith((".hdf5", ".h5")) or os.sep in name:
        return name
    return os.path.join(data_dir(), f"{name}.hdf5")


def is_known(name):
    """A registry name, or a base-size subset of one (NAME@P% or NAME@nSIZE, datasets.subsets)."""
    from datasets.subsets import parse
    return name in DATASETS or (parse(name) is not None and is_known(parse(name)[0]))


def build_dataset(name, log=print, raw=None):
    """Builds a dataset into data/NAME.hdf5; raw: the raw-data directory (default raw_dir())."""
    from datasets import subsets
    if not is_known(name):
        raise KeyError(f"unknown dataset '{name}' (known: {', '.join(DATASETS)}, and NAME@P% for a P% base subset)")
    start = time.time()
    if subsets.parse(name):
        parent, percent, size = subsets.parse(name)
        log(f"building dataset {name} ({f'{percent}%' if percent else f'{size:,} vectors'} of {parent}'s base)")
        attrs, arrays = subsets.build(ensure_dataset(parent, log=log, raw=raw), percent, log=log, size=size)
    else:
        log(f"building dataset {name} ({DATASETS[name].size})")
        attrs, arrays = DATASETS[name].build(raw or raw_dir(), log)
    attrs.update(name=name, builder_version=BUILDER_VERSION)
    path = dataset_path(name)
    write_dataset(path, attrs, arrays)
    log(f"wrote {path} in {time.time() - start:.1f} s")
    return path


def ensure_dataset(name, log=print, raw=None):
    """The path of a dataset, built first when it is a known one that is not there yet."""
    path = dataset_path(name)
    if not os.path.exists(path) and is_known(name):
        build_dataset(name, log=log, raw=raw)
    return path
