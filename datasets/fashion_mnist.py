"""The 70,000 Fashion-MNIST images, as the fashion study embeds them and as raw pixels.

fashion-mnist: a torchvision ResNet trained with the study's recipe (datasets/resnet.py, run in
the trainer image, install/trainer.Dockerfile); the vectors are the embeddings of the layer before
the classifier. From scratch, as no pretrained weights can be downloaded here, unless
$FILTERBENCH_RESNET_WEIGHTS names a state_dict to start from; the dataset records which.
fashion-mnist-784: raw pixels / 255, no training.

From Debian's package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/, idx format).
The 60,000 training images are the base and 1,000 of the 10,000 test images (seeded) the
queries, so queries are held out. The class (10) is each image's one label: containment,
overlap and equality all filter by class, and unfiltered runs get the fashion study's label
metrics. Fixed-length labels are generated (F=4 × V=3).
"""
import gzip
import hashlib
import json
import os
import shutil

import numpy as np

from datasets.workloads import LABEL_SCENARIOS, SYNTHETIC_FIXED, build_arrays, fixed_length_labels, label_attributes
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


def _images(directory):
    train = read_idx(os.path.join(directory, "train-images-idx3-ubyte.gz")).reshape(60000, -1)
    train_y = read_idx(os.path.join(directory, "train-labels-idx1-ubyte.gz"))
    test = read_idx(os.path.join(directory, "t10k-images-idx3-ubyte.gz")).reshape(10000, -1)
    test_y = read_idx(os.path.join(directory, "t10k-labels-idx1-ubyte.gz"))
    return train, train_y, test, test_y


def _assemble(train, train_y, test, test_y, n_queries, limit, seed, log):
    """(X, Q, labels, ...) -> build_arrays: the base is the training images (a seeded `limit` of
    them), the queries `n_queries` seeded test images."""
    rng = np.random.default_rng(seed)
    base = np.sort(rng.permutation(len(train))[:limit]) if limit else np.arange(len(train))
    queries = np.sort(rng.choice(len(test), n_queries, replace=False))
    X, Q = train[base], test[queries]
    classes = Csr.from_rows([[c] for c in np.concatenate([train_y[base], test_y[queries]])], CLASSES)
    fixed = fixed_length_labels(len(X) + len(Q), rng)
    attributes, query_attributes = label_attributes(classes, fixed, np.arange(len(X)), np.arange(len(X), len(X) + len(Q)))
    arrays, stats = build_arrays(X, Q, "euclidean", attributes, query_attributes, LABEL_SCENARIOS, rng, log=log)
    return arrays, stats, base


def build(directory=DIRECTORY, n_queries=1000, limit=None, seed=0, log=print):
    """fashion-mnist-784: raw pixels."""
    train, train_y, test, test_y = _images(directory)
    arrays, stats, _ = _assemble(train.astype(np.float32) / 255, train_y, test.astype(np.float32) / 255, test_y,
                                 n_queries, limit, seed, log)
    attrs = {"distance": "euclidean", "dimension": 784, "point_type": "float", "seed": seed,
             "source": "Fashion-MNIST (Zalando Research), Debian package dataset-fashion-mnist: raw pixels / 255",
             "license": "MIT (Fashion-MNIST)", **stats, **SYNTHETIC_FIXED}
    return attrs, arrays


def label_precision_at(X, y, Q, qy, k=5, chunk=1000):
    """The study's label precision@k: the share of each query's k exact nearest neighbours that
    have the query's class, averaged over the queries."""
    X = X.astype(np.float64)
    sq = (X ** 2).sum(1)
    hits = 0
    for i in range(0, len(Q), chunk):
        d = sq[None, :] - 2 * Q[i:i + chunk].astype(np.float64) @ X.T
        nearest = np.argpartition(d, k, axis=1)[:, :k]
        hits += (y[nearest] == qy[i:i + chunk, None]).sum()
    return float(hits / (len(Q) * k))


