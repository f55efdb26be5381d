#include "stitched.h"

#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

#include "filterbench/io.h"
#include "filterbench/parallel.h"

namespace filterbench {

static const char* MAGIC = "FBSTITCHED";
static const uint32_t FORMAT_VERSION = 1;
static const size_t UNLABELLED_QUERY_STARTS = 16;  // start nodes of a containment query with no labels
static const size_t MEMBER_MARKS_BELOW = 8;  // search labels holding at most 1/8 of the base are marked per search

void StitchedParams::check() const {
    if (R_small < 2) throw std::invalid_argument("Stitched-DiskANN: R_small must be at least 2, got " + std::to_string(R_small));
    if (L_small < R_small)
        throw std::invalid_argument("Stitched-DiskANN: L_small must be at least R_small, got " + std::to_string(L_small));
    if (R_stitched < R_small)
        throw std::invalid_argument("Stitched-DiskANN: R_stitched must be at least R_small, got " + std::to_string(R_stitched));
    if (!(alpha >= 1.0f)) throw std::invalid_argument("Stitched-DiskANN: alpha must be at least 1");
}

StitchedIndex::StitchedIndex(size_t d, Metric metric, StitchedParams params) : d_(d), metric_(metric), params_(params) {
    params_.check();
    if (d == 0) throw std::invalid_argument("Stitched-DiskANN: dimension must be positive");
    // alpha-pruning compares distances, which inner products (negative scores) are not.
    if (metric != Metric::L2) throw std::invalid_argument("Stitched-DiskANN: metric must be l2 (normalize angular data first)");
}

int32_t StitchedIndex::start_node(int32_t label) const {
    return label >= 0 && size_t(label) < start_.size() ? start_[label] : -1;
}

bool StitchedIndex::has_label(size_t i, int32_t label) const {
    return std::binary_search(labels_.begin() + label_offsets_[i], labels_.begin() + label_offsets_[i + 1], label);
}

bool StitchedIndex::carries_any(size_t i, const LabelSet& labels) const {
    for (int32_t l : labels)
        if (has_label(i, l)) return true;
    return false;
}

bool StitchedIndex::passes(size_t i, const LabelSet& query, Predicate predicate) const {
    auto begin = labels_.begin() + label_offsets_[i], end = labels_.begin() + label_offsets_[i + 1];
    switch (predicate) {
        case Predicate::Containment:
            return std::includes(begin, end, query.begin(), query.end());
        case Predicate::Equality:
            return size_t(end - begin) == query.size() && std::equal(begin, end, query.begin());
        case Predicate::Overlap:
            for (int32_t l : query)
                if (std::binary_search(begin, end, l)) return true;
            return false;
    }
    return false;
}

void StitchedIndex::count_labels() {
    int32_t max_label = -1;
    for (int32_t l : labels_) max_label = std::max(max_label, l);
    label_count_.assign(size_t(max_label + 1), 0);
    for (int32_t l : labels_) label_count_[l]++;
    member_offsets_.assign(label_count_.size() + 1, 0);
    for (size_t f = 0; f < label_count_.size(); f++) member_offsets_[f + 1] = member_offsets_[f] + label_count_[f];
    members_.resize(labels_.size());
    std::vector<uint64_t> next(member_offsets_.begin(), member_offsets_.end() - 1);
    for (size_t i = 0; i + 1 < label_offsets_.size(); i++)
        for (uint64_t j = label_offsets_[i]; j < label_offsets_[i + 1]; j++) members_[next[labels_[j]]++] = int32_t(i);
}

// ---------------------------------------------------------------------------------------------
// Build

std::vector<Neighbor> StitchedIndex::prune(const std::vector<int32_t>& members, size_t node,
                                           std::vector<Neighbor> candidates, size_t degree) const {
    // Vamana's RobustPrune inside one label graph (ids local to `members`).
    std::sort(candidates.begin(), candidates.end());
    std::vector<Neighbor> kept;
    int32_t previous = -1;
    for (const Neighbor& c : candidates) {
        if (kept.size() >= degree) break;
        if (c.id == int32_t(node) || c.id == previous) continue;
        previous = c.id;
        bool diverse = true;
        for (const Neighbor& k : kept)
            if (params_.alpha * dist(vec(members[k.id]), members[c.id]) <= c.score) {
                diverse = false;
                break;
            }
        if (diverse) kept.push_back(c);
    }
    return kept;
}

std::vector<std::vector<int32_t>> StitchedIndex::label_graph(int32_t f, const std::vector<int32_t>& members) {
    size_t m = members.size(), R = size_t(params_.R_small);
    std::vector<float> mean(d_, 0.0f);
    for (int32_t i : members)
        for (size_t j = 0; j < d_; j++) mean[j] += vec(i)[j] / float(m);
    size_t medoid = 0;
    float best = INFINITY;
    for (size_t i = 0; i < m; i++) {
        float s = dist(mean.data(), members[i]);
        if (s < best) best = s, medoid = i;
    }
    start_[f] = members[medoid];  // each label is built by one thread

    std::vector<std::vector<int32_t>> local(m);
    if (m <= R + 1) {  // small labels: every point links to every other
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < m; j++)
                if (i != j) local[i].push_back(int32_t(j));
    } else {
        // Vamana, inserting one point at a time in a seeded order, the medoid first.
        std::vector<int32_t> order(m);
        std::iota(order.begin(), order.end(), 0);
        std::swap(order[0], order[medoid]);
        std::mt19937_64 rng(params_.seed + 0x9E3779B97F4A7C15ull * uint64_t(f + 1));
        std::shuffle(order.begin() + 1, order.end(), rng);
        VisitedList visited(m);
        for (size_t idx = 1; idx < m; idx++) {
            int32_t u = order[idx];
            const float* x = vec(members[u]);
            visited.next_query();
            TopK top(size_t(params_.L_small));
            NearestOnTop candidates;
            visited.mark(medoid);
            Neighbor s{dist(x, members[medoid]), int32_t(medoid)};
            candidates.push(s);
            top.push(s);
            while (!candidates.empty()) {
                Neighbor c = candidates.top();
                if (top.full() && c.score > top.bound()) break;
                candidates.pop();
                for (int32_t v : local[c.id]) {
                    if (visited.test_and_mark(v)) continue;
                    float sv = dist(x, members[v]);
                    if (!top.full() || sv < top.bound()) candidates.push({sv, v}), top.push({sv, v});
                }
            }
            for (const Neighbor& c : prune(members, u, top.take_sorted(), R)) {
                local[u].push_back(c.id);
                auto& back = local[c.id];
                back.push_back(u);
                if (back.size() > R) {
                    std::vector<Neighbor> again;
                    for (int32_t v : back) again.push_back({dist(vec(members[c.id]), members[v]), v});
                    back.clear();
                    for (const Neighbor& kept : prune(members, c.id, again, R)) back.push_back(kept.id);
                }
            }
        }
    }
    for (auto& edges : local)
        for (int32_t& v : edges) v = members[v];
    return local;
}

