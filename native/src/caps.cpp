#include "caps.h"

#include <cmath>
#include <numeric>
#include <stdexcept>

#include "filterbench/io.h"

namespace filterbench {

static const char* MAGIC = "FBCAPS";
static const uint32_t FORMAT_VERSION = 1;

CapsIndex::CapsIndex(size_t d, Metric metric, int height) : d_(d), metric_(metric), height_(height) {
    if (d == 0) throw std::invalid_argument("CAPS: dimension must be positive");
    if (height < 0) throw std::invalid_argument("CAPS: height must be >= 0, got " + std::to_string(height));
}

void CapsIndex::index_sets() {
    set_ids_.clear();
    for (size_t s = 0; s + 1 < set_offsets_.size(); s++)
        set_ids_.emplace(LabelSet(set_labels_.begin() + set_offsets_[s], set_labels_.begin() + set_offsets_[s + 1]),
                         int32_t(s));
}

void CapsIndex::build(const float* X, size_t n, const float* centroids, size_t partitions, const int32_t* assignment,
                      const LabelRows& labels) {
    if (n >= (size_t(1) << 31)) throw std::invalid_argument("CAPS: at most 2^31 - 1 vectors");
    if (partitions == 0) throw std::invalid_argument("CAPS: at least one partition");
    labels.check(n, "CAPS");
    for (size_t i = 0; i < n; i++)
        if (assignment[i] < 0 || size_t(assignment[i]) >= partitions)
            throw std::invalid_argument("CAPS: assignment out of range at vector " + std::to_string(i));
    n_ = n;
    centroids_.assign(centroids, centroids + partitions * d_);
    DistinctSets distinct(labels);
    set_offsets_.assign(1, 0);
    set_labels_.clear();
    for (const LabelSet& s : distinct.sets) {
        set_labels_.insert(set_labels_.end(), s.begin(), s.end());
        set_offsets_.push_back(set_labels_.size());
    }
    index_sets();

    std::vector<std::vector<int32_t>> members(partitions);
    for (size_t i = 0; i < n; i++) members[assignment[i]].push_back(int32_t(i));
    int32_t max_label = -1;
    for (int32_t l : set_labels_) max_label = std::max(max_label, l);
    std::vector<uint32_t> frequency(size_t(max_label + 1), 0);

    original_.clear();
    partition_subs_.assign(1, 0);
    sub_label_.clear();
    sub_begin_.assign(1, 0);
    auto labels_of = [&](int32_t i) {
        int32_t s = distinct.set_of[i];
        return std::make_pair(set_labels_.data() + set_offsets_[s], set_labels_.data() + set_offsets_[s + 1]);
    };
    for (size_t p = 0; p < partitions; p++) {
        std::vector<int32_t> remaining = members[p];
        for (int h = 0; h < height_ && !remaining.empty(); h++) {
            // The most frequent label among the vectors not yet placed (ties: the smallest id).
            int32_t best = -1;
            for (int32_t i : remaining) {
                auto [b, e] = labels_of(i);
                for (const int32_t* l = b; l < e; l++) frequency[*l]++;
            }
            for (int32_t i : remaining) {
                auto [b, e] = labels_of(i);
                for (const int32_t* l = b; l < e; l++)
                    if (best < 0 || frequency[*l] > frequency[best] || (frequency[*l] == frequency[best] && *l < best)) best = *l;
            }
            for (int32_t i : remaining) {
                auto [b, e] = labels_of(i);
                for (const int32_t* l = b; l < e; l++) frequency[*l] = 0;
            }
            if (best < 0) break;  // only empty label sets remain
            std::vector<int32_t> rest;
            for (int32_t i : remaining) {
                auto [b, e] = labels_of(i);
                (std::binary_search(b, e, best) ? original_ : rest).push_back(i);
            }
            remaining.swap(rest);
            sub_label_.push_back(best);
            sub_begin_.push_back(original_.size());
        }
        original_.insert(original_.end(), remaining.begin(), remaining.end());
        sub_label_.push_back(-1);
        sub_begin_.push_back(original_.size());
        partition_subs_.push_back(sub_label_.size());
    }
    data_.resize(n * d_);
    set_of_.resize(n);
    for (size_t i = 0; i < n; i++) {
        std::copy(X + size_t(original_[i]) * d_, X + (size_t(original_[i]) + 1) * d_, data_.begin() + i * d_);
        set_of_[i] = distinct.set_of[original_[i]];
    }
}

size_t CapsIndex::search(const float* q, size_t k, const LabelSet* query, size_t nprobe, size_t budget, int32_t* ids,
                         float* scores) const {
    std::fill(ids, ids + k, -1);
    std::fill(scores, scores + k, INFINITY);
    auto it = query ? set_ids_.find(*query) : set_ids_.end();
    if (n_ == 0 || k == 0 || (query && it == set_ids_.end())) return 0;
    int32_t wanted = query ? it->second : -1;
    size_t P = partitions();
    nprobe = std::min(std::max<size_t>(nprobe, 1), P);
    std::vector<Neighbor> order(P);
    for (size_t p = 0; p < P; p++) order[p] = {score(metric_, q, centroids_.data() + p * d_, d_), int32_t(p)};
    std::partial_sort(order.begin(), order.begin() + nprobe, order.end());
    uint64_t computed = P, scored = 0;
    TopK top(k);
    for (size_t j = 0; j < nprobe && (budget == 0 || scored < budget); j++) {
        size_t p = size_t(order[j].id);
        // The first sub-cluster made for one of the query's labels; the remainder (last) if none.
        // Unfiltered: the whole partition.
        size_t first = partition_subs_[p], last = partition_subs_[p + 1] - 1;
        if (query) {
            first = last;
            for (size_t s = partition_subs_[p]; s < last; s++)
                if (std::binary_search(query->begin(), query->end(), sub_label_[s])) {
                    first = last = s;
                    break;
                }
        }
        for (uint64_t i = sub_begin_[first]; i < sub_begin_[last + 1]; i++) {
            if (query && set_of_[i] != wanted) continue;
            float s = score(metric_, q, vec(i), d_);
            top.push({s, int32_t(i)});
            if (budget && ++scored >= budget) break;
        }
    }
    computed += scored;
    std::vector<Neighbor> result = top.take_sorted();
    for (size_t j = 0; j < result.size(); j++) ids[j] = original_[result[j].id], scores[j] = result[j].score;
    distance_computations_ += computed;
    return result.size();
}

template <class Out>
void CapsIndex::serialize(Out& out) const {
    out.bytes(MAGIC, std::string(MAGIC).size());
    out.template value<uint32_t>(FORMAT_VERSION);
    out.template value<uint64_t>(d_);
    out.template value<int32_t>(int32_t(metric_));
    out.template value<int32_t>(height_);
    out.array(centroids_);
    out.array(data_);
    out.array(original_);
    out.array(set_of_);
    out.array(set_offsets_);
    out.array(set_labels_);
    out.array(partition_subs_);
    out.array(sub_label_);
    out.array(sub_begin_);
}

void CapsIndex::save(const std::string& path) const {
    Writer out(path);
    serialize(out);
}

size_t CapsIndex::serialized_size() const {
    Writer counter;
    serialize(counter);
    return counter.size();
}

std::unique_ptr<CapsIndex> CapsIndex::load(const std::string& path) {
    Reader in(path);
    in.expect_magic(MAGIC, FORMAT_VERSION);
    size_t d = in.value<uint64_t>();
    int32_t metric_code = in.value<int32_t>();
    int32_t height = in.value<int32_t>();
    if (d == 0 || (metric_code != 0 && metric_code != 1) || height < 0)
        throw std::runtime_error(path + ": corrupt index file (header)");
    auto index = std::make_unique<CapsIndex>(d, Metric(metric_code), height);
    const uint64_t limit = uint64_t(1) << 40;
    index->centroids_ = in.array<float>(limit);
    index->data_ = in.array<float, HugePageAllocator<float>>(limit);
    size_t n = index->n_ = index->data_.size() / d;
    index->original_ = in.array<int32_t>(n);
    index->set_of_ = in.array<int32_t>(n);
    index->set_offsets_ = in.array<uint64_t>(n + 1);
    index->set_labels_ = in.array<int32_t>(limit);
    index->partition_subs_ = in.array<uint64_t>(limit);
    index->sub_label_ = in.array<int32_t>(limit);
    index->sub_begin_ = in.array<uint64_t>(limit);
    size_t S = index->sub_label_.size();
    bool consistent = index->data_.size() % d == 0 && index->centroids_.size() % d == 0 && !index->centroids_.empty() &&
                      index->original_.size() == n && index->set_of_.size() == n && !index->set_offsets_.empty() &&
                      index->set_offsets_.back() == index->set_labels_.size() &&
                      index->partition_subs_.size() == index->partitions() + 1 && index->partition_subs_.back() == S &&
                      index->sub_begin_.size() == S + 1 && index->sub_begin_.back() == n;
    for (int32_t s : index->set_of_) consistent = consistent && s >= 0 && size_t(s) + 1 < index->set_offsets_.size();
    if (!consistent) throw std::runtime_error(path + ": corrupt index file (inconsistent sizes)");
    index->index_sets();
    return index;
}

}  // namespace filterbench
