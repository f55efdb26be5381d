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
    build: Callable  # (log) -> (attrs, arrays)


def _synthetic(n, nq, d, seed):
    from datasets import synthetic
    return lambda log: synthetic.build(n, nq, d, seed, log=log)


DATASETS = {spec.name: spec for spec in [
    DatasetSpec("random-filter-s", "100,000 x 50, 1,000 queries", "synthetic", _synthetic(100_000, 1_000, 50, 0)),
    DatasetSpec("random-filter-xs", "10,000 x 32, 200 queries", "synthetic", _synthetic(10_000, 200, 32, 1)),
    DatasetSpec("random-filter-xxs", "2,000 x 16, 100 queries", "synthetic", _synthetic(2_000, 100, 16, 2)),
]}


def data_dir():
    return os.environ.get("FILTERBENCH_DATA", os.path.join(ROOT, "data"))


def dataset_path(name):
    """Path of a dataset by registry name, or the name itself when it is a path to an HDF5 file."""
    if name.endswith((".hdf5", ".h5")) or os.sep in name:
        return name
    return os.path.join(data_dir(), f"{name}.hdf5")


def build_dataset(name, log=print):
    if name not in DATASETS:
        raise KeyError(f"unknown dataset '{name}' (known: {', '.join(DATASETS)})")
    start = time.time()
    log(f"building dataset {name} ({DATASETS[name].size})")
    attrs, arrays = DATASETS[name].build(log)
    attrs.update(name=name, builder_version=BUILDER_VERSION)
    path = dataset_path(name)
    write_dataset(path, attrs, arrays)
    log(f"wrote {path} in {time.time() - start:.1f} s")
    return path


def ensure_dataset(name, log=print):
    """The path of a dataset, built first when it is a known one that is not there yet."""
    path = dataset_path(name)
    if not os.path.exists(path) and name in DATASETS:
        build_dataset(name, log=log)
    return path