std::vector<int32_t> StitchedIndex::filtered_prune(size_t node, const std::vector<int32_t>& candidate_ids) const {
    // FilteredRobustPrune: p' is dropped for a kept p* when alpha·d(p*, p') <= d(p, p') and p*
    // carries every label that p and p' share (so no label's subgraph loses its path to p').
    std::vector<Neighbor> candidates;
    for (int32_t v : candidate_ids)
        if (size_t(v) != node) candidates.push_back({dist(vec(node), v), v});
    std::sort(candidates.begin(), candidates.end());
    LabelSet mine = labels_of(node);
    std::vector<int32_t> kept;
    int32_t previous = -1;
    for (const Neighbor& c : candidates) {
        if (kept.size() >= size_t(params_.R_stitched)) break;
        if (c.id == previous) continue;
        previous = c.id;
        LabelSet theirs = labels_of(c.id), shared;
        std::set_intersection(mine.begin(), mine.end(), theirs.begin(), theirs.end(), std::back_inserter(shared));
        bool diverse = true;
        for (int32_t k : kept) {
            bool covers = true;
            for (int32_t l : shared)
                if (!has_label(k, l)) {
                    covers = false;
                    break;
                }
            if (covers && params_.alpha * dist(vec(k), c.id) <= c.score) {
                diverse = false;
                break;
            }
        }
        if (diverse) kept.push_back(c.id);
    }
    return kept;
}