def train_resnet(directory, out, arch, limit, max_epochs, max_batches, weights, seed, log):
    """Runs datasets/resnet.py in the trainer image; its output lands in `out`."""
    try:
        import docker
        client = docker.from_env(timeout=600)
        client.ping()
    except Exception as e:
        raise MissingSource(f"fashion-mnist trains a ResNet in Docker, and no Docker engine is reachable "
                            f"({str(e).splitlines()[0][:100]}): start dockerd, or use fashion-mnist-784 "
                            f"(raw pixels)") from None
    from install import InstallError, build_trainer
    try:
        status, image = build_trainer(client, log=log)
    except InstallError as e:
        raise MissingSource(f"cannot build the trainer image: {e}") from None
    log(f"trainer image {status}; training {arch} (progress per epoch below)")
    here = os.path.dirname(os.path.abspath(__file__))
    volumes = {os.path.abspath(directory): {"bind": "/data", "mode": "ro"},
               os.path.join(here, "resnet.py"): {"bind": "/app/resnet.py", "mode": "ro"},
               os.path.abspath(out): {"bind": "/out", "mode": "rw"}}
    command = ["python3", "/app/resnet.py", "--source", "/data", "--out", "/out", "--arch", arch,
               "--max-epochs", str(max_epochs), "--seed", str(seed), "--threads", str(os.cpu_count())]
    command += ["--limit", str(limit)] if limit else []
    command += ["--max-batches", str(max_batches)] if max_batches else []
    if weights:
        volumes[os.path.abspath(weights)] = {"bind": "/weights.pt", "mode": "ro"}
        command += ["--weights", "/weights.pt"]
    container = client.containers.run(image.id, command, detach=True, network_mode="none",
                                      user=f"{os.getuid()}:{os.getgid()}", volumes=volumes,
                                      environment={"PYTHONUNBUFFERED": "1", "HOME": "/tmp"})
    try:
        lines = []
        for line in container.logs(stream=True, follow=True):
            lines.append(line.decode(errors="replace").rstrip())
            log(f"  {lines[-1]}")
        code = container.wait()["StatusCode"]
        if code != 0:
            raise MissingSource(f"ResNet training failed (exit code {code}): "
                                f"{next((x for x in reversed(lines) if x.strip()), 'no output')}")
    finally:
        container.remove(force=True)


def build_resnet(directory=DIRECTORY, arch="resnet18", n_queries=1000, limit=None, max_epochs=30, max_batches=None,
                 seed=0, cache_dir="data/cache", log=print):
    """fashion-mnist: ResNet embeddings. Training is cached under cache_dir by everything it depends on."""
    weights = os.environ.get("FILTERBENCH_RESNET_WEIGHTS")
    if weights and not os.path.exists(weights):
        raise MissingSource(f"FILTERBENCH_RESNET_WEIGHTS={weights}: no such file")
    _, train_y, _, test_y = _images(directory)  # a missing source fails here, before any training
    here = os.path.dirname(os.path.abspath(__file__))
    key = hashlib.sha256(json.dumps([arch, limit, max_epochs, max_batches, seed, os.cpu_count()]).encode())
    for path in [os.path.join(here, "resnet.py"), os.path.join(os.path.dirname(here), "install", "trainer.Dockerfile")] \
            + ([weights] if weights else []):
        with open(path, "rb") as f:
            key.update(f.read())
    out = os.path.join(cache_dir, f"fashion-mnist-{arch}-{key.hexdigest()[:16]}")
    if os.path.exists(os.path.join(out, "report.json")):
        log(f"using the trained {arch} in {out}")
    else:
        partial = out + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        os.makedirs(partial)
        train_resnet(directory, partial, arch, limit, max_epochs, max_batches, weights, seed, log)
        os.replace(partial, out)
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    if weights:  # the report names the path inside the container
        report["weights"] = f"{os.path.basename(weights)} (supplied by the user)"
    train, test = np.load(os.path.join(out, "train.npy")), np.load(os.path.join(out, "test.npy"))
    arrays, stats, base = _assemble(train, train_y, test, test_y, n_queries, limit, seed, log)
    # Measured over all 10,000 test images against the base, with exact search.
    precision = label_precision_at(train[base], train_y[base], test, test_y, k=5)
    log(f"label precision@5 (exact search, 10,000 test images): {precision:.4f}; "
        f"test accuracy {report['test']['accuracy']:.4f} after {len(report['epochs'])} epochs")
    attrs = {"distance": "euclidean", "dimension": int(train.shape[1]), "point_type": "float", "seed": seed,
             "source": f"Fashion-MNIST (Zalando Research), Debian package dataset-fashion-mnist, embedded by a "
                       f"torchvision {arch} trained with the fashion study's recipe; weights: {report['weights']}",
             "license": "MIT (Fashion-MNIST)", "embedding_model": arch, "weights": report["weights"],
             "label_precision_at_5": precision, "training_report": json.dumps(report), **stats,
             **SYNTHETIC_FIXED}
    return attrs, arrays
