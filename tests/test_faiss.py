"""The faiss plugins take the base as stored (FaissIndex.stored_vectors) and convert it to float32
a piece at a time, so that a 10M x 192 uint8 base is never held as float32 twice."""
import faiss
import numpy as np

from algorithms.faiss import module as faiss_plugin
from algorithms.faiss.module import FaissIVF


def byte_base(n=3000, d=32, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.integers(40, 215, size=(12, d))
    return np.clip(centers[rng.integers(12, size=n)] + rng.normal(0, 12, (n, d)), 0, 255).astype(np.uint8)


def search(algo, Q, k=10):
    algo.set_threads(1)
    return np.array([algo.filtered_query(q, k, None, None) for q in Q])


def test_a_base_added_in_pieces_is_the_index_of_one_add(monkeypatch):
    X, Q = byte_base(), byte_base(50, seed=1).astype(np.float32)
    whole = FaissIVF("euclidean", nlist=16)
    whole.fit(X.astype(np.float32), None)
    monkeypatch.setattr(faiss_plugin, "ADD_ROWS", 700)  # 5 pieces, the last one short
    pieces = FaissIVF("euclidean", nlist=16)
    pieces.fit(X, None)
    assert pieces.index.ntotal == len(X)
    for algo in (whole, pieces):
        algo.set_query_arguments(nprobe=4)
    assert np.array_equal(search(whole, Q), search(pieces, Q))
    assert np.array_equal(faiss.serialize_index(whole.index), faiss.serialize_index(pieces.index))


def test_a_base_larger_than_the_training_sample_still_holds_every_vector(monkeypatch):
    # A base over TRAIN_ROWS trains its centroids on a seeded sample; every vector is still added,
    # so probing every list is exact.
    X, Q = byte_base(), byte_base(50, seed=1).astype(np.float32)
    monkeypatch.setattr(faiss_plugin, "TRAIN_ROWS", 500)
    algo = FaissIVF("euclidean", nlist=16)
    algo.fit(X, None)
    algo.set_query_arguments(nprobe=16)
    F = X.astype(np.float32)
    exact = np.argsort(((F[None, :, :] - Q[:, None, :]) ** 2).sum(2), axis=1, kind="stable")[:, :10]
    found = search(algo, Q)
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact)]) == 1.0
