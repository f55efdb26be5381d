"""Recall and integrity counts are computed by the harness from the returned ids."""
import numpy as np
import pytest

from harness.dataset import Dataset, write_dataset
from harness.metrics import Evaluator, label_metrics

# Base on a line: point i at x = i. Query at x = -0.5 → distances 0.5, 1.5, 2.5, ...
# Labels: even ids carry label 0, odd ids label 1, id 4 and id 5 carry both.
N = 10


def make(tmp_path, extra=None):
    train = np.array([[i, 0.0] for i in range(N)], dtype=np.float32)
    test = np.array([[-0.5, 0.0]], dtype=np.float32)
    rows = [[i % 2] if i not in (4, 5) else [0, 1] for i in range(N)]
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    arrays = {
        "train": train, "test": test,
        "neighbors": np.arange(N, dtype=np.int32)[None], "distances": np.arange(N, dtype=np.float32)[None] + 0.5,
        "labels/indptr": indptr, "labels/indices": np.concatenate(rows),
        "test_labels/indptr": np.array([0, 1]), "test_labels/indices": np.array([0]),
        # containment of {1}: valid = 1, 3, 4, 5, 7, 9
        "scenarios/containment/query_labels/indptr": np.array([0, 1]),
        "scenarios/containment/query_labels/indices": np.array([1]),
        "scenarios/containment/neighbors": np.array([[1, 3, 4, 5, 7, 9, -1, -1, -1, -1]], dtype=np.int32),
        "scenarios/containment/distances": np.array([[1.5, 3.5, 4.5, 5.5, 7.5, 9.5] + [np.inf] * 4], dtype=np.float32),
        "scenarios/containment/selectivity": np.array([0.6], dtype=np.float32),
        "scenarios/containment/valid_count": np.array([6]),
    }
    arrays.update(extra or {})
    path = tmp_path / "line.hdf5"
    write_dataset(str(path), {"name": "line", "distance": "euclidean"}, arrays)
    return Evaluator(Dataset(path))


def test_exact_answer_has_recall_one(tmp_path):
    ev = make(tmp_path)
    m, _ = ev.evaluate(np.array([[1, 3, 4]]), "containment", 3)
    assert m["recall"] == 1.0 and m["violations"] == 0


def test_filter_violations_are_counted_and_never_hits(tmp_path):
    ev = make(tmp_path)
    m, _ = ev.evaluate(np.array([[0, 1, 2]]), "containment", 3)  # 0 and 2 lack label 1
    assert m["violations"] == 2 and m["queries_with_violations"] == 1
    assert m["recall"] == pytest.approx(1 / 3)


def test_duplicates_count_once(tmp_path):
    ev = make(tmp_path)
    m, _ = ev.evaluate(np.array([[1, 1, 3]]), "containment", 3)
    assert m["duplicates"] == 1 and m["recall"] == pytest.approx(2 / 3)


def test_padding_and_out_of_range_ids(tmp_path):
    ev = make(tmp_path)
    m, _ = ev.evaluate(np.array([[1, -1, 99]]), "containment", 3)
    assert m["padding"] == 1 and m["out_of_range"] == 1
    assert m["fewer_than_k"] == 1 and m["recall"] == pytest.approx(1 / 3)


def test_fewer_valid_than_k_divides_by_the_number_valid(tmp_path):
    ev = make(tmp_path)
    m, _ = ev.evaluate(np.array([[1, 3, 4, 5, 7, 9, -1, -1, -1, -1]]), "containment", 10)
    assert m["recall"] == 1.0 and m["fewer_than_k"] == 0


def test_ties_at_the_kth_distance_are_hits(tmp_path):
    # Move id 8 to x = -2: distance 1.5 from the query, the same as the true 2nd neighbour (id 1).
    ev = make(tmp_path)
    ev.ds.train[8] = [-2.0, 0.0]
    ev._thresholds.clear()
    m, _ = ev.evaluate(np.array([[0, 8]]), "unfiltered", 2)
    assert m["recall"] == 1.0  # 8 is not the stored 2nd neighbour (id 1) but just as near


def test_unfiltered_recall_and_label_metrics(tmp_path):
    ev = make(tmp_path)
    m, _ = ev.evaluate(np.array([[0, 1, 2]]), "unfiltered", 3)
    assert m["recall"] == 1.0
    assert "label_precision" not in m  # ids 4 and 5 have two labels: not a single-label dataset


def test_label_metrics_by_hand():
    base = np.array([0, 0, 1, 1, 2])
    neighbours = [np.array([0, 1, 2]), np.array([2, 0, 3]), np.array([4, 0, 2])]
    m = label_metrics(neighbours, base, np.array([0, 1, 2]), 3)
    # precision@3: 2/3, 2/3, 1/3. Votes: q0 -> 0; q1 -> 1 (two 1s); q2 -> tie of 2, 0, 1: nearest = 2.
    assert m["label_precision"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 3) / 3)
    assert m["knn_precision"] == 1.0 and m["knn_recall"] == 1.0 and m["knn_f1"] == 1.0
