#include "nhq.h"

#include <cmath>
#include <mutex>
#include <numeric>
#include <random>
#include <stdexcept>

#include "filterbench/io.h"
#include "filterbench/parallel.h"

namespace filterbench {

static const char* MAGIC = "FBNHQ";
static const uint32_t FORMAT_VERSION = 1;
static const size_t WEIGHT_PAIRS = 10000;        // random pairs whose mean δ is the weight
static const double CONVERGED = 0.001;          // NN-descent stops when fewer than this share of K·n pool entries change

void NhqParams::check() const {
    auto positive = [](int v, const char* name) {
        if (v < 1) throw std::invalid_argument(std::string("NHQ: ") + name + " must be at least 1, got " + std::to_string(v));
    };
    positive(K, "K");
    positive(iter, "iter");
    positive(S, "S");
    positive(R, "R");
    positive(RANGE, "RANGE");
    positive(PL, "PL");
    if (L < K) throw std::invalid_argument("NHQ: L must be at least K, got " + std::to_string(L));
    if (B < 0 || B > RANGE) throw std::invalid_argument("NHQ: B must be between 0 and RANGE, got " + std::to_string(B));
    if (!(M >= 1.0f)) throw std::invalid_argument("NHQ: M must be at least 1");
}

NhqIndex::NhqIndex(size_t d, Metric metric, NhqParams params) : d_(d), metric_(metric), params_(params) {
    params_.check();
    if (d == 0) throw std::invalid_argument("NHQ: dimension must be positive");
    // The fusion adds a non-negative attribute term to the vector distance: inner products are not one.
    if (metric != Metric::L2) throw std::invalid_argument("NHQ: metric must be l2 (normalize angular data first)");
}

size_t NhqIndex::attribute_distance(size_t i, const int32_t* begin, const int32_t* end) const {
    // |L_i Δ Q| / 2, by merging the two sorted sets.
    const int32_t *a = labels_.data() + label_offsets_[i], *a_end = labels_.data() + label_offsets_[i + 1];
    size_t shared = 0, sizes = size_t(a_end - a) + size_t(end - begin);
    while (a < a_end && begin < end) {
        if (*a < *begin) a++;
        else if (*begin < *a) begin++;
        else shared++, a++, begin++;
    }
    return (sizes - 2 * shared + 1) / 2;
}

float NhqIndex::fused(size_t i, size_t j) const {
    return score(metric_, vec(i), vec(j), d_) +
           weight_ * float(attribute_distance(i, labels_.data() + label_offsets_[j], labels_.data() + label_offsets_[j + 1]));
}

// ---------------------------------------------------------------------------------------------
// Build

namespace {
struct PoolEntry {
    float score;
    int32_t id;
    bool fresh;  // not yet joined
};

// A point's candidate pool for NN-descent: the `capacity` nearest seen, sorted, under a lock.
struct Pool {
    std::vector<PoolEntry> entries;
    std::mutex mutex;