void StitchedIndex::build(const float* X, size_t n, const LabelRows& labels, int threads) {
    if (n >= (size_t(1) << 31)) throw std::invalid_argument("Stitched-DiskANN: at most 2^31 - 1 vectors");
    labels.check(n, "Stitched-DiskANN");
    n_ = n;
    data_.assign(X, X + n * d_);
    label_offsets_.assign(1, 0);
    labels_.clear();
    for (size_t i = 0; i < n; i++) {
        LabelSet row = labels.row(i);
        labels_.insert(labels_.end(), row.begin(), row.end());
        label_offsets_.push_back(labels_.size());
    }
    count_labels();
    size_t F = label_count_.size();
    std::vector<std::vector<int32_t>> members(F);
    for (size_t f = 0; f < F; f++) members[f].assign(members_.begin() + member_offsets_[f], members_.begin() + member_offsets_[f + 1]);
    start_.assign(F, -1);

    // One Vamana graph per label, largest labels first so the threads finish together; each is
    // seeded by its label, so the result does not depend on the thread count.
    std::vector<std::vector<std::vector<int32_t>>> graphs(F);
    std::vector<size_t> by_size(F);
    std::iota(by_size.begin(), by_size.end(), 0);
    std::stable_sort(by_size.begin(), by_size.end(), [&](size_t a, size_t b) { return members[a].size() > members[b].size(); });
    parallel_for(F, threads, [&](size_t i) {
        size_t f = by_size[i];
        if (!members[f].empty()) graphs[f] = label_graph(int32_t(f), members[f]);
    }, 1);

    // Stitch: the union of every label graph's out-edges, in label order.
    std::vector<std::vector<int32_t>> stitched(n);
    for (size_t f = 0; f < F; f++) {
        for (size_t i = 0; i < members[f].size(); i++) {
            auto& out = stitched[members[f][i]];
            out.insert(out.end(), graphs[f][i].begin(), graphs[f][i].end());
        }
        std::vector<std::vector<int32_t>>().swap(graphs[f]);
    }
    parallel_for(n, threads, [&](size_t v) {
        auto& out = stitched[v];
        std::sort(out.begin(), out.end());
        out.erase(std::unique(out.begin(), out.end()), out.end());
        if (out.size() > size_t(params_.R_stitched)) out = filtered_prune(v, out);
    }, 64);
    adj_offsets_.assign(1, 0);
    adj_.clear();
    for (const auto& out : stitched) {
        adj_.insert(adj_.end(), out.begin(), out.end());
        adj_offsets_.push_back(adj_.size());
    }
    visited_pool_ = std::make_unique<VisitedPool>(n);
    member_pool_ = std::make_unique<VisitedPool>(n);
    expanded_pool_ = std::make_unique<VisitedPool>(n);
}

// ---------------------------------------------------------------------------------------------
// Search

struct StitchedIndex::Walk {
    VisitedPool::Handle visited;   // distance computed, or skipped as carrying no search label
    VisitedPool::Handle expanded;  // edges followed
    std::vector<Neighbor> seen;    // every point whose distance was computed
    TopK result;                   // the k nearest that pass the predicate
};

