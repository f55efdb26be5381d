// Python bindings of the native indexes (module filterbench_native). Arrays come in as numpy
// arrays; long work runs with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "acorn.h"
#include "caps.h"
#include "filterbench/parallel.h"
#include "irange.h"
#include "nhq.h"
#include "stitched.h"
#include "ung.h"

namespace py = pybind11;
using namespace filterbench;

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using BitsArray = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;
using ByteArray = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;  // uint8 vectors
using Int32Array = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;
using Int64Array = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

static Metric parse_metric(const std::string& name) {
    if (name == "l2") return Metric::L2;
    if (name == "ip") return Metric::InnerProduct;
    throw std::invalid_argument("metric must be 'l2' or 'ip', not '" + name + "'");
}

// The filter maps of `rows` queries (None: unfiltered), checked against the base size.
static std::vector<FilterMap> filter_maps(const py::object& valid, size_t rows, size_t n) {
    std::vector<FilterMap> maps(rows);
    for (auto& m : maps) m.n = n;
    if (valid.is_none()) return maps;
    BitsArray bits = valid.cast<BitsArray>();
    size_t row_bytes = bits.ndim() == 2 ? size_t(bits.shape(1)) : size_t(bits.size());
    size_t given_rows = bits.ndim() == 2 ? size_t(bits.shape(0)) : 1;
    if (given_rows != rows) throw std::invalid_argument("one filter map per query expected");
    if (row_bytes < (n + 7) / 8)
        throw std::invalid_argument("filter map has " + std::to_string(row_bytes) + " bytes, the base needs " +
                                    std::to_string((n + 7) / 8));
    for (size_t i = 0; i < rows; i++) maps[i].bits = bits.data() + i * row_bytes;
    return maps;
}

static void check_dimension(const py::array& x, size_t d, const char* what) {
    if (x.ndim() < 1 || size_t(x.shape(x.ndim() - 1)) != d)
        throw std::invalid_argument(std::string(what) + " have dimension " +
                                    std::to_string(x.ndim() ? x.shape(x.ndim() - 1) : 0) + ", the index " +
                                    std::to_string(d));
}

static const char* path_name(SearchPath p) { return p == SearchPath::Graph ? "graph" : "exact"; }

// Base labels as the harness's Csr holds them (indptr int64, indices int32).
static LabelRows label_rows(const Int64Array& indptr, const Int32Array& indices) {
    if (indptr.ndim() != 1 || indptr.size() < 1) throw std::invalid_argument("labels: indptr must be a 1-d array");
    LabelRows rows{indptr.data(), indices.data(), size_t(indptr.size() - 1)};
    for (size_t i = 0; i < rows.rows; i++)
        if (rows.indptr[i] > rows.indptr[i + 1] || rows.indptr[i + 1] > indices.size())
            throw std::invalid_argument("labels: indptr is not a valid CSR row index");
    return rows;
}

static LabelSet label_set(const py::object& labels) {
    Int32Array a = labels.cast<Int32Array>();
    LabelSet s(a.data(), a.data() + a.size());
    std::sort(s.begin(), s.end());
    s.erase(std::unique(s.begin(), s.end()), s.end());
    return s;
}

static std::vector<LabelSet> label_sets(const py::object& rows, size_t nq) {
    py::list list = rows.cast<py::list>();
    if (list.size() != nq) throw std::invalid_argument("one label set per query expected");
    std::vector<LabelSet> out;
    for (auto row : list) out.push_back(label_set(py::reinterpret_borrow<py::object>(row)));
    return out;
}

static Predicate parse_predicate(const std::string& name) {
    if (name == "containment") return Predicate::Containment;
    if (name == "overlap") return Predicate::Overlap;
    if (name == "equality") return Predicate::Equality;
    throw std::invalid_argument("label predicates are containment, overlap and equality, not '" + name + "'");
}

// A graph's edges as an array of (from, to) rows.
static py::array_t<int32_t> edge_rows(const std::vector<std::pair<int32_t, int32_t>>& edges) {
    py::array_t<int32_t> out({edges.size(), size_t(2)});
    int32_t* p = out.mutable_data();
    for (size_t i = 0; i < edges.size(); i++) p[2 * i] = edges[i].first, p[2 * i + 1] = edges[i].second;
    return out;
}