    bool insert(PoolEntry e, size_t capacity) {
        std::lock_guard<std::mutex> lock(mutex);
        if (entries.size() >= capacity && !(e.score < entries.back().score)) return false;
        for (const PoolEntry& x : entries)
            if (x.id == e.id) return false;
        auto at = std::upper_bound(entries.begin(), entries.end(), e,
                                   [](const PoolEntry& a, const PoolEntry& b) { return a.score < b.score || (a.score == b.score && a.id < b.id); });
        entries.insert(at, e);
        if (entries.size() > capacity) entries.pop_back();
        return true;
    }
};
}  // namespace

std::vector<std::vector<int32_t>> NhqIndex::kgraph(int threads) const {
    size_t n = n_, L = std::min(size_t(params_.L), n - 1), K = std::min(size_t(params_.K), n - 1);
    std::vector<Pool> pools(n);
    parallel_for(n, threads, [&](size_t i) {
        std::mt19937_64 rng(params_.seed + 0x9E3779B97F4A7C15ull * (i + 1));
        std::uniform_int_distribution<size_t> any(0, n - 1);
        while (pools[i].entries.size() < L) {
            size_t j = any(rng);
            if (j != i) pools[i].insert({fused(i, j), int32_t(j), true}, L);
        }
    }, 64);
    for (int round = 0; round < params_.iter; round++) {
        // Each point's S nearest fresh entries are joined this round (and become old), beside
        // its old ones; reverse lists hold at most R of each, in id order.
        std::vector<std::vector<int32_t>> fresh(n), old(n), rfresh(n), rold(n);
        for (size_t i = 0; i < n; i++) {
            for (PoolEntry& e : pools[i].entries) {
                if (e.fresh && fresh[i].size() < size_t(params_.S)) {
                    fresh[i].push_back(e.id);
                    e.fresh = false;
                } else if (!e.fresh) {
                    old[i].push_back(e.id);
                }
            }
            for (int32_t j : fresh[i])
                if (rfresh[j].size() < size_t(params_.R)) rfresh[j].push_back(int32_t(i));
            for (int32_t j : old[i])
                if (rold[j].size() < size_t(params_.R)) rold[j].push_back(int32_t(i));
        }
        std::atomic<size_t> updates{0};
        parallel_for(n, threads, [&](size_t i) {
            std::vector<int32_t> a = fresh[i], b = old[i];
            a.insert(a.end(), rfresh[i].begin(), rfresh[i].end());
            b.insert(b.end(), rold[i].begin(), rold[i].end());
            for (auto* list : {&a, &b}) {
                std::sort(list->begin(), list->end());
                list->erase(std::unique(list->begin(), list->end()), list->end());
            }
            size_t changed = 0;
            auto join = [&](int32_t x, int32_t y) {
                if (x == y) return;
                float s = fused(size_t(x), size_t(y));
                changed += pools[x].insert({s, y, true}, L);
                changed += pools[y].insert({s, x, true}, L);
            };
            for (size_t p = 0; p < a.size(); p++) {
                for (size_t q = p + 1; q < a.size(); q++) join(a[p], a[q]);
                for (int32_t y : b) join(a[p], y);
            }
            updates += changed;
        }, 16);
        if (double(updates) < CONVERGED * double(K * n)) break;
    }
    std::vector<std::vector<int32_t>> knn(n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < std::min(K, pools[i].entries.size()); j++) knn[i].push_back(pools[i].entries[j].id);
    return knn;
}

std::vector<int32_t> NhqIndex::select(size_t u, std::vector<Neighbor> candidates) const {
    std::sort(candidates.begin(), candidates.end());
    std::vector<int32_t> kept;
    int32_t previous = -1;
    for (const Neighbor& c : candidates) {
        if (kept.size() >= size_t(params_.RANGE)) break;
        if (c.id == int32_t(u) || c.id == previous) continue;
        previous = c.id;
        bool diverse = kept.size() < size_t(params_.B);
        if (!diverse) {
            diverse = true;
            for (int32_t s : kept)
                if (params_.M * fused(size_t(s), size_t(c.id)) <= c.score) {
                    diverse = false;
                    break;
                }
        }
        if (diverse) kept.push_back(c.id);
    }
    return kept;
}

void NhqIndex::build(const float* X, size_t n, const LabelRows& attributes, int threads) {
    if (n >= (size_t(1) << 31)) throw std::invalid_argument("NHQ: at most 2^31 - 1 vectors");
    if (n < 2) throw std::invalid_argument("NHQ: at least 2 vectors are needed");
    attributes.check(n, "NHQ");
    n_ = n;
    data_.assign(X, X + n * d_);
    label_offsets_.assign(1, 0);
    labels_.clear();
    for (size_t i = 0; i < n; i++) {
        LabelSet row = attributes.row(i);
        labels_.insert(labels_.end(), row.begin(), row.end());
        label_offsets_.push_back(labels_.size());
    }
    // The weight: the mean vector distance of seeded random pairs.
    std::mt19937_64 rng(params_.seed);
    std::uniform_int_distribution<size_t> any(0, n - 1);
    double total = 0;
    for (size_t p = 0; p < WEIGHT_PAIRS; p++) total += score(metric_, vec(any(rng)), vec(any(rng)), d_);
    weight_ = float(total / WEIGHT_PAIRS);
    // The medoid: the point nearest the mean.
    std::vector<float> mean(d_, 0.0f);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d_; j++) mean[j] += vec(i)[j] / float(n);
    float best = INFINITY;
    for (size_t i = 0; i < n; i++) {
        float s = score(metric_, mean.data(), vec(i), d_);
        if (s < best) best = s, medoid_ = int32_t(i);
    }