void StitchedIndex::greedy(const float* q, const LabelSet& search_labels, const VisitedList* members,
                           const LabelSet& query, Predicate predicate, size_t L, Walk& walk, uint64_t& computed) const {
    auto offer = [&](Neighbor c) {
        walk.seen.push_back(c);
        if (passes(c.id, query, predicate)) walk.result.push(c);
    };
    if (walk.seen.empty()) {  // a new walk: its start nodes
        std::vector<int32_t> starts;
        if (search_labels.empty()) {  // every point may pass: start from the largest labels' start nodes
            std::vector<int32_t> by_count(label_count_.size());
            std::iota(by_count.begin(), by_count.end(), 0);
            std::stable_sort(by_count.begin(), by_count.end(), [&](int32_t a, int32_t b) { return label_count_[a] > label_count_[b]; });
            for (size_t j = 0; j < std::min(UNLABELLED_QUERY_STARTS, by_count.size()); j++) starts.push_back(start_[by_count[j]]);
        } else {
            for (int32_t l : search_labels) starts.push_back(start_[l]);
        }
        for (int32_t s : starts) {
            if (s < 0 || walk.visited->test_and_mark(s)) continue;
            computed++;
            offer({dist(q, s), s});
        }
    }
    TopK list(L);
    for (const Neighbor& c : walk.seen) list.push(c);
    NearestOnTop candidates;
    for (const Neighbor& c : walk.seen)
        if (c.score <= list.bound() && !walk.expanded->visited(c.id)) candidates.push(c);
    std::vector<int32_t> eligible;
    eligible.reserve(params_.R_stitched);
    while (!candidates.empty()) {
        Neighbor c = candidates.top();
        if (list.full() && c.score > list.bound()) break;
        candidates.pop();
        walk.expanded->mark(c.id);
        // The neighbours the walk may enter first, so that only their vectors are fetched: most
        // neighbours of a point in a rare label's subgraph carry other labels only.
        eligible.clear();
        const int32_t* end = adj_.data() + adj_offsets_[c.id + 1];
        for (const int32_t* p = adj_.data() + adj_offsets_[c.id]; p < end; p++) {
            if (walk.visited->test_and_mark(*p)) continue;
            if (members ? !members->visited(*p) : !search_labels.empty() && !carries_any(*p, search_labels)) continue;
            eligible.push_back(*p);
        }
        for (int32_t p : eligible) prefetch_vector(vec(p), d_);
        for (int32_t p : eligible) {
            Neighbor x{dist(q, p), p};
            computed++;
            offer(x);
            if (!list.full() || x.score < list.bound()) candidates.push(x), list.push(x);
        }
    }
}

size_t StitchedIndex::search(const float* q, size_t k, const LabelSet& query, Predicate predicate, size_t L_search,
                             int32_t* ids, float* scores) const {
    std::fill(ids, ids + k, -1);
    std::fill(scores, scores + k, INFINITY);
    if (n_ == 0 || k == 0) return 0;
    // The labels the search walks on, and how many points carry them (the most a search can see).
    LabelSet search_labels;
    size_t reachable = 0;
    auto count = [&](int32_t l) { return l >= 0 && size_t(l) < label_count_.size() ? label_count_[l] : 0; };
    if (predicate == Predicate::Overlap) {
        for (int32_t l : query)
            if (count(l) > 0) search_labels.push_back(l), reachable += count(l);
        if (search_labels.empty()) return 0;
    } else if (query.empty()) {
        reachable = n_;
    } else {
        int32_t rarest = query[0];
        for (int32_t l : query) {
            if (count(l) == 0) return 0;  // no point carries it: none passes
            if (count(l) < count(rarest)) rarest = l;
        }
        search_labels = {rarest};
        reachable = count(rarest);
    }
    // A search label's points marked once per search, one write each, instead of a label lookup
    // per neighbour seen: that pays for labels that are a small part of the base, whose points'
    // neighbours mostly carry other labels only.
    auto members = member_pool_->get();
    const bool marked = !search_labels.empty() && reachable <= n_ / MEMBER_MARKS_BELOW;
    if (marked)
        for (int32_t l : search_labels)
            for (uint64_t j = member_offsets_[l]; j < member_offsets_[l + 1]; j++) members->mark(members_[j]);
    uint64_t computed = 0;
    bool grown = false;
    Walk walk{visited_pool_->get(), expanded_pool_->get(), {}, TopK(k)};
    for (size_t L = std::max(L_search, k);; L = std::min(2 * L, std::max(reachable, k))) {
        greedy(q, search_labels, marked ? members.list.get() : nullptr, query, predicate, L, walk, computed);
        if (walk.result.size() >= k || L >= reachable) break;
        grown = true;
    }
    std::vector<Neighbor> found = walk.result.take_sorted();
    size_t out = std::min(k, found.size());
    for (size_t j = 0; j < out; j++) ids[j] = found[j].id, scores[j] = found[j].score;
    distance_computations_ += computed;
    if (grown) grown_searches_++;
    return out;
}

