// Stitched-DiskANN (Gollapudi et al., "Filtered-DiskANN", WWW 2023, Algorithm StitchedVamana):
// one Vamana graph per label, stitched into one graph.
//
// Build: for every label f, a Vamana graph over the points that carry f (out-degree R_small,
// candidate list L_small, pruning alpha), its start node st(f) the point nearest the label's
// mean. The union of all these graphs' edges (a multi-label point keeps the edges of every
// label graph it is in) is pruned per point to R_stitched with FilteredRobustPrune: a candidate
// p' is dropped for a kept p* only if alpha·d(p*, p') <= d(p, p') and p* carries every label
// p and p' share, so each label's subgraph keeps its paths.
//
// Search (FilteredGreedySearch): start from st(f) of the query's search labels and expand only
// points that carry one of them. The paper's search takes one label per query; for sets we do
// as the FANNS paper does (Section 5.1): containment and equality search on the query's rarest
// label, overlap on all of its labels, and the whole predicate is checked before a point enters
// the result. When fewer than k pass, the search list grows (doubles) until k pass or the list
// covers every point the search labels hold; a grown list resumes the walk, it does not repeat it.
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

struct StitchedParams {
    int R_small = 32;       // out-degree of each label's Vamana graph
    int L_small = 100;      // candidate list of the label graphs' build searches
    int R_stitched = 64;    // out-degree of the stitched graph
    float alpha = 1.2f;     // pruning, in both the label graphs and the stitched graph
    uint64_t seed = 100;    // insertion order inside each label graph

    void check() const;
};

class StitchedIndex {
   public:
    StitchedIndex(size_t d, Metric metric, StitchedParams params);

    void build(const float* X, size_t n, const LabelRows& labels, int threads);

    // The k nearest base ids satisfying the predicate against `query`, nearest first; returns
    // how many were found (the rest of ids is -1). L_search: the first search list.
    size_t search(const float* q, size_t k, const LabelSet& query, Predicate predicate, size_t L_search, int32_t* ids,
                  float* scores) const;

    void save(const std::string& path) const;
    static std::unique_ptr<StitchedIndex> load(const std::string& path);
    size_t serialized_size() const;

    size_t size() const { return n_; }
    size_t dimension() const { return d_; }
    int32_t start_node(int32_t label) const;  // -1: no point carries it
    LabelSet labels_of(size_t i) const { return LabelSet(labels_.begin() + label_offsets_[i], labels_.begin() + label_offsets_[i + 1]); }
    std::vector<std::pair<int32_t, int32_t>> edges() const;
    uint64_t distance_computations() const { return distance_computations_; }
    uint64_t grown_searches() const { return grown_searches_; }  // searches whose list had to grow

   private:
    const float* vec(size_t i) const { return data_.data() + i * d_; }
    float dist(const float* q, size_t i) const { return score(metric_, q, vec(i), d_); }
    bool has_label(size_t i, int32_t label) const;
    bool carries_any(size_t i, const LabelSet& labels) const;
    bool passes(size_t i, const LabelSet& query, Predicate predicate) const;
    template <class Out>
    void serialize(Out& out) const;
    void count_labels();  // label_count_ and the per-label point lists from the stored label rows

    // Build: label f's Vamana graph over `members` (ascending ids), as out-edges in base ids;
    // sets start_[f].
    std::vector<std::vector<int32_t>> label_graph(int32_t f, const std::vector<int32_t>& members);
    std::vector<Neighbor> prune(const std::vector<int32_t>& members, size_t node, std::vector<Neighbor> candidates,
                                size_t degree) const;
    std::vector<int32_t> filtered_prune(size_t node, const std::vector<int32_t>& candidates) const;

    // One filtered greedy search with list size L over points carrying a label of `search_labels`
    // (all points when it is empty); every point that passes the predicate enters the walk's
    // result. `members`, when given, marks exactly those points (else each point's labels are
    // looked up). Called again with a larger L, it resumes the same walk: the list becomes the
    // best L points seen so far and the search goes on from those not yet expanded.
    struct Walk;
    void greedy(const float* q, const LabelSet& search_labels, const VisitedList* members, const LabelSet& query,
                Predicate predicate, size_t L, Walk& walk, uint64_t& computed) const;

    size_t d_ = 0, n_ = 0;
    Metric metric_ = Metric::L2;
    StitchedParams params_;
    HugeVector<float> data_;
    std::vector<uint64_t> label_offsets_;  // point i's labels: labels_[label_offsets_[i] .. [i+1]), sorted
    std::vector<int32_t> labels_;
    std::vector<int32_t> start_;           // per label id: st(f), or -1
    std::vector<uint64_t> adj_offsets_;    // point i's out-edges: adj_[adj_offsets_[i] .. [i+1])
    HugeVector<int32_t> adj_;
    std::vector<uint64_t> label_count_;    // derived: points per label
    std::vector<uint64_t> member_offsets_; // derived: label f's points: members_[member_offsets_[f] .. [f+1])
    std::vector<int32_t> members_;

    mutable std::unique_ptr<VisitedPool> visited_pool_;
    mutable std::unique_ptr<VisitedPool> member_pool_;    // per search: the search labels' points marked
    mutable std::unique_ptr<VisitedPool> expanded_pool_;  // per search: the points whose edges were followed
    mutable std::atomic<uint64_t> distance_computations_{0};
    mutable std::atomic<uint64_t> grown_searches_{0};
};

}  // namespace filterbench
