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


def test_uint8_base_is_searched_as_stored_and_without_keeping_float_rows(monkeypatch):
    # yfcc-10M's base is 1.9 GB of uint8; as float32 it would be 7.7 GB, twice over with the scan's copy.
    import harness.groundtruth as groundtruth
    rng = np.random.default_rng(8)
    train = rng.integers(0, 256, size=(2000, 16), dtype=np.uint8)
    test = rng.integers(0, 256, size=(25, 16), dtype=np.uint8)
    masks = rng.random((25, 2000)) < np.where(np.arange(25) % 2, 0.01, 0.5)[:, None]
    maps = np.packbits(masks, axis=1, bitorder="little")
    expected = naive(train.astype(np.float64), test.astype(np.float64), "euclidean", 10, masks)
    for keep_bytes in (groundtruth._KEEP_BYTES, 0):  # rows converted once, or once per block of queries
        monkeypatch.setattr(groundtruth, "_KEEP_BYTES", keep_bytes)
        nb, _, _ = knn(train, test, "euclidean", 10, filter_maps=lambda a, b: maps[a:b], query_block=8, base_block=512)
        assert np.array_equal(nb, expected)


def test_an_interrupted_ground_truth_resumes_after_its_last_saved_block(tmp_path):
    rng = np.random.default_rng(9)
    train = rng.normal(size=(1000, 8)).astype(np.float32)
    test = rng.normal(size=(30, 8)).astype(np.float32)
    maps = np.packbits(rng.random((30, 1000)) < 0.3, axis=1, bitorder="little")
    whole = knn(train, test, "euclidean", 10, filter_maps=lambda a, b: maps[a:b], query_block=10)
    asked = []

    def interrupted_after_two_blocks(a, b):
        if len(asked) == 2:
            raise KeyboardInterrupt
        asked.append(a)
        return maps[a:b]
    with pytest.raises(KeyboardInterrupt):
        knn(train, test, "euclidean", 10, filter_maps=interrupted_after_two_blocks, query_block=10, checkpoint=tmp_path)
    asked.clear()
    done = []
    resumed = knn(train, test, "euclidean", 10, filter_maps=lambda a, b: asked.append(a) or maps[a:b], query_block=10,
                  checkpoint=tmp_path, progress=lambda count, resumed: done.append((count, resumed)))
    assert asked == [20], "only the block that was not saved is computed again"
    assert done == [(10, True), (10, True), (10, False)], "saved blocks count as progress, said to be read back"
    for ours, theirs in zip(resumed, whole):
        assert np.array_equal(ours, theirs)


def test_a_dataset_build_stopped_in_its_ground_truth_resumes_and_leaves_nothing_behind(tmp_path, monkeypatch):
    from datasets.workloads import LABEL_SCENARIOS, build_arrays
    monkeypatch.setenv("FILTERBENCH_DATA", str(tmp_path))
    rng = np.random.default_rng(10)
    train = rng.integers(0, 256, size=(600, 8), dtype=np.uint8)
    test = rng.integers(0, 256, size=(20, 8), dtype=np.uint8)

    def labels(n):
        rows = [rng.choice(6, rng.integers(1, 4), replace=False) for _ in range(n)]
        indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
        return {"labels": LabelAttribute("labels", indptr, np.concatenate(rows), [str(i) for i in range(6)])}
    base, queries = labels(600), labels(20)
    scenarios = {"containment": LABEL_SCENARIOS["containment"]}

    def build(log):
        return build_arrays(train, test, "euclidean", base, queries, scenarios, np.random.default_rng(0), log=log)

    def stopped_at_containment(line):
        if "ground truth: containment" in line:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        build(stopped_at_containment)
    saved = tmp_path / "cache" / "ground-truth"
    assert list(saved.glob("*/unfiltered-*/*.npz")), "the finished unfiltered ground truth was kept"
    resumed, _ = build(lambda line: None)
    assert not list(saved.iterdir()), "a finished build leaves no saved blocks"
    fresh, _ = build(lambda line: None)
    assert resumed.keys() == fresh.keys()
    for key in fresh:
        assert np.array_equal(np.asarray(resumed[key]), np.asarray(fresh[key])), key