std::vector<std::pair<int32_t, int32_t>> StitchedIndex::edges() const {
    std::vector<std::pair<int32_t, int32_t>> out;
    for (size_t i = 0; i < n_; i++)
        for (uint64_t j = adj_offsets_[i]; j < adj_offsets_[i + 1]; j++) out.emplace_back(int32_t(i), adj_[j]);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Index files

template <class Out>
void StitchedIndex::serialize(Out& out) const {
    out.bytes(MAGIC, std::string(MAGIC).size());
    out.template value<uint32_t>(FORMAT_VERSION);
    out.template value<uint64_t>(d_);
    out.template value<int32_t>(int32_t(metric_));
    out.template value<int32_t>(params_.R_small);
    out.template value<int32_t>(params_.L_small);
    out.template value<int32_t>(params_.R_stitched);
    out.template value<float>(params_.alpha);
    out.template value<uint64_t>(params_.seed);
    out.array(data_);
    out.array(label_offsets_);
    out.array(labels_);
    out.array(start_);
    out.array(adj_offsets_);
    out.array(adj_);
}

void StitchedIndex::save(const std::string& path) const {
    Writer out(path);
    serialize(out);
}

size_t StitchedIndex::serialized_size() const {
    Writer counter;
    serialize(counter);
    return counter.size();
}

std::unique_ptr<StitchedIndex> StitchedIndex::load(const std::string& path) {
    Reader in(path);
    in.expect_magic(MAGIC, FORMAT_VERSION);
    size_t d = in.value<uint64_t>();
    int32_t metric_code = in.value<int32_t>();
    if (d == 0 || metric_code != 0) throw std::runtime_error(path + ": corrupt index file (header)");
    StitchedParams p;
    p.R_small = in.value<int32_t>();
    p.L_small = in.value<int32_t>();
    p.R_stitched = in.value<int32_t>();
    p.alpha = in.value<float>();
    p.seed = in.value<uint64_t>();
    std::unique_ptr<StitchedIndex> index;
    try {
        index = std::make_unique<StitchedIndex>(d, Metric(metric_code), p);
    } catch (const std::invalid_argument&) {
        throw std::runtime_error(path + ": corrupt index file (parameters)");
    }
    const uint64_t limit = uint64_t(1) << 40;
    index->data_ = in.array<float, HugePageAllocator<float>>(limit);
    size_t n = index->n_ = index->data_.size() / d;
    index->label_offsets_ = in.array<uint64_t>(n + 1);
    index->labels_ = in.array<int32_t>(limit);
    index->start_ = in.array<int32_t>(limit);
    index->adj_offsets_ = in.array<uint64_t>(n + 1);
    index->adj_ = in.array<int32_t, HugePageAllocator<int32_t>>(limit);
    bool consistent = index->data_.size() % d == 0 && index->label_offsets_.size() == n + 1 &&
                      index->label_offsets_.back() == index->labels_.size() && index->adj_offsets_.size() == n + 1 &&
                      index->adj_offsets_.back() == index->adj_.size();
    for (size_t i = 0; consistent && i < n; i++)
        consistent = index->label_offsets_[i] <= index->label_offsets_[i + 1] && index->adj_offsets_[i] <= index->adj_offsets_[i + 1];
    for (int32_t v : index->adj_) consistent = consistent && v >= 0 && size_t(v) < n;
    for (int32_t s : index->start_) consistent = consistent && s >= -1 && s < int32_t(n);
    for (int32_t l : index->labels_) consistent = consistent && l >= 0;
    if (!consistent) throw std::runtime_error(path + ": corrupt index file (inconsistent sizes)");
    index->count_labels();
    if (index->start_.size() != index->label_count_.size()) throw std::runtime_error(path + ": corrupt index file (start nodes)");
    index->visited_pool_ = std::make_unique<VisitedPool>(n);
    index->member_pool_ = std::make_unique<VisitedPool>(n);
    index->expanded_pool_ = std::make_unique<VisitedPool>(n);
    return index;
}

}  // namespace filterbench
