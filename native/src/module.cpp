// Python bindings of the native indexes (module filterbench_native). Arrays come in as numpy
// arrays; long work runs with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "acorn.h"
#include "filterbench/parallel.h"

namespace py = pybind11;
using namespace filterbench;

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using BitsArray = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;

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

static void check_dimension(const FloatArray& x, size_t d, const char* what) {
    if (x.ndim() < 1 || size_t(x.shape(x.ndim() - 1)) != d)
        throw std::invalid_argument(std::string(what) + " have dimension " +
                                    std::to_string(x.ndim() ? x.shape(x.ndim() - 1) : 0) + ", the index " +
                                    std::to_string(d));
}

static const char* path_name(SearchPath p) { return p == SearchPath::Graph ? "graph" : "exact"; }

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
             [](AcornIndex& self, FloatArray X, int threads) {
                 if (X.ndim() != 2) throw std::invalid_argument("build: X must be a 2-d array");
                 check_dimension(X, self.dimension(), "build: vectors");
                 py::gil_scoped_release release;
                 self.build(X.data(), size_t(X.shape(0)), threads);
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
                 py::array_t<int32_t> ids({nq, k});
                 int32_t* out = ids.mutable_data();
                 {
                     py::gil_scoped_release release;
                     parallel_for(nq, threads, [&](size_t i) {
                         std::vector<float> scores(k);
                         self.search(Q.data() + i * d, k, filters[i], efSearch, fallback_selectivity, out + i * k,
                                     scores.data());
                     }, 4);
                 }
                 return ids;
             },
             py::arg("Q"), py::arg("k"), py::arg("valid_rows"), py::arg("efSearch"),
             py::arg("fallback_selectivity"), py::arg("threads") = 1)
        .def("save", &AcornIndex::save, py::arg("path"), py::call_guard<py::gil_scoped_release>())
        .def_static("load", &AcornIndex::load, py::arg("path"), py::call_guard<py::gil_scoped_release>())
        .def("serialized_size", &AcornIndex::serialized_size)
        .def_property_readonly("n", &AcornIndex::size)
        .def_property_readonly("distance_computations", &AcornIndex::distance_computations)
        .def_property_readonly("graph_queries", [](const AcornIndex& s) { return s.queries_on(SearchPath::Graph); })
        .def_property_readonly("exact_queries", [](const AcornIndex& s) { return s.queries_on(SearchPath::Exact); });
}
