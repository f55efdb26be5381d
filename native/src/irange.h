// iRangeGraph (Xu, Gao, Gou, Long and Jensen, SIGMOD 2025): range-filtered nearest-neighbour
// search, lo <= x <= hi over one numeric attribute, without a graph per possible range.
//
// Build: the vectors are sorted by their attribute value; a position is a vector's place in that
// order. A segment tree over the positions: layer 0 is the whole base, layer j its 2^j equal
// segments, down to segments of at most M positions. Each segment gets an elemental graph over
// its own vectors, built bottom up: the last layer's small segments are complete graphs; a larger
// segment starts from its left half's graph one layer down, and its right half's vectors are
// inserted one by one in a seeded order, each linked to at most M neighbours picked by the
// relative-neighbourhood rule (HNSW's heuristic) from what its search finds and its own list one
// layer down, with reverse links pruned the same way. Every vector thus has one neighbour list
// per layer.
//
// Search: the query's range becomes a span of positions [begin, end) by two binary searches. Over
// that span the search improvises a graph: a vertex's neighbours are those of its lists that lie
// in the span, until M are collected, top-down from the lowest segment that holds the whole span;
// a layer is passed over where the vertex's segment one layer down holds as much of the span.
// Layers whose segment crosses the span's border give in-span links across segment borders; the
// layers whose segment lies inside the span give a full graph of their segment. A best-first
// search with list ef_search starts from vertices spread through the span. Ours, beside the
// paper: a span is scanned instead where that is expected to do less work (its vectors are
// contiguous in memory, so a scan of a few thousand is faster than a search).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "filterbench/distance.h"
#include "filterbench/heap.h"
#include "filterbench/memory.h"
#include "filterbench/visited.h"
#include "filterbench/work.h"

namespace filterbench {

struct IRangeParams {
    int M = 16;                // out-degree bound of every elemental graph
    int ef_construction = 100;  // candidate list of the build's searches
    uint64_t seed = 100;       // insertion order inside segments

    void check() const;
};

enum class RangePath { Graph = 0, Exact = 1 };

class IRangeIndex {
   public:
    IRangeIndex(size_t d, Metric metric, IRangeParams params);

    // values: the attribute of each vector (NaN: missing, in no range).
    void build(const float* X, const double* values, size_t n, int threads);

    // The k nearest base ids (original numbering) with lo <= value <= hi, nearest first; returns
    // the path taken (the rest of ids is -1). A span of at most exact_below vectors is scanned;
    // a larger one is searched from entry_points vectors spread evenly through it. exact_below
    // BY_COST: the span is scanned when that is expected to do less work (see calibrate).
    static constexpr int64_t BY_COST = -1;
    // entry_points COVER_ENTRIES: entries by need. The span's cover (its fewest whole segments,
    // and the parts of leaves at its ends) is entered at each whole segment's entries (one, and
    // more only where its graph does not lead to all of it: find_segment_entries) and at the
    // middle of each part of a leaf.
    static constexpr size_t COVER_ENTRIES = 0;
    RangePath search(const float* q, size_t k, double lo, double hi, size_t ef_search, int64_t exact_below,
                     size_t entry_points, int32_t* ids, float* scores) const;

    // Measures the improvised graph's work at (ef_search, entry_points) on a seeded sample: mean
    // distance computations and neighbour-list entries looked at, over spans of 1/1024, 1/256,
    // ..., all of the base (filterbench/work.h). A span of m vectors is then scanned when m × d
    // is at most the graph's work interpolated at m. Once per setting (search does it when
    // needed; IRangeGraph.set_query_arguments calls it so that no timed query pays).
    void calibrate(size_t ef_search, size_t entry_points) const;
    double expected_graph_work(size_t ef_search, size_t entry_points, size_t span) const;

    void save(const std::string& path) const;
    static std::unique_ptr<IRangeIndex> load(const std::string& path);
    size_t serialized_size() const;

