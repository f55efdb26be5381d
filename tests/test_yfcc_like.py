"""The YFCC-shaped generator (datasets/yfcc_like.py) through the real yfcc loader, and the IVF²
plugin (algorithms/ivf2) on what it draws: exact where it scans, within its candidates otherwise."""
import numpy as np
import pytest

from algorithms.ivf2.module import Ivf2
from datasets import build_dataset, yfcc_like
from harness.attributes import LabelAttribute
from harness.dataset import Dataset
from harness.predicates import Filter, make


@pytest.fixture(scope="module")
def generated(tmp_path_factory, data_dir, monkeypatch_module):
    raw = tmp_path_factory.mktemp("raw")
    yfcc_like.generate(str(raw / "yfcc"), 20_000, n_queries=400, seed=3, command="test", log=lambda m: None)
    monkeypatch_module.setenv("FILTERBENCH_RAW", str(raw))
    return Dataset(build_dataset("yfcc", log=lambda m: None))


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_the_generated_files_load_as_yfcc_and_say_they_are_synthetic(generated):
    ds = generated
    assert (ds.n, ds.d, ds.nq) == (20_000, 192, 400)
    assert ds.attrs["point_type"] == "uint8" and ds.distance == "euclidean"
    assert ds.train.dtype == np.uint8, "held as stored: 1.9 GB at 10M rather than 7.7 GB as float32"
    assert str(ds.attrs["source"]).startswith("SYNTHETIC, not YFCC") and "Zipf" in str(ds.attrs["source"])
    assert "labels" in str(ds.attrs["synthetic_attributes"])
    labels = ds.attributes["labels"]
    assert 10.0 <= len(labels.indices) / ds.n <= 11.5  # the track's ~10.8 tags a vector
    assert len(labels.vocabulary) == 200_386
    queries = ds.scenarios["containment"].operands
    assert {len(q) for q in queries} == {1, 2}
    selectivity = ds.scenarios["containment"].selectivity
    assert selectivity.min() < 1e-3 and selectivity.max() > 0.1  # from a handful of vectors to tens of percent


def test_tags_follow_the_vector_clusters():
    """Vectors of one cluster share tags far more often than vectors of different clusters."""
    rng = np.random.default_rng(0)
    law = yfcc_like._Law(rng)
    clusters = np.repeat([0, 1], 500)
    tags = law.tags(rng, clusters)
    share = lambda a, b: len(np.intersect1d(tags.row(a), tags.row(b))) > 0
    same = np.mean([share(i, i + 1) for i in range(0, 498, 2)])
    across = np.mean([share(i, 500 + i) for i in range(0, 498, 2)])
    assert same > 2 * across, (same, across)


def _ivf2(ds, **query):
    algo = Ivf2("euclidean", nlist=32, frequent=300)
    algo.fit(ds.train, ds.attributes["labels"])
    algo.set_query_arguments(**query)
    return algo


def test_ivf2_is_exact_when_it_visits_every_cluster(generated):
    ds = generated
    algo = _ivf2(ds, nprobe=32)
    assert any(len(key) == 2 for key in algo.ivfs), "frequent pairs get an IVF of their own"
    sc = ds.scenarios["containment"]  # uint8 vectors: float32 scores are exact, ties go by id as in the truth
    for i, tags in enumerate(sc.operands):
        got = algo.filtered_query(ds.test[i], 10, Filter("containment", "labels", tags), None)
        assert np.array_equal(got, sc.neighbors[i][:10]), i
    got = algo.filtered_query(ds.test[0], 10, None, None)
    assert np.array_equal(got, ds.neighbors[0][:10])


def test_ivf2_with_few_clusters_returns_only_passing_ids_and_scans_small_candidate_sets_exactly(generated):
    ds = generated
    algo = _ivf2(ds, nprobe=2)
    sc = ds.scenarios["containment"]
    approximate = 0
    for i, tags in enumerate(sc.operands):
        got = algo.filtered_query(ds.test[i], 10, Filter("containment", "labels", tags), None)
        assert sc.predicate.passes(got, tags).all()
        exact = sc.neighbors[i][:10]
        if sc.valid_count[i] <= algo.scan_below:
            assert np.array_equal(got, exact), i
        else:
            approximate += not np.array_equal(got, exact)
    assert approximate > 0  # 2 of 32 clusters do miss neighbours of frequent tags


def test_ivf2_answers_tags_it_has_never_seen_with_nothing():
    X = np.random.default_rng(0).normal(size=(200, 8)).astype(np.float32)
    labels = LabelAttribute("labels", np.arange(201), np.arange(200) % 5, [str(i) for i in range(7)])
    algo = Ivf2("euclidean", nlist=4, frequent=30)
    algo.fit(X, labels)
    predicate = make({"kind": "containment", "attribute": "labels"}, {"labels": labels})
    assert len(algo.filtered_query(X[0], 10, Filter("containment", "labels", np.array([6])), None)) == 0
    assert len(algo.filtered_query(X[0], 10, Filter("containment", "labels", np.array([1, 2])), None)) == 0
    got = algo.filtered_query(X[0], 10, Filter("containment", "labels", np.array([1])), None)
    assert len(got) == 10 and predicate.passes(got, np.array([1])).all()
