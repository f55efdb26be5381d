"""fashion-mnist-784: the 70,000 Fashion-MNIST images as raw pixels (784-d, scaled to [0, 1]).

From Debian's package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/, idx format).
The 60,000 training images are the base and 1,000 of the 10,000 test images (seeded) the
queries, so queries are held out. The class (10) is each image's one label: containment,
overlap and equality all filter by class, and unfiltered runs get the fashion study's label
metrics. Fixed-length labels are generated (F=4 × V=3).

The ResNet-embedded `fashion-mnist` of the study (training from scratch) is not built yet.
"""
import gzip
import os

import numpy as np

from datasets.workloads import build_arrays, fixed_length_labels
from harness.dataset import Csr

DIRECTORY = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


class MissingSource(Exception):
    pass


def read_idx(path):
    """An idx file (the MNIST format): magic (0, 0, dtype 0x08, ndim), big-endian sizes, uint8 data."""
    if not os.path.exists(path):
        raise MissingSource(f"{path} missing: apt-get install dataset-fashion-mnist")
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise MissingSource(f"{path}: not an unsigned-byte idx file")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def build(directory=DIRECTORY, n_queries=1000, limit=None, seed=0, log=print):
    rng = np.random.default_rng(seed)
    train = read_idx(os.path.join(directory, "train-images-idx3-ubyte.gz")).reshape(60000, -1)
    train_y = read_idx(os.path.join(directory, "train-labels-idx1-ubyte.gz"))
    test = read_idx(os.path.join(directory, "t10k-images-idx3-ubyte.gz")).reshape(10000, -1)
    test_y = read_idx(os.path.join(directory, "t10k-labels-idx1-ubyte.gz"))
    base = np.sort(rng.permutation(len(train))[:limit]) if limit else np.arange(len(train))
    queries = np.sort(rng.choice(len(test), n_queries, replace=False))
    X, Q = train[base].astype(np.float32) / 255, test[queries].astype(np.float32) / 255
    labels = Csr.from_rows([[c] for c in train_y[base]], CLASSES)
    query_labels = Csr.from_rows([[c] for c in test_y[queries]], CLASSES)
    fixed = fixed_length_labels(len(X) + len(Q), rng)
    take = lambda csr, ids: Csr.from_rows([csr.row(i) for i in ids], csr.vocabulary)
    arrays, stats = build_arrays(X, Q, "euclidean", labels, query_labels, take(fixed, range(len(X))),
                                 take(fixed, range(len(X), len(X) + len(Q))), rng, log=log)
    attrs = {"distance": "euclidean", "dimension": 784, "point_type": "float", "seed": seed,
             "source": "Fashion-MNIST (Zalando Research), Debian package dataset-fashion-mnist: raw pixels / 255",
             "license": "MIT (Fashion-MNIST)", **stats}
    return attrs, arrays
