"""fashion-products and arxiv, built small from the real raw files: labels, fixed-length labels,
embeddings and ground truth."""
import os

import numpy as np
import pytest

from harness.dataset import Dataset
from harness.groundtruth import exact_distances

RAW = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "shared", "data")


@pytest.fixture(scope="module", params=["fashion-products-xs", "arxiv-xs"])
def built(request, data_dir):
    from datasets import build_dataset
    if not os.path.exists(RAW):
        pytest.skip(f"no raw data at {RAW}")
    return Dataset(build_dataset(request.param, log=lambda m: None, raw=RAW))


def test_labels_are_real_attributes(built):
    vocab = built.labels.vocabulary
    if built.name.startswith("fashion"):
        assert all("=" in v and not v.endswith("=") for v in vocab)  # an empty cell is no value
        fixed = built.attributes["fixed"]
        assert (fixed.sizes() == 4).all()
        assert {v.split("=")[0] for v in fixed.vocabulary} == {"gender", "masterCategory", "season", "usage"}
    else:
        assert any(v.startswith("cs.") for v in vocab) and any(v.startswith("year=") for v in vocab)
        assert all(any(vocab[x].startswith("year=") for x in row) for row in built.labels.rows()[:50])


def test_embeddings_and_ground_truth(built):
    assert built.d == 384 and built.distance == "angular"
    assert np.allclose(np.linalg.norm(built.train, axis=1), 1, atol=1e-4)
    for name, sc in built.scenarios.items():
        assert (sc.valid_count >= 10).all()
        for i in range(0, built.nq, 40):
            ids = np.flatnonzero(sc.predicate.passes(np.arange(built.n), sc.operands[i]))
            d = exact_distances("angular", built.test[i], built.train[ids])
            want = ids[np.lexsort((ids, d))][:100]
            assert np.array_equal(sc.neighbors[i][:len(want)], want), (name, i)


def test_builds_are_deterministic(built):
    from datasets import build_dataset
    again = Dataset(build_dataset(built.name, log=lambda m: None, raw=RAW))
    assert again.content_hash == built.content_hash
