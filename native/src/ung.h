// UNG, the Unified Navigating Graph (Cai et al., SIGMOD 2025): filtered search that never
// leaves the valid region, so it checks no labels.
//
// Build: vectors are grouped by identical label set; inside each group a Vamana graph (out-degree
// at most R, candidate list L_build, pruning alpha). The label navigating graph (LNG) links each
// distinct label set to its minimal strict supersets among the base's sets. Cross-group edges
// only go from a set to a superset, so every edge (u, v) has L_u ⊆ L_v:
// - each vector links to its `cross_edges` nearest vectors among all groups that contain its set
//   (a search over those groups' finished graphs, largest sets first);
// - a group's medoid links into every LNG child, so every superset group stays reachable;
// - each vector is linked from its nearest vector in every group whose set is a subset of its
//   own (ours: without it, vectors in groups without supersets were reached only through
//   far-away parents, and containment recall stalled at 0.94 on random-filter-s).
//
// Search: containment starts from the groups of the minimal label sets that contain the query's
// set (the LNG's entry groups) and follows every edge: all it reaches contain the query's set.
// Equality searches the one group with exactly the query's set, inside its own graph. Overlap is
// one containment search per query label, merged.
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

struct UngParams {
    int R = 32;             // out-degree bound inside a group (Vamana's R)
    int L_build = 100;      // candidate list of the build's searches (Vamana's L)
    float alpha = 1.2f;     // pruning: drop v if a kept u has alpha·d(u, v) <= d(node, v)
    int cross_edges = 6;    // cross-group edges per vector
    uint64_t seed = 100;    // insertion order inside groups

    void check() const;
};

class UngIndex {
   public:
    UngIndex(size_t d, Metric metric, UngParams params);

    void build(const float* X, size_t n, const LabelRows& labels, int threads);

    // The k nearest base ids (original numbering) whose labels satisfy the predicate against
    // `query`, nearest first; returns how many were found (the rest of ids is -1).
    // L_search: the search list; entry_points: start vectors, shared among the entry groups by
    // size (at least one each).
    size_t search(const float* q, size_t k, const LabelSet& query, Predicate predicate, size_t L_search,
                  size_t entry_points, int32_t* ids, float* scores) const;

    void save(const std::string& path) const;
    static std::unique_ptr<UngIndex> load(const std::string& path);
    size_t serialized_size() const;

    size_t size() const { return n_; }
    size_t dimension() const { return d_; }
    size_t groups() const { return group_medoid_.size(); }
    size_t entry_group_count(const LabelSet& query) const { return entry_groups(query).size(); }
    LabelSet group_labels(size_t g) const;
    std::vector<int32_t> lng_children(size_t g) const;
    // Every graph edge as (from, to) in original ids, intra-group and cross-group.
    std::vector<std::pair<int32_t, int32_t>> edges() const;
    uint64_t distance_computations() const { return distance_computations_; }

   private:
    const float* vec(size_t i) const { return data_.data() + i * d_; }
    float dist(const float* q, size_t i) const { return score(metric_, q, vec(i), d_); }
    size_t group_size(size_t g) const { return group_begin_[g + 1] - group_begin_[g]; }
    template <class Out>
    void serialize(Out& out) const;
    void index_labels();  // the label -> groups lists and LNG parents, from the stored arrays

    // Build.
    void link_lng(int threads);
    void build_group(size_t g, std::vector<std::vector<int32_t>>& intra);
    std::vector<Neighbor> prune(size_t node, std::vector<Neighbor> candidates, size_t degree) const;
    // The `count` nearest members of group g (exact in small groups, else by searching its graph).
    std::vector<Neighbor> nearest_in_group(const float* x, size_t g, size_t count,
                                           const std::vector<std::vector<int32_t>>& intra) const;
    std::vector<int32_t> subset_groups(size_t g) const;  // the groups whose sets are strict subsets of g's
    std::vector<int32_t> cross_links(size_t node, const std::vector<std::vector<int32_t>>& intra,
                                     const std::vector<std::vector<int32_t>>& cross) const;

    // Search.
    std::vector<int32_t> supersets(const LabelSet& query) const;  // groups whose set contains query
    std::vector<int32_t> entry_groups(const LabelSet& query) const;  // the minimal ones among them
    int32_t exact_group(const LabelSet& query) const;  // -1: no group has this set
    // Group g's medoid, then count - 1 members spread through the group.
    void starts(size_t g, size_t count, std::vector<int32_t>& out) const;
    // Best-first search from `start`; edges(node, expand) calls expand(begin, end) on each of the
    // node's edge lists. Fills top.
    template <class Edges>
    void best_first(const float* q, const std::vector<int32_t>& start, Edges edges, VisitedList& visited, TopK& top,
                    uint64_t& computed) const;
    void containment(const float* q, const LabelSet& query, size_t L, size_t entry_points, TopK& top,
                     uint64_t& computed) const;

    size_t d_ = 0, n_ = 0;
    Metric metric_ = Metric::L2;
    UngParams params_;
    // Vectors are stored group by group: internal id i is base vector original_[i].
    HugeVector<float> data_;
    std::vector<int32_t> original_;
    std::vector<uint64_t> group_begin_;   // group g holds internal ids [group_begin_[g], group_begin_[g+1])
    std::vector<int32_t> group_medoid_;   // internal id of each group's start vector
    std::vector<uint64_t> set_offsets_;   // group g's label set: set_labels_[set_offsets_[g] .. [g+1])
    std::vector<int32_t> set_labels_;
    std::vector<uint64_t> lng_offsets_;   // group g's LNG children: lng_children_[lng_offsets_[g] .. [g+1])
    std::vector<int32_t> lng_children_;
    std::vector<uint64_t> adj_offsets_;   // node i's edges: adj_[adj_offsets_[i] .. [i+1]), the
    std::vector<uint64_t> cross_begin_;   // intra-group ones first, cross-group from cross_begin_[i]
    HugeVector<int32_t> adj_;
    // Derived (index_labels): groups per label, and LNG parents.
    std::vector<std::vector<int32_t>> label_groups_;
    std::vector<std::vector<int32_t>> lng_parents_;
    std::vector<int32_t> group_of_;       // per internal id

    mutable std::unique_ptr<VisitedPool> visited_pool_;
    mutable std::atomic<uint64_t> distance_computations_{0};
};

}  // namespace filterbench
