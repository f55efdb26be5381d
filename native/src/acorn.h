// ACORN (Patel et al., SIGMOD 2024): a predicate-agnostic graph index for filtered search.
//
// Build (no labels): an HNSW-style hierarchy whose level-0 lists hold M·γ candidates found with
// efConstruction (default M·γ): up to M chosen by HNSW's diversity rule (links between clusters;
// nearest-only lists fall apart into one component per cluster), the nearest filling the rest, so
// the subgraph induced by a predicate that passes about 1/γ of the base keeps about M neighbours
// per node. Upper levels, which only route the descent, keep the diverse ones. Level 0 is then
// compressed, predicate-agnostically: keep the first M_β neighbours; keep a later one only if it
// is not already a neighbour of a kept node beyond M_β (search expands those, so it is recovered).
// ACORN-1 is γ = 1, M_β = 2M, no compression, with every neighbour expanded at search.
//
// Search: only nodes that pass the filter get a distance computed or enter the queues. A node's
// filtered neighbour list is all its passing neighbours, then, up to the predicate subgraph's
// degree (M above level 0, 2M at level 0), the passing neighbours of its expanded neighbours
// (ACORN-γ: those beyond position M_β at level 0; ACORN-1: all). Where an exact scan of the
// passing vectors is expected to do less work than the graph (the paper: below its 1/γ bound,
// where the predicate subgraph is not navigable), the scan answers instead.
#pragma once
#include <algorithm>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <cstdint>
#include <string>
#include <vector>

#include "filterbench/bitset.h"
#include "filterbench/distance.h"
#include "filterbench/memory.h"
#include "filterbench/heap.h"
#include "filterbench/visited.h"
#include "filterbench/work.h"

namespace filterbench {

struct AcornParams {
    int M = 32;               // degree of the predicate subgraph (HNSW's M)
    int gamma = 1;            // neighbour-list expansion factor γ
    int M_beta = 64;          // neighbours kept uncompressed at level 0 (M_β)
    int efConstruction = 0;   // 0: M·γ, the paper's choice
    uint64_t seed = 100;      // level assignment

    void check() const;
    int level0_capacity() const { return std::max(M * gamma, M_beta); }
    int upper_capacity() const { return M * gamma; }
    bool is_acorn_1() const { return gamma == 1; }
};

enum class SearchPath { Graph = 0, Exact = 1 };

class AcornIndex {
   public:
    AcornIndex(size_t d, Metric metric, AcornParams params);

    // X: n rows of d floats, or of d bytes (a uint8 base such as YFCC's, widened row by row into
    // the index's own float copy, so that the caller never holds the base as floats as well).
    template <class T>
    void build(const T* X, size_t n, int threads) {
        if (n >= (size_t(1) << 31)) throw std::invalid_argument("ACORN: at most 2^31 - 1 vectors");
        n_ = n;
        data_.assign(X, X + n * d_);
        build_graph(threads);
    }

    // The k nearest passing ids, nearest first, padded with -1. fallback_selectivity: below this
    // share of passing base vectors, an exact scan of the passing ones answers (0: never);
    // BY_COST: the scan answers when it is the cheaper, by expected work (see calibrate).
    static constexpr double BY_COST = -1.0;
    SearchPath search(const float* q, size_t k, const FilterMap& filter, size_t efSearch,
                      double fallback_selectivity, int32_t* ids, float* scores) const;

    // Measures the graph's work at efSearch (for k <= efSearch) on a seeded sample:
    // mean distance computations and filter checks of pure graph searches under random filters
    // passing 1/1024, 1/256, ..., 1 of the base. A query at selectivity s then takes the exact scan
    // when its work, passing × d, is at most the graph's interpolated at s. Done once per efSearch
    // (search does it when needed; Acorn.set_query_arguments calls it so no timed query pays).
    void calibrate(size_t efSearch) const;
    double expected_graph_work(size_t efSearch, double selectivity) const;

    void save(const std::string& path) const;
    static std::unique_ptr<AcornIndex> load(const std::string& path);
    size_t serialized_size() const;

    size_t size() const { return n_; }
    size_t dimension() const { return d_; }
    const AcornParams& params() const { return params_; }
    uint64_t distance_computations() const { return distance_computations_; }
    uint64_t filter_checks() const { return filter_checks_; }
    uint64_t queries_on(SearchPath path) const { return path == SearchPath::Graph ? graph_queries_ : exact_queries_; }

   private:
    const float* vec(size_t i) const { return data_.data() + i * d_; }
    float dist(const float* q, size_t i) const { return score(metric_, q, vec(i), d_); }
    template <class Out>
    void serialize(Out& out) const;

    // Build: the graph over the n_ vectors in data_.
    void build_graph(int threads);
    std::vector<Neighbor> search_layer_unfiltered(const float* q, int32_t entry, size_t ef, int level,
                                                  VisitedList& visited) const;
    void insert(int32_t node);
    void add_link(int32_t from, int32_t to, int level, float score);
    // The neighbours of `node` among candidates sorted nearest first: up to M by HNSW's
    // diversity rule (*diverse_count of them, first), then at level 0 the nearest up to capacity.
    std::vector<Neighbor> select_neighbors(const std::vector<Neighbor>& sorted, int32_t node, int level,
                                          size_t capacity, size_t* diverse_count) const;
    void compress_level0(int threads);

    // Search.
    GraphWork graph_search(const float* q, size_t k, const FilterMap& filter, size_t efSearch, int32_t* ids,
                           float* scores) const;
    // Returns how many ids it looked at (the graph's filter checks).
    size_t filtered_neighbors(int32_t node, int level, const FilterMap& filter, VisitedList* visited,
                              std::vector<int32_t>& out) const;
    SearchPath exact(const float* q, size_t k, const FilterMap& filter, int32_t* ids, float* scores) const;

    size_t d_ = 0, n_ = 0;
    Metric metric_ = Metric::L2;
    AcornParams params_;
    HugeVector<float> data_;
    std::vector<uint8_t> levels_;
    int32_t entry_ = -1;
    int max_level_ = -1;
    // Level 0, CSR: neighbours of i are level0_ids_[level0_offsets_[i] .. level0_offsets_[i+1]),
    // nearest first. Upper levels: upper_[i][l - 1] for 1 <= l <= levels_[i].
    std::vector<uint64_t> level0_offsets_;
    HugeVector<int32_t> level0_ids_;
    std::vector<std::vector<std::vector<int32_t>>> upper_;

    // Build-time state (freed after build).
    struct BuildState;
    BuildState* build_ = nullptr;

    mutable std::unique_ptr<VisitedPool> visited_pool_;
    mutable ExpectedWork expected_work_;  // by efSearch
    mutable std::atomic<uint64_t> distance_computations_{0}, filter_checks_{0}, graph_queries_{0}, exact_queries_{0};

   public:
    ~AcornIndex();
};

}  // namespace filterbench