    std::vector<std::vector<int32_t>> knn = kgraph(threads);
    // NPG: candidates from the kNN graph two hops out, the PL nearest; then reverse edges.
    std::vector<std::vector<int32_t>> out(n);
    parallel_for(n, threads, [&](size_t u) {
        std::vector<int32_t> ids = knn[u];
        for (int32_t v : knn[u]) ids.insert(ids.end(), knn[v].begin(), knn[v].end());
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        std::vector<Neighbor> candidates;
        for (int32_t v : ids)
            if (size_t(v) != u) candidates.push_back({fused(u, size_t(v)), v});
        std::sort(candidates.begin(), candidates.end());
        if (candidates.size() > size_t(params_.PL)) candidates.resize(size_t(params_.PL));
        out[u] = select(u, candidates);
    }, 64);
    std::vector<std::vector<int32_t>> reverse(n);
    for (size_t u = 0; u < n; u++)
        for (int32_t v : out[u]) reverse[v].push_back(int32_t(u));
    std::vector<std::vector<int32_t>> final(n);
    parallel_for(n, threads, [&](size_t v) {
        std::vector<int32_t> ids = out[v];
        ids.insert(ids.end(), reverse[v].begin(), reverse[v].end());
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        if (ids.size() <= size_t(params_.RANGE)) {  // room for every reverse edge
            final[v] = ids;
            return;
        }
        std::vector<Neighbor> candidates;
        for (int32_t w : ids) candidates.push_back({fused(v, size_t(w)), w});
        final[v] = select(v, candidates);
    }, 64);
    adj_offsets_.assign(1, 0);
    adj_.clear();
    for (const auto& edges : final) {
        adj_.insert(adj_.end(), edges.begin(), edges.end());
        adj_offsets_.push_back(adj_.size());
    }
    visited_pool_ = std::make_unique<VisitedPool>(n);
}

// ---------------------------------------------------------------------------------------------
// Search

size_t NhqIndex::search(const float* q, size_t k, const LabelSet& query, size_t L_search, int32_t* ids,
                        float* scores) const {
    std::fill(ids, ids + k, -1);
    std::fill(scores, scores + k, INFINITY);
    if (n_ == 0 || k == 0) return 0;
    auto visited = visited_pool_->get();
    uint64_t computed = 0;
    NearestOnTop candidates;
    size_t list_size = std::max(L_search, k);
    TopK list(list_size), result(k);
    auto visit = [&](int32_t v) {
        float vector_distance = score(metric_, q, vec(v), d_);
        computed++;
        size_t differing = attribute_distance(size_t(v), query.data(), query.data() + query.size());
        if (differing == 0 && size_t(label_offsets_[v + 1] - label_offsets_[v]) == query.size())
            result.push({vector_distance, v});
        float s = vector_distance + weight_ * float(differing);
        if (!list.full() || s < list.bound()) candidates.push({s, v}), list.push({s, v});
    };
    // As KGraph searches, from points spread over the base (here: evenly by id, so deterministic)
    // besides the medoid: the list's first L fill with them, and some carry the query's attributes.
    size_t spread = std::min(list_size, n_);
    for (size_t j = 0; j <= spread; j++) {
        size_t start = j == spread ? size_t(medoid_) : j * n_ / spread;
        if (!visited->test_and_mark(start)) visit(int32_t(start));
    }
    while (!candidates.empty()) {
        Neighbor c = candidates.top();
        if (list.full() && c.score > list.bound()) break;
        candidates.pop();
        const int32_t* end = adj_.data() + adj_offsets_[c.id + 1];
        for (const int32_t* p = adj_.data() + adj_offsets_[c.id]; p < end; p++) prefetch_vector(vec(*p), d_);
        for (const int32_t* p = adj_.data() + adj_offsets_[c.id]; p < end; p++)
            if (!visited->test_and_mark(size_t(*p))) visit(*p);
    }
    std::vector<Neighbor> found = result.take_sorted();
    for (size_t j = 0; j < found.size(); j++) ids[j] = found[j].id, scores[j] = found[j].score;
    distance_computations_ += computed;
    return found.size();
}

