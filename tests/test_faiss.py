"""The faiss plugins take the base as stored (FaissIndex.stored_vectors) and convert it to float32
a piece at a time, so that a 10M x 192 uint8 base is never held as float32 twice; nor is the
index held twice to measure its size."""
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


def test_a_base_added_in_pieces_is_the_index_faiss_builds_in_one_add(monkeypatch):
    # The plugin assigns the vectors to their lists first, reserves each list, then adds the
    # pieces with those assignments (FaissIVF.add): the same index as faiss's own add of the whole.
    X, Q = byte_base(), byte_base(50, seed=1).astype(np.float32)
    plain = faiss.index_factory(X.shape[1], "IVF16,Flat")
    plain.train(X.astype(np.float32))
    plain.add(X.astype(np.float32))
    monkeypatch.setattr(faiss_plugin, "ADD_ROWS", 700)  # 5 pieces, the last one short
    pieces = FaissIVF("euclidean", nlist=16)
    pieces.fit(X, None)
    assert pieces.index.ntotal == len(X)
    assert np.array_equal(faiss.serialize_index(plain), faiss.serialize_index(pieces.index))
    pieces.set_query_arguments(nprobe=4)
    _, expected = plain.search(Q, 10, params=faiss.SearchParametersIVF(nprobe=4))
    assert np.array_equal(search(pieces, Q), expected)


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


def test_the_index_size_is_the_serialized_size_counted_without_a_copy():
    # index_size counts the bytes as faiss writes them out (FaissIndex.index_size): the same figure
    # as the serialized index, whose whole copy beside a 10M index ran the worker out of memory.
    algo = FaissIVF("euclidean", nlist=16)
    algo.fit(byte_base(), None)
    assert algo.index_size() == faiss.serialize_index(algo.index).nbytes
