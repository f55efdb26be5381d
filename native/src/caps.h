// CAPS (Gupta et al., "CAPS: A Practical Partition Index for Filtered Similarity Search", 2023):
// a partition index for (fixed-length) equality filters.
//
// Build: the base is split into k-means partitions (the caller runs k-means; faiss does). Inside
// each partition, a hierarchy of label sub-clusters: the vectors that carry the most frequent
// label among those not yet placed form the next sub-cluster, up to `height` sub-clusters; the
// rest form the last one (the remainder). Vectors are stored partition by partition, sub-cluster
// by sub-cluster.
//
// Search: probe the nprobe partitions whose centroids are nearest; inside each, the sub-clusters
// whose label is in the query's set, in creation order, else the remainder. A vector with exactly
// the query's labels was placed in the first sub-cluster made for one of them (or in the
// remainder when none was), so that one sub-cluster is the only one scanned. A vector is scored
// when its label set equals the query's (one id comparison); the search stops when `budget`
// candidates have been scored (0: no limit). An empty label set behaves as one reserved value:
// its vectors live in the remainders.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "filterbench/distance.h"
#include "filterbench/memory.h"
#include "filterbench/heap.h"
#include "filterbench/labels.h"

namespace filterbench {

class CapsIndex {
   public:
    CapsIndex(size_t d, Metric metric, int height);

    // centroids: partitions × d; assignment: the partition of every vector.
    void build(const float* X, size_t n, const float* centroids, size_t partitions, const int32_t* assignment,
               const LabelRows& labels);

    // The k nearest base ids (original numbering) whose label set equals `query` (nullptr:
    // unfiltered, every sub-cluster of the probed partitions), nearest first; returns how many
    // were found (the rest of ids is -1).
    size_t search(const float* q, size_t k, const LabelSet* query, size_t nprobe, size_t budget, int32_t* ids,
                  float* scores) const;

    void save(const std::string& path) const;
    static std::unique_ptr<CapsIndex> load(const std::string& path);
    size_t serialized_size() const;

    size_t size() const { return n_; }
    size_t dimension() const { return d_; }
    size_t partitions() const { return centroids_.size() / d_; }
    uint64_t distance_computations() const { return distance_computations_; }

   private:
    const float* vec(size_t i) const { return data_.data() + i * d_; }
    template <class Out>
    void serialize(Out& out) const;
    void index_sets();  // the set -> id map, from the stored sets

    size_t d_ = 0, n_ = 0;
    Metric metric_ = Metric::L2;
    int height_ = 8;
    std::vector<float> centroids_;
    HugeVector<float> data_;             // partition by partition, sub-cluster by sub-cluster
    std::vector<int32_t> original_;       // internal id -> base id
    std::vector<int32_t> set_of_;         // internal id -> label set id
    std::vector<uint64_t> set_offsets_;   // label set s: set_labels_[set_offsets_[s] .. [s+1])
    std::vector<int32_t> set_labels_;
    std::vector<uint64_t> partition_subs_;  // partition p's sub-clusters: [partition_subs_[p], [p+1])
    std::vector<int32_t> sub_label_;      // the label a sub-cluster was made for; -1: the remainder
    std::vector<uint64_t> sub_begin_;     // sub-cluster s holds internal ids [sub_begin_[s], sub_begin_[s+1])
    std::map<LabelSet, int32_t> set_ids_;

    mutable std::atomic<uint64_t> distance_computations_{0};
};

}  // namespace filterbench