std::vector<std::pair<int32_t, int32_t>> NhqIndex::edges() const {
    std::vector<std::pair<int32_t, int32_t>> out;
    for (size_t i = 0; i < n_; i++)
        for (uint64_t j = adj_offsets_[i]; j < adj_offsets_[i + 1]; j++) out.emplace_back(int32_t(i), adj_[j]);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Index files

template <class Out>
void NhqIndex::serialize(Out& out) const {
    out.bytes(MAGIC, std::string(MAGIC).size());
    out.template value<uint32_t>(FORMAT_VERSION);
    out.template value<uint64_t>(d_);
    out.template value<int32_t>(int32_t(metric_));
    for (int v : {params_.K, params_.L, params_.iter, params_.S, params_.R, params_.RANGE, params_.PL, params_.B})
        out.template value<int32_t>(v);
    out.template value<float>(params_.M);
    out.template value<uint64_t>(params_.seed);
    out.template value<float>(weight_);
    out.template value<int32_t>(medoid_);
    out.array(data_);
    out.array(label_offsets_);
    out.array(labels_);
    out.array(adj_offsets_);
    out.array(adj_);
}

void NhqIndex::save(const std::string& path) const {
    Writer out(path);
    serialize(out);
}

size_t NhqIndex::serialized_size() const {
    Writer counter;
    serialize(counter);
    return counter.size();
}

std::unique_ptr<NhqIndex> NhqIndex::load(const std::string& path) {
    Reader in(path);
    in.expect_magic(MAGIC, FORMAT_VERSION);
    size_t d = in.value<uint64_t>();
    int32_t metric_code = in.value<int32_t>();
    if (d == 0 || metric_code != 0) throw std::runtime_error(path + ": corrupt index file (header)");
    NhqParams p;
    for (int* v : {&p.K, &p.L, &p.iter, &p.S, &p.R, &p.RANGE, &p.PL, &p.B}) *v = in.value<int32_t>();
    p.M = in.value<float>();
    p.seed = in.value<uint64_t>();
    std::unique_ptr<NhqIndex> index;
    try {
        index = std::make_unique<NhqIndex>(d, Metric(metric_code), p);
    } catch (const std::invalid_argument&) {
        throw std::runtime_error(path + ": corrupt index file (parameters)");
    }
    index->weight_ = in.value<float>();
    index->medoid_ = in.value<int32_t>();
    const uint64_t limit = uint64_t(1) << 40;
    index->data_ = in.array<float, HugePageAllocator<float>>(limit);
    size_t n = index->n_ = index->data_.size() / d;
    index->label_offsets_ = in.array<uint64_t>(n + 1);
    index->labels_ = in.array<int32_t>(limit);
    index->adj_offsets_ = in.array<uint64_t>(n + 1);
    index->adj_ = in.array<int32_t, HugePageAllocator<int32_t>>(limit);
    bool consistent = index->data_.size() % d == 0 && n > 0 && index->label_offsets_.size() == n + 1 &&
                      index->label_offsets_.back() == index->labels_.size() && index->adj_offsets_.size() == n + 1 &&
                      index->adj_offsets_.back() == index->adj_.size() && index->medoid_ >= 0 &&
                      size_t(index->medoid_) < n && std::isfinite(index->weight_) && index->weight_ >= 0;
    for (size_t i = 0; consistent && i < n; i++)
        consistent = index->label_offsets_[i] <= index->label_offsets_[i + 1] && index->adj_offsets_[i] <= index->adj_offsets_[i + 1];
    for (int32_t v : index->adj_) consistent = consistent && v >= 0 && size_t(v) < n;
    if (!consistent) throw std::runtime_error(path + ": corrupt index file (inconsistent sizes)");
    index->visited_pool_ = std::make_unique<VisitedPool>(n);
    return index;
}

}  // namespace filterbench
