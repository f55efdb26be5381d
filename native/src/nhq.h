// NHQ-kgraph (Wang et al., "An Efficient and Robust Framework for Approximate Nearest Neighbor
// Search with Attribute Constraint", NeurIPS 2023): a proximity graph over a fusion distance of
// vector and attribute, the NPG built on a KGraph.
//
// Fusion distance: Γ(x, y) = δ(x, y) + weight · φ(x, y), δ the vector distance (squared L2) and
// φ the attribute distance, the number of attribute positions where x and y differ. An item's
// attributes are its fixed-length label set (one label per position), so φ = |L_x Δ L_y| / 2.
// weight: the mean δ of random pairs of base vectors, so one differing attribute weighs as much as
// a typical vector distance and items that share every attribute lie near each other (ours: the
// paper leaves the weight to the data's distance scale).
//
// Build: a KGraph (NN-descent over Γ: K neighbours per point kept from a pool of L, at most iter
// rounds, each joining S new neighbours and at most R reverse ones per point), then the NPG's edge
// selection over Γ: each point's PL nearest among its kNN neighbours and theirs, the B nearest
// kept outright, the others only if no kept s has M·Γ(s, c) <= Γ(u, c) (neighbours in different
// directions), at most RANGE, reverse edges added under the same rule.
//
// Search: best-first over Γ from the medoid and L_search points spread over the base (KGraph
// starts from random points); only items whose attributes equal the query's (φ = 0) enter the
// result, ranked by δ. Fixed-length equality is the only predicate.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "filterbench/distance.h"
#include "filterbench/memory.h"
#include "filterbench/heap.h"
#include "filterbench/labels.h"
#include "filterbench/visited.h"

namespace filterbench {

struct NhqParams {
    // KGraph (NN-descent)
    int K = 50;         // neighbours per point in the kNN graph
    int L = 60;         // candidate pool per point (at least K)
    int iter = 8;       // at most this many rounds
    int S = 10;         // new neighbours joined per point per round
    int R = 100;        // reverse neighbours joined per point per round
    // NPG
    int RANGE = 32;     // out-degree bound
    int PL = 100;       // candidate pool of each point's edge selection
    int B = 4;          // nearest candidates kept without pruning
    float M = 1.0f;     // pruning: c is dropped if a kept s has M·Γ(s, c) <= Γ(u, c)
    uint64_t seed = 100;

    void check() const;
};

class NhqIndex {
   public:
    NhqIndex(size_t d, Metric metric, NhqParams params);

    void build(const float* X, size_t n, const LabelRows& attributes, int threads);

    // The k nearest base ids whose attributes equal `query`, nearest first; returns how many were
    // found (the rest of ids is -1). L_search: the search list.
    size_t search(const float* q, size_t k, const LabelSet& query, size_t L_search, int32_t* ids, float* scores) const;

    void save(const std::string& path) const;
    static std::unique_ptr<NhqIndex> load(const std::string& path);
    size_t serialized_size() const;

    size_t size() const { return n_; }
    size_t dimension() const { return d_; }
    float weight() const { return weight_; }
    std::vector<std::pair<int32_t, int32_t>> edges() const;
    uint64_t distance_computations() const { return distance_computations_; }

   private:
    const float* vec(size_t i) const { return data_.data() + i * d_; }
    size_t attribute_distance(size_t i, const int32_t* begin, const int32_t* end) const;  // φ
    float fused(size_t i, size_t j) const;  // Γ between base items
    template <class Out>
    void serialize(Out& out) const;

    std::vector<std::vector<int32_t>> kgraph(int threads) const;
    std::vector<int32_t> select(size_t u, std::vector<Neighbor> candidates) const;

    size_t d_ = 0, n_ = 0;
    Metric metric_ = Metric::L2;
    NhqParams params_;
    float weight_ = 0;
    int32_t medoid_ = 0;
    HugeVector<float> data_;
    std::vector<uint64_t> label_offsets_;  // item i's attributes: labels_[label_offsets_[i] .. [i+1]), sorted
    std::vector<int32_t> labels_;
    std::vector<uint64_t> adj_offsets_;
    HugeVector<int32_t> adj_;

    mutable std::unique_ptr<VisitedPool> visited_pool_;
    mutable std::atomic<uint64_t> distance_computations_{0};
};

}  // namespace filterbench