    size_t size() const { return n_; }
    size_t dimension() const { return d_; }
    size_t layers() const { return layers_; }
    // How many entries each segment of a layer has (layer 0: the whole base), segment by segment.
    std::vector<uint32_t> entry_counts(size_t layer) const;
    uint64_t distance_computations() const { return distance_computations_; }
    uint64_t queries_on(RangePath p) const { return path_counts_[int(p)]; }

   private:
    struct Build;
    const float* vec(size_t p) const { return data_.data() + p * d_; }
    float dist(const float* q, size_t p) const { return score(metric_, q, vec(p), d_); }
    // Segment of position p at layer j: [begin, end); layer j's segments are layer_width(j) wide.
    size_t layer_width(size_t layer) const;
    size_t segment_begin(size_t layer, size_t p) const;
    size_t segment_end(size_t layer, size_t p) const;
    const int32_t* links(size_t layer, size_t p) const { return links_.data() + (layer * n_ + p) * M(); }
    int32_t* links(size_t layer, size_t p) { return links_.data() + (layer * n_ + p) * M(); }
    size_t M() const { return size_t(params_.M); }
    template <class Out>
    void serialize(Out& out) const;

    void build_layer(size_t layer, int threads);
    // How many entries each segment needs: one, the member nearest its mean, and one more for each
    // sampled member that a search of the segment's graph from the entries so far does not find.
    void find_segment_entries(int threads);
    static constexpr size_t ENTRY_PROBE_EVERY = 64, ENTRY_PROBES_MIN = 16;  // members sampled: size / 64, at least 16
    // A probe's list is short (4): a search from a query outside the base needs more help than a
    // probe for a member does (with a list of 8, random-filter-s range-correlated's 10% ranges got
    // too few entries: 0.82x the QPS at recall 0.9 of 64 spread entries; with 4, 1.08x).
    static constexpr size_t ENTRY_PROBE_EF = 4, MAX_SEGMENT_ENTRIES = 64;
    // The member of [begin, among_end) nearest the mean of [begin, end).
    size_t nearest_to_mean(size_t begin, size_t end, size_t among_end) const;
    // Calls enter(position) for each entry of the segment of layer j that begins at begin.
    template <class Enter>
    void enter_segment(size_t layer, size_t begin, Enter enter) const;
    void insert(Build& b, size_t layer, int32_t p, int32_t entry);
    std::vector<Neighbor> prune(int32_t p, std::vector<Neighbor> candidates) const;
    void span(double lo, double hi, size_t& begin, size_t& end) const;
    // Calls each(layer, b, e) for every [b, e) of the cover of [begin, end), left to right.
    template <class Each>
    void cover(size_t begin, size_t end, Each each) const;
    // Best-first search of the graph improvised over [begin, end) into top, from the entries that
    // entry_points says; returns its work.
    GraphWork graph_search(const float* q, size_t begin, size_t end, size_t entry_points, TopK& top) const;
    // The same from the positions seed(enter) enters; top's capacity is the search list.
    template <class Seed>
    GraphWork best_first(const float* q, size_t begin, size_t end, TopK& top, Seed seed) const;
    static uint64_t setting(size_t ef_search, size_t entry_points) { return (uint64_t(ef_search) << 32) | entry_points; }

    size_t d_ = 0, n_ = 0, present_ = 0, layers_ = 0;
    Metric metric_ = Metric::L2;
    IRangeParams params_;
    HugeVector<float> data_;         // vectors in position order
    std::vector<double> values_;     // attribute values in position order (NaN last)
    std::vector<int32_t> original_;  // base id of each position
    HugeVector<int32_t> links_;      // layers × n × M positions, -1 padded
    // Per layer and segment: its first entry (the member nearest its mean) and how many it needs.
    std::vector<std::vector<int32_t>> first_entry_;
    std::vector<std::vector<uint32_t>> entry_count_;
    mutable std::unique_ptr<VisitedPool> visited_pool_;
    mutable std::atomic<uint64_t> distance_computations_{0};
    mutable std::atomic<uint64_t> path_counts_[2] = {0, 0};
    mutable ExpectedWork expected_work_;  // by (ef_search, entry_points)
};

}  // namespace filterbench