// Runs one(i, ids_row, scores_row) for every query across `threads` threads; returns the ids.
template <class One>
static py::array_t<int32_t> batch(size_t nq, size_t k, int threads, One one) {
    py::array_t<int32_t> ids({nq, k});
    int32_t* out = ids.mutable_data();
    py::gil_scoped_release release;
    parallel_for(nq, threads, [&](size_t i) {
        std::vector<float> scores(k);
        one(i, out + i * k, scores.data());
    }, 4);
    return ids;
}

PYBIND11_MODULE(filterbench_native, m) {
    m.doc() = "FilterBench's native filtered-ANN indexes";
    m.attr("source_hash") = FB_SOURCE_HASH;
    m.attr("march") = FB_MARCH;

    m.def("check_acorn_params",
          [](int M, int gamma, int M_beta, int efConstruction) { AcornParams{M, gamma, M_beta, efConstruction}.check(); },
          py::arg("M"), py::arg("gamma"), py::arg("M_beta"), py::arg("efConstruction") = 0,
          "raises ValueError for parameters ACORN refuses");

    py::class_<AcornIndex>(m, "Acorn")
        .def(py::init([](size_t d, const std::string& metric, int M, int gamma, int M_beta, int efConstruction,
                         uint64_t seed) {
                 AcornParams p{M, gamma, M_beta, efConstruction, seed};
                 return std::make_unique<AcornIndex>(d, parse_metric(metric), p);
             }),
             py::arg("d"), py::arg("metric"), py::arg("M"), py::arg("gamma"), py::arg("M_beta"),
             py::arg("efConstruction") = 0, py::arg("seed") = 100)
        .def("build",
             [](AcornIndex& self, py::array X, int threads) {
                 if (X.ndim() != 2) throw std::invalid_argument("build: X must be a 2-d array");
                 check_dimension(X, self.dimension(), "build: vectors");
                 if (py::isinstance<py::array_t<uint8_t>>(X)) {  // a byte base: widened into the index's copy
                     auto bytes = X.cast<ByteArray>();
                     py::gil_scoped_release release;
                     self.build(bytes.data(), size_t(bytes.shape(0)), threads);
                 } else {
                     auto floats = X.cast<FloatArray>();
                     py::gil_scoped_release release;
                     self.build(floats.data(), size_t(floats.shape(0)), threads);
                 }
             },
             py::arg("X"), py::arg("threads") = 1)
        .def("search",
             [](const AcornIndex& self, FloatArray q, size_t k, py::object valid, size_t efSearch,
                double fallback_selectivity) {
                 check_dimension(q, self.dimension(), "search: query");
                 FilterMap filter = filter_maps(valid, 1, self.size())[0];
                 py::array_t<int32_t> ids(k);
                 std::vector<float> scores(k);
                 SearchPath path;
                 {
                     py::gil_scoped_release release;
                     path = self.search(q.data(), k, filter, efSearch, fallback_selectivity, ids.mutable_data(),
                                        scores.data());
                 }
                 return py::make_tuple(ids, path_name(path));
             },
             py::arg("q"), py::arg("k"), py::arg("valid"), py::arg("efSearch"), py::arg("fallback_selectivity"),
             "-> (ids nearest first, padded with -1; 'graph' or 'exact')")
        .def("search_batch",
             [](const AcornIndex& self, FloatArray Q, size_t k, py::object valid_rows, size_t efSearch,
                double fallback_selectivity, int threads) {
                 if (Q.ndim() != 2) throw std::invalid_argument("search_batch: Q must be a 2-d array");
                 check_dimension(Q, self.dimension(), "search_batch: queries");
                 size_t nq = size_t(Q.shape(0)), d = self.dimension();
                 std::vector<FilterMap> filters = filter_maps(valid_rows, nq, self.size());
                 return batch(nq, k, threads, [&](size_t i, int32_t* ids, float* scores) {
                     self.search(Q.data() + i * d, k, filters[i], efSearch, fallback_selectivity, ids, scores);
                 });
             },
             py::arg("Q"), py::arg("k"), py::arg("valid_rows"), py::arg("efSearch"),
             py::arg("fallback_selectivity"), py::arg("threads") = 1)
        .def("calibrate", &AcornIndex::calibrate, py::arg("efSearch"), py::call_guard<py::gil_scoped_release>(),
             "measures the graph's expected work at efSearch, for the per-query choice by cost")
        .def("expected_graph_work", &AcornIndex::expected_graph_work, py::arg("efSearch"), py::arg("selectivity"))
        .def("save", &AcornIndex::save, py::arg("path"), py::call_guard<py::gil_scoped_release>())
        .def_static("load", &AcornIndex::load, py::arg("path"), py::call_guard<py::gil_scoped_release>())
        .def("serialized_size", &AcornIndex::serialized_size)
        .def_property_readonly("n", &AcornIndex::size)
        .def_property_readonly("distance_computations", &AcornIndex::distance_computations)
        .def_property_readonly("filter_checks", &AcornIndex::filter_checks)
        .def_property_readonly("graph_queries", [](const AcornIndex& s) { return s.queries_on(SearchPath::Graph); })
        .def_property_readonly("exact_queries", [](const AcornIndex& s) { return s.queries_on(SearchPath::Exact); });

    m.def("check_ung_params",
          [](int R, int L_build, float alpha, int cross_edges) { UngParams{R, L_build, alpha, cross_edges}.check(); },
          py::arg("R"), py::arg("L_build"), py::arg("alpha"), py::arg("cross_edges"),
          "raises ValueError for parameters UNG refuses");

    py::class_<UngIndex>(m, "Ung")
        .def(py::init([](size_t d, const std::string& metric, int R, int L_build, float alpha, int cross_edges,
                         uint64_t seed) {
                 return std::make_unique<UngIndex>(d, parse_metric(metric), UngParams{R, L_build, alpha, cross_edges, seed});
             }),
             py::arg("d"), py::arg("metric"), py::arg("R") = 32, py::arg("L_build") = 100, py::arg("alpha") = 1.2f,
             py::arg("cross_edges") = 6, py::arg("seed") = 100)
        .def("build",
             [](UngIndex& self, FloatArray X, Int64Array indptr, Int32Array indices, int threads) {
                 if (X.ndim() != 2) throw std::invalid_argument("build: X must be a 2-d array");
                 check_dimension(X, self.dimension(), "build: vectors");
                 LabelRows rows = label_rows(indptr, indices);
                 py::gil_scoped_release release;
                 self.build(X.data(), size_t(X.shape(0)), rows, threads);
             },
             py::arg("X"), py::arg("indptr"), py::arg("indices"), py::arg("threads") = 1)
        .def("search",
             [](const UngIndex& self, FloatArray q, size_t k, py::object labels, const std::string& predicate,
                size_t L_search, size_t entry_points) {
                 check_dimension(q, self.dimension(), "search: query");
                 LabelSet query = label_set(labels);
                 Predicate p = parse_predicate(predicate);
                 py::array_t<int32_t> ids(k);
                 std::vector<float> scores(k);
                 py::gil_scoped_release release;
                 self.search(q.data(), k, query, p, L_search, entry_points, ids.mutable_data(), scores.data());
                 return ids;
             },
             py::arg("q"), py::arg("k"), py::arg("labels"), py::arg("predicate"), py::arg("L_search"),
             py::arg("entry_points") = 1, "-> ids nearest first, padded with -1")
        .def("search_batch",
             [](const UngIndex& self, FloatArray Q, size_t k, py::object label_rows, const std::string& predicate,
                size_t L_search, size_t entry_points, int threads) {
                 if (Q.ndim() != 2) throw std::invalid_argument("search_batch: Q must be a 2-d array");
                 check_dimension(Q, self.dimension(), "search_batch: queries");
                 size_t nq = size_t(Q.shape(0)), d = self.dimension();
                 std::vector<LabelSet> queries = label_sets(label_rows, nq);
                 Predicate p = parse_predicate(predicate);
                 return batch(nq, k, threads, [&](size_t i, int32_t* ids, float* scores) {
                     self.search(Q.data() + i * d, k, queries[i], p, L_search, entry_points, ids, scores);
                 });
             },
             py::arg("Q"), py::arg("k"), py::arg("label_rows"), py::arg("predicate"), py::arg("L_search"),
             py::arg("entry_points") = 1, py::arg("threads") = 1)
        .def("save", &UngIndex::save, py::arg("path"), py::call_guard<py::gil_scoped_release>())
        .def_static("load", &UngIndex::load, py::arg("path"), py::call_guard<py::gil_scoped_release>())
        .def("serialized_size", &UngIndex::serialized_size)
        .def_property_readonly("n", &UngIndex::size)
        .def_property_readonly("groups", &UngIndex::groups)
        .def("group_labels", &UngIndex::group_labels, py::arg("group"))
        .def("lng_children", &UngIndex::lng_children, py::arg("group"))
        .def("entry_group_count", [](const UngIndex& self, py::object labels) { return self.entry_group_count(label_set(labels)); },
             py::arg("labels"), "how many entry groups a containment query with these labels starts from")
        .def("edges", [](const UngIndex& self) { return edge_rows(self.edges()); },
             "every graph edge as a row (from, to) of base ids")
        .def_property_readonly("distance_computations", &UngIndex::distance_computations);

    m.def("check_stitched_params",
          [](int R_small, int L_small, int R_stitched, float alpha) {
              StitchedParams{R_small, L_small, R_stitched, alpha}.check();
          },
          py::arg("R_small"), py::arg("L_small"), py::arg("R_stitched"), py::arg("alpha"),
          "raises ValueError for parameters Stitched-DiskANN refuses");

    py::class_<StitchedIndex>(m, "Stitched")
        .def(py::init([](size_t d, const std::string& metric, int R_small, int L_small, int R_stitched, float alpha,
                         uint64_t seed) {
                 return std::make_unique<StitchedIndex>(d, parse_metric(metric),
                                                        StitchedParams{R_small, L_small, R_stitched, alpha, seed});
             }),
             py::arg("d"), py::arg("metric"), py::arg("R_small") = 32, py::arg("L_small") = 100,
             py::arg("R_stitched") = 64, py::arg("alpha") = 1.2f, py::arg("seed") = 100)
        .def("build",
             [](StitchedIndex& self, FloatArray X, Int64Array indptr, Int32Array indices, int threads) {
                 if (X.ndim() != 2) throw std::invalid_argument("build: X must be a 2-d array");
                 check_dimension(X, self.dimension(), "build: vectors");
                 LabelRows rows = label_rows(indptr, indices);
                 py::gil_scoped_release release;
                 self.build(X.data(), size_t(X.shape(0)), rows, threads);
             },
             py::arg("X"), py::arg("indptr"), py::arg("indices"), py::arg("threads") = 1)
        .def("search",
             [](const StitchedIndex& self, FloatArray q, size_t k, py::object labels, const std::string& predicate,
                size_t L_search) {
                 check_dimension(q, self.dimension(), "search: query");
                 LabelSet query = label_set(labels);
                 Predicate p = parse_predicate(predicate);
                 py::array_t<int32_t> ids(k);
                 std::vector<float> scores(k);
                 py::gil_scoped_release release;
                 self.search(q.data(), k, query, p, L_search, ids.mutable_data(), scores.data());
                 return ids;
             },
             py::arg("q"), py::arg("k"), py::arg("labels"), py::arg("predicate"), py::arg("L_search"),
             "-> ids nearest first, padded with -1")
        .def("search_batch",
             [](const StitchedIndex& self, FloatArray Q, size_t k, py::object label_rows, const std::string& predicate,
                size_t L_search, int threads) {
                 if (Q.ndim() != 2) throw std::invalid_argument("search_batch: Q must be a 2-d array");
                 check_dimension(Q, self.dimension(), "search_batch: queries");
                 size_t nq = size_t(Q.shape(0)), d = self.dimension();
                 std::vector<LabelSet> queries = label_sets(label_rows, nq);
                 Predicate p = parse_predicate(predicate);
                 return batch(nq, k, threads, [&](size_t i, int32_t* ids, float* scores) {
                     self.search(Q.data() + i * d, k, queries[i], p, L_search, ids, scores);
                 });
             },
             py::arg("Q"), py::arg("k"), py::arg("label_rows"), py::arg("predicate"), py::arg("L_search"),
             py::arg("threads") = 1)
        .def("save", &StitchedIndex::save, py::arg("path"), py::call_guard<py::gil_scoped_release>())
        .def_static("load", &StitchedIndex::load, py::arg("path"), py::call_guard<py::gil_scoped_release>())
        .def("serialized_size", &StitchedIndex::serialized_size)
        .def_property_readonly("n", &StitchedIndex::size)
        .def("start_node", &StitchedIndex::start_node, py::arg("label"), "st(label), or -1 when no point carries it")
        .def("edges", [](const StitchedIndex& self) { return edge_rows(self.edges()); },
             "every graph edge as a row (from, to) of base ids")
        .def_property_readonly("distance_computations", &StitchedIndex::distance_computations)
        .def_property_readonly("grown_searches", &StitchedIndex::grown_searches);

    m.def("check_nhq_params",
          [](int K, int L, int iter, int S, int R, int RANGE, int PL, int B, float M) {
              NhqParams{K, L, iter, S, R, RANGE, PL, B, M}.check();
          },
          py::arg("K"), py::arg("L"), py::arg("iter"), py::arg("S"), py::arg("R"), py::arg("RANGE"), py::arg("PL"),
          py::arg("B"), py::arg("M"), "raises ValueError for parameters NHQ refuses");

    py::class_<NhqIndex>(m, "Nhq")
        .def(py::init([](size_t d, const std::string& metric, int K, int L, int iter, int S, int R, int RANGE, int PL,
                         int B, float M, uint64_t seed) {
                 return std::make_unique<NhqIndex>(d, parse_metric(metric), NhqParams{K, L, iter, S, R, RANGE, PL, B, M, seed});
             }),
             py::arg("d"), py::arg("metric"), py::arg("K") = 50, py::arg("L") = 60, py::arg("iter") = 8, py::arg("S") = 10,
             py::arg("R") = 100, py::arg("RANGE") = 32, py::arg("PL") = 100, py::arg("B") = 4, py::arg("M") = 1.0f,
             py::arg("seed") = 100)
        .def("build",
             [](NhqIndex& self, FloatArray X, Int64Array indptr, Int32Array indices, int threads) {
                 if (X.ndim() != 2) throw std::invalid_argument("build: X must be a 2-d array");
                 check_dimension(X, self.dimension(), "build: vectors");
                 LabelRows rows = label_rows(indptr, indices);
                 py::gil_scoped_release release;
                 self.build(X.data(), size_t(X.shape(0)), rows, threads);
             },
             py::arg("X"), py::arg("indptr"), py::arg("indices"), py::arg("threads") = 1)
        .def("search",
             [](const NhqIndex& self, FloatArray q, size_t k, py::object labels, size_t L_search) {
                 check_dimension(q, self.dimension(), "search: query");
                 LabelSet query = label_set(labels);
                 py::array_t<int32_t> ids(k);
                 std::vector<float> scores(k);
                 py::gil_scoped_release release;
                 self.search(q.data(), k, query, L_search, ids.mutable_data(), scores.data());
                 return ids;
             },
             py::arg("q"), py::arg("k"), py::arg("labels"), py::arg("L_search"), "-> ids nearest first, padded with -1")
        .def("search_batch",
             [](const NhqIndex& self, FloatArray Q, size_t k, py::object label_rows, size_t L_search, int threads) {
                 if (Q.ndim() != 2) throw std::invalid_argument("search_batch: Q must be a 2-d array");
                 check_dimension(Q, self.dimension(), "search_batch: queries");
                 size_t nq = size_t(Q.shape(0)), d = self.dimension();
                 std::vector<LabelSet> queries = label_sets(label_rows, nq);
                 return batch(nq, k, threads, [&](size_t i, int32_t* ids, float* scores) {
                     self.search(Q.data() + i * d, k, queries[i], L_search, ids, scores);
                 });
             },
             py::arg("Q"), py::arg("k"), py::arg("label_rows"), py::arg("L_search"), py::arg("threads") = 1)
        .def("save", &NhqIndex::save, py::arg("path"), py::call_guard<py::gil_scoped_release>())
        .def_static("load", &NhqIndex::load, py::arg("path"), py::call_guard<py::gil_scoped_release>())
        .def("serialized_size", &NhqIndex::serialized_size)
        .def_property_readonly("n", &NhqIndex::size)
        .def_property_readonly("weight", &NhqIndex::weight)
        .def("edges", [](const NhqIndex& self) { return edge_rows(self.edges()); },
             "every graph edge as a row (from, to) of base ids")
        .def_property_readonly("distance_computations", &NhqIndex::distance_computations);

    py::class_<CapsIndex>(m, "Caps")
        .def(py::init([](size_t d, const std::string& metric, int height) {
                 return std::make_unique<CapsIndex>(d, parse_metric(metric), height);
             }),
             py::arg("d"), py::arg("metric"), py::arg("height") = 8)
        .def("build",
             [](CapsIndex& self, FloatArray X, FloatArray centroids, Int32Array assignment, Int64Array indptr,
                Int32Array indices) {
                 if (X.ndim() != 2 || centroids.ndim() != 2) throw std::invalid_argument("build: X and centroids must be 2-d arrays");
                 check_dimension(X, self.dimension(), "build: vectors");
                 check_dimension(centroids, self.dimension(), "build: centroids");
                 if (size_t(assignment.size()) != size_t(X.shape(0))) throw std::invalid_argument("build: one partition per vector expected");
                 LabelRows rows = label_rows(indptr, indices);
                 py::gil_scoped_release release;
                 self.build(X.data(), size_t(X.shape(0)), centroids.data(), size_t(centroids.shape(0)), assignment.data(), rows);
             },
             py::arg("X"), py::arg("centroids"), py::arg("assignment"), py::arg("indptr"), py::arg("indices"))
        .def("search",
             [](const CapsIndex& self, FloatArray q, size_t k, py::object labels, size_t nprobe, size_t budget) {
                 check_dimension(q, self.dimension(), "search: query");
                 bool filtered = !labels.is_none();
                 LabelSet query = filtered ? label_set(labels) : LabelSet{};
                 py::array_t<int32_t> ids(k);
                 std::vector<float> scores(k);
                 py::gil_scoped_release release;
                 self.search(q.data(), k, filtered ? &query : nullptr, nprobe, budget, ids.mutable_data(), scores.data());
                 return ids;
             },
             py::arg("q"), py::arg("k"), py::arg("labels"), py::arg("nprobe"), py::arg("budget") = 0,
             "-> ids nearest first, padded with -1")
        .def("search_batch",
             [](const CapsIndex& self, FloatArray Q, size_t k, py::object label_rows, size_t nprobe, size_t budget,
                int threads) {
                 if (Q.ndim() != 2) throw std::invalid_argument("search_batch: Q must be a 2-d array");
                 check_dimension(Q, self.dimension(), "search_batch: queries");
                 size_t nq = size_t(Q.shape(0)), d = self.dimension();
                 bool filtered = !label_rows.is_none();
                 std::vector<LabelSet> queries = filtered ? label_sets(label_rows, nq) : std::vector<LabelSet>{};
                 return batch(nq, k, threads, [&](size_t i, int32_t* ids, float* scores) {
                     self.search(Q.data() + i * d, k, filtered ? &queries[i] : nullptr, nprobe, budget, ids, scores);
                 });
             },
             py::arg("Q"), py::arg("k"), py::arg("label_rows"), py::arg("nprobe"), py::arg("budget") = 0,
             py::arg("threads") = 1)
        .def("save", &CapsIndex::save, py::arg("path"), py::call_guard<py::gil_scoped_release>())
        .def_static("load", &CapsIndex::load, py::arg("path"), py::call_guard<py::gil_scoped_release>())
        .def("serialized_size", &CapsIndex::serialized_size)
        .def_property_readonly("n", &CapsIndex::size)
        .def_property_readonly("partitions", &CapsIndex::partitions)
        .def_property_readonly("distance_computations", &CapsIndex::distance_computations);

    m.def("check_irange_params", [](int M, int ef_construction) { IRangeParams{M, ef_construction}.check(); },
          py::arg("M"), py::arg("ef_construction"), "raises ValueError for parameters iRangeGraph refuses");

    py::class_<IRangeIndex>(m, "IRangeGraph")
        .def(py::init([](size_t d, const std::string& metric, int M, int ef_construction, uint64_t seed) {
                 return std::make_unique<IRangeIndex>(d, parse_metric(metric), IRangeParams{M, ef_construction, seed});
             }),
             py::arg("d"), py::arg("metric"), py::arg("M") = 16, py::arg("ef_construction") = 100,
             py::arg("seed") = 100)
        .def("build",
             [](IRangeIndex& self, FloatArray X, DoubleArray values, int threads) {
                 if (X.ndim() != 2) throw std::invalid_argument("build: X must be a 2-d array");
                 check_dimension(X, self.dimension(), "build: vectors");
                 if (values.ndim() != 1 || values.shape(0) != X.shape(0))
                     throw std::invalid_argument("build: one attribute value per vector expected");
                 py::gil_scoped_release release;
                 self.build(X.data(), values.data(), size_t(X.shape(0)), threads);
             },
             py::arg("X"), py::arg("values"), py::arg("threads") = 1)
        .def("search",
             [](const IRangeIndex& self, FloatArray q, size_t k, double lo, double hi, size_t ef_search,
                int64_t exact_below, size_t entry_points) {
                 check_dimension(q, self.dimension(), "search: query");
                 // 0: one entry per segment of the span's cover (IRangeIndex::COVER_ENTRIES)
                 py::array_t<int32_t> ids(k);
                 std::vector<float> scores(k);
                 RangePath path;
                 {
                     py::gil_scoped_release release;
                     path = self.search(q.data(), k, lo, hi, ef_search, exact_below, entry_points, ids.mutable_data(),
                                        scores.data());
                 }
                 return py::make_tuple(ids, path == RangePath::Graph ? "graph" : "exact");
             },
             py::arg("q"), py::arg("k"), py::arg("lo"), py::arg("hi"), py::arg("ef_search"), py::arg("exact_below"),
             py::arg("entry_points"), "-> (ids nearest first, padded with -1; 'graph' or 'exact')")
        .def("search_batch",
             [](const IRangeIndex& self, FloatArray Q, size_t k, DoubleArray lo, DoubleArray hi, size_t ef_search,
                int64_t exact_below, size_t entry_points, int threads) {
                 if (Q.ndim() != 2) throw std::invalid_argument("search_batch: Q must be a 2-d array");
                 // 0: one entry per segment of the span's cover (IRangeIndex::COVER_ENTRIES)
                 check_dimension(Q, self.dimension(), "search_batch: queries");
                 size_t nq = size_t(Q.shape(0)), d = self.dimension();
                 if (size_t(lo.size()) != nq || size_t(hi.size()) != nq)
                     throw std::invalid_argument("search_batch: one lo and one hi per query expected");
                 return batch(nq, k, threads, [&](size_t i, int32_t* ids, float* scores) {
                     self.search(Q.data() + i * d, k, lo.data()[i], hi.data()[i], ef_search, exact_below, entry_points, ids,
                                 scores);
                 });
             },
             py::arg("Q"), py::arg("k"), py::arg("lo"), py::arg("hi"), py::arg("ef_search"), py::arg("exact_below"),
             py::arg("entry_points"), py::arg("threads") = 1)
        .def("calibrate", &IRangeIndex::calibrate, py::arg("ef_search"), py::arg("entry_points"),
             py::call_guard<py::gil_scoped_release>(),
             "measures the improvised graph's expected work, for the per-query choice by cost")
        .def("expected_graph_work", &IRangeIndex::expected_graph_work, py::arg("ef_search"), py::arg("entry_points"),
             py::arg("span"))
        .def("save", &IRangeIndex::save, py::arg("path"), py::call_guard<py::gil_scoped_release>())
        .def_static("load", &IRangeIndex::load, py::arg("path"), py::call_guard<py::gil_scoped_release>())
        .def("serialized_size", &IRangeIndex::serialized_size)
        .def_property_readonly("n", &IRangeIndex::size)
        .def_property_readonly("layers", &IRangeIndex::layers)
        .def("entry_counts", &IRangeIndex::entry_counts, py::arg("layer"),
             "-> how many entries each segment of this layer (0: the whole base) has, segment by segment")
        .def_property_readonly("distance_computations", &IRangeIndex::distance_computations)
        .def_property_readonly("graph_queries", [](const IRangeIndex& s) { return s.queries_on(RangePath::Graph); })
        .def_property_readonly("exact_queries", [](const IRangeIndex& s) { return s.queries_on(RangePath::Exact); });
}
