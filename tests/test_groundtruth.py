"""Filtered ground truth equals a naive exact search over the valid subset."""
import numpy as np
import pytest

from harness.attributes import LabelAttribute
from harness.groundtruth import exact_distances, knn
from harness.predicates import make


def naive(train, test, distance, K, masks):
    nb = np.full((len(test), K), -1)
    for i, q in enumerate(test):
        ids = np.flatnonzero(masks[i]) if masks is not None else np.arange(len(train))
        d = exact_distances(distance, q, train[ids])
        order = np.lexsort((ids, d))[:K]
        nb[i, :len(order)] = ids[order]
    return nb


@pytest.mark.parametrize("distance", ["euclidean", "angular", "ip"])
def test_filtered_knn_matches_naive_search(distance):
    rng = np.random.default_rng(3)
    train = rng.normal(size=(3000, 12)).astype(np.float32)
    test = rng.normal(size=(40, 12)).astype(np.float32)
    labels = [rng.choice(8, rng.integers(1, 4), replace=False) for _ in range(3000)]
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in labels])])
    attribute = LabelAttribute("labels", indptr, np.concatenate(labels), [str(i) for i in range(8)])
    queries = [np.array([q % 8]) for q in range(40)]
    maps = make({"kind": "containment", "attribute": "labels"}, {"labels": attribute}).filter_maps(queries)
    masks = np.unpackbits(maps, axis=1, count=3000, bitorder="little").astype(bool)
    nb, dist, count = knn(train, test, distance, 20, filter_maps=lambda a, b: maps[a:b], query_block=16, base_block=1000)
    assert np.array_equal(nb, naive(train, test, distance, 20, masks))
    assert np.array_equal(count, masks.sum(1))
    nb_all, _, _ = knn(train, test, distance, 20)
    assert np.array_equal(nb_all, naive(train, test, distance, 20, None))


def test_fewer_valid_than_k_pads_with_minus_one_and_inf():
    rng = np.random.default_rng(4)
    train = rng.normal(size=(100, 4)).astype(np.float32)
    valid = np.zeros(100, dtype=bool)
    valid[[5, 50, 70]] = True
    maps = np.packbits(valid, bitorder="little")[None]
    nb, dist, count = knn(train, train[:1] + 0.5, "euclidean", 10, filter_maps=lambda a, b: maps)
    assert count[0] == 3
    assert sorted(nb[0, :3]) == [5, 50, 70] and (nb[0, 3:] == -1).all()
    assert np.isinf(dist[0, 3:]).all() and np.isfinite(dist[0, :3]).all()


def test_ties_are_broken_by_id_and_distances_are_exact():
    train = np.array([[1, 0], [0, 1], [-1, 0], [0, -1], [3, 3]], dtype=np.float32)  # 4 at distance 1
    nb, dist, _ = knn(train, np.zeros((1, 2), np.float32), "euclidean", 3)
    assert list(nb[0]) == [0, 1, 2]
    assert np.allclose(dist[0], 1.0, atol=0)


def test_every_route_is_exact_sparse_dense_and_far_away_valid_sets():
    # Per query: 1% valid (gathered), 30% valid, and the farthest 10% valid (masked scans).
    rng = np.random.default_rng(7)
    train = rng.normal(size=(4000, 8)).astype(np.float32)
    test = rng.normal(size=(30, 8)).astype(np.float32)
    masks = np.zeros((30, 4000), dtype=bool)
    for i in range(30):
        if i % 3 == 0:
            masks[i, rng.choice(4000, 40, replace=False)] = True
        elif i % 3 == 1:
            masks[i] = rng.random(4000) < 0.3
        else:
            d = exact_distances("euclidean", test[i], train)
            masks[i, np.argsort(d)[-400:]] = True
    maps = np.packbits(masks, axis=1, bitorder="little")
    for distance in ("euclidean", "ip"):
        nb, _, count = knn(train, test, distance, 20, filter_maps=lambda a, b: maps[a:b], query_block=7)
        assert np.array_equal(nb, naive(train, test, distance, 20, masks)), distance
        assert np.array_equal(count, masks.sum(1))
