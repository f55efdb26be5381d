#include "irange.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <numeric>
#include <random>
#include <stdexcept>

#include "filterbench/io.h"
#include "filterbench/parallel.h"

namespace filterbench {

static const char* MAGIC = "FBIRANGE";
static const uint32_t FORMAT_VERSION = 2;  // 2: the segments' entries

void IRangeParams::check() const {
    if (M < 2 || M > 256) throw std::invalid_argument("iRangeGraph: M must be in [2, 256], got " + std::to_string(M));
    if (ef_construction < M)
        throw std::invalid_argument("iRangeGraph: ef_construction must be at least M, got " +
                                    std::to_string(ef_construction));
}

IRangeIndex::IRangeIndex(size_t d, Metric metric, IRangeParams params) : d_(d), metric_(metric), params_(params) {
    params_.check();
    if (d == 0) throw std::invalid_argument("iRangeGraph: dimension must be positive");
}

// Layer j's segments are `layer_width(j)` positions wide; layer 0 holds the whole base and the widths
// halve down to the last layer, whose segments hold at most M positions (so segments nest).
static size_t leaf_width(size_t n, size_t layers) { return (n + (size_t(1) << (layers - 1)) - 1) >> (layers - 1); }

size_t IRangeIndex::layer_width(size_t layer) const { return leaf_width(n_, layers_) << (layers_ - 1 - layer); }

size_t IRangeIndex::segment_begin(size_t layer, size_t p) const { return p / layer_width(layer) * layer_width(layer); }

size_t IRangeIndex::segment_end(size_t layer, size_t p) const { return std::min(n_, segment_begin(layer, p) + layer_width(layer)); }

// ---------------------------------------------------------------------------------------------
// Build

struct IRangeIndex::Build {
    std::vector<std::mutex> locks;
    std::vector<int32_t> counts;  // neighbours per position in the layer being built
    VisitedPool visited;
    explicit Build(size_t n) : locks(n), counts(n, 0), visited(n) {}
};

void IRangeIndex::build(const float* X, const double* values, size_t n, int threads) {
    if (n >= (size_t(1) << 31)) throw std::invalid_argument("iRangeGraph: at most 2^31 - 1 vectors");
    if (n == 0) throw std::invalid_argument("iRangeGraph: no vectors");
    n_ = n;
    // Positions: the order of the values, missing ones (NaN) last.
    original_.resize(n);
    std::iota(original_.begin(), original_.end(), 0);
    std::stable_sort(original_.begin(), original_.end(), [&](int32_t a, int32_t b) {
        bool na = std::isnan(values[a]), nb = std::isnan(values[b]);
        return na != nb ? nb : (!na && values[a] < values[b]);
    });
    values_.resize(n);
    data_.resize(n * d_);
    for (size_t p = 0; p < n; p++) {
        values_[p] = values[original_[p]];
        std::copy(X + size_t(original_[p]) * d_, X + (size_t(original_[p]) + 1) * d_, data_.begin() + p * d_);
    }
    present_ = size_t(std::find_if(values_.begin(), values_.end(), [](double v) { return std::isnan(v); }) -
                      values_.begin());
    layers_ = 1;
    while (leaf_width(n, layers_) > M()) layers_++;
    links_.assign(layers_ * n * M(), -1);
    visited_pool_ = std::make_unique<VisitedPool>(n);
    // Bottom up: a segment's graph grows from its left half's, one layer down.
    for (size_t layer = layers_; layer-- > 0;) build_layer(layer, threads);
    find_segment_entries(threads);
}

void IRangeIndex::find_segment_entries(int threads) {
    // Entries by need. A segment's graph is entered at the member nearest its mean; then members
    // drawn in a seeded order are searched for from the entries so far (on the graph that a range
    // of exactly this segment improvises), and each one not found adds an entry. A search places
    // a segment's entries evenly through it (after the first): where the attribute follows the
    // clusters, a large segment is a run of clusters that its graph barely links, and the runs
    // lie along the segment. A segment whose graph leads to all of it keeps one entry.
    first_entry_.assign(layers_, {});
    entry_count_.assign(layers_, {});
    for (size_t layer = 0; layer < layers_; layer++) {
        size_t segments = (n_ + layer_width(layer) - 1) / layer_width(layer);
        first_entry_[layer].resize(segments);
        entry_count_[layer].resize(segments);
        parallel_for(segments, threads, [&](size_t s) {
            size_t begin = s * layer_width(layer), end = std::min(n_, begin + layer_width(layer)), size = end - begin;
            first_entry_[layer][s] = int32_t(nearest_to_mean(begin, end, end));
            entry_count_[layer][s] = 1;
            if (size <= M() + 1) return;  // every member links to every other
            std::vector<int32_t> sample(size);
            std::iota(sample.begin(), sample.end(), int32_t(begin));
            std::mt19937_64 rng(params_.seed + 0x2545F4914F6CDD1Dull * (layer * 1000003 + begin + 1));
            std::shuffle(sample.begin(), sample.end(), rng);
            sample.resize(std::min(size, std::max<size_t>(ENTRY_PROBES_MIN, size / ENTRY_PROBE_EVERY)));
            for (int32_t x : sample) {
                if (entry_count_[layer][s] >= MAX_SEGMENT_ENTRIES) break;
                TopK top(ENTRY_PROBE_EF);
                best_first(vec(x), begin, end, top, [&](auto enter) { enter_segment(layer, begin, enter); });
                std::vector<Neighbor> reached = top.take_sorted();
                if (reached.empty() || reached[0].id != x) entry_count_[layer][s]++;
            }
        }, 1);
    }
}

template <class Enter>
void IRangeIndex::enter_segment(size_t layer, size_t begin, Enter enter) const {
    size_t s = begin / layer_width(layer), size = segment_end(layer, begin) - begin, count = entry_count_[layer][s];
    enter(size_t(first_entry_[layer][s]));
    for (size_t i = 1; i < count; i++) enter(begin + (2 * i + 1) * size / (2 * count));
}

size_t IRangeIndex::nearest_to_mean(size_t begin, size_t end, size_t among_end) const {
    std::vector<float> mean(d_, 0.0f);
    for (size_t p = begin; p < end; p++)
        for (size_t j = 0; j < d_; j++) mean[j] += vec(p)[j] / float(end - begin);
    size_t nearest = begin;
    float best = INFINITY;
    for (size_t p = begin; p < among_end; p++) {
        float s = dist(mean.data(), p);
        if (s < best) best = s, nearest = p;
    }
    return nearest;
}

std::vector<uint32_t> IRangeIndex::entry_counts(size_t layer) const {
    if (layer >= layers_) throw std::invalid_argument("iRangeGraph: no layer " + std::to_string(layer));
    return entry_count_[layer];
}

void IRangeIndex::build_layer(size_t layer, int threads) {
    Build b(n_);
    std::vector<int32_t> entries, order;
    for (size_t begin = 0; begin < n_; begin = segment_end(layer, begin)) {
        size_t end = segment_end(layer, begin), size = end - begin;
        if (size <= M() + 1) {  // a small segment (every one of the last layer): every member links to every other
            for (size_t p = begin; p < end; p++)
                for (size_t q = begin; q < end; q++)
                    if (p != q) links(layer, p)[b.counts[p]++] = int32_t(q);
            continue;
        }
        // The left half's members keep their lists of one layer down, which link only among
        // themselves; the right half's are inserted, and linked back by reverse links. Half the
        // insertions of a graph built from scratch, as the official build does.
        size_t middle = std::min(end, begin + layer_width(layer + 1));
        for (size_t p = begin; p < middle; p++) {
            const int32_t* below = links(layer + 1, p);
            int32_t* list = links(layer, p);
            while (size_t(b.counts[p]) < M() && below[b.counts[p]] >= 0) list[b.counts[p]] = below[b.counts[p]], b.counts[p]++;
        }
        // The entry: the left half's member nearest the segment's mean; the right half in a seeded order.
        int32_t entry = int32_t(nearest_to_mean(begin, end, middle));
        std::vector<int32_t> members(end - middle);
        std::iota(members.begin(), members.end(), int32_t(middle));
        std::mt19937_64 rng(params_.seed + 0x9E3779B97F4A7C15ull * (layer * 1000003 + begin + 1));
        std::shuffle(members.begin(), members.end(), rng);
        for (int32_t p : members) {
            order.push_back(p);
            entries.push_back(entry);
        }
    }
    parallel_for(order.size(), threads, [&](size_t i) { insert(b, layer, order[i], entries[i]); }, 16);
}

std::vector<Neighbor> IRangeIndex::prune(int32_t p, std::vector<Neighbor> candidates) const {
    // HNSW's heuristic (the relative-neighbourhood rule): keep a candidate unless a kept
    // neighbour is nearer to it than p is.
    std::sort(candidates.begin(), candidates.end());
    std::vector<Neighbor> kept;
    int32_t previous = -1;
    for (const Neighbor& c : candidates) {
        if (kept.size() >= M()) break;
        if (c.id == p || c.id == previous) continue;
        previous = c.id;
        bool diverse = true;
        for (const Neighbor& k : kept)
            if (dist(vec(k.id), c.id) < c.score) {
                diverse = false;
                break;
            }
        if (diverse) kept.push_back(c);
    }
    return kept;
}

void IRangeIndex::insert(Build& b, size_t layer, int32_t p, int32_t entry) {
    auto visited = b.visited.get();
    NearestOnTop candidates;
    TopK top(size_t(params_.ef_construction));
    Neighbor start{dist(vec(p), entry), entry};
    visited->mark(entry);
    candidates.push(start);
    top.push(start);
    std::vector<int32_t> neighbors;
    while (!candidates.empty()) {
        Neighbor c = candidates.top();
        if (top.full() && c.score > top.bound()) break;
        candidates.pop();
        {
            std::lock_guard<std::mutex> lock(b.locks[c.id]);
            const int32_t* list = links(layer, c.id);
            neighbors.assign(list, list + b.counts[c.id]);
        }
        for (int32_t v : neighbors) {
            if (visited->test_and_mark(v)) continue;
            float s = dist(vec(p), v);
            if (!top.full() || s < top.bound()) {
                candidates.push({s, v});
                top.push({s, v});
            }
        }
    }
    // Besides what the search found: p's list one layer down (its links within its own half) and
    // the reverse links it was given before its turn came.
    std::vector<Neighbor> pool = top.take_sorted();
    {
        std::lock_guard<std::mutex> lock(b.locks[p]);
        const int32_t* list = links(layer, p);
        neighbors.assign(list, list + b.counts[p]);
    }
    if (layer + 1 < layers_)
        for (const int32_t* v = links(layer + 1, p); v < links(layer + 1, p) + M() && *v >= 0; v++) neighbors.push_back(*v);
    for (int32_t v : neighbors) pool.push_back({dist(vec(p), v), v});
    std::vector<Neighbor> chosen = prune(p, std::move(pool));
    {
        std::lock_guard<std::mutex> lock(b.locks[p]);
        int32_t* list = links(layer, p);
        for (size_t i = 0; i < chosen.size(); i++) list[i] = chosen[i].id;
        b.counts[p] = int32_t(chosen.size());
    }
    for (const Neighbor& c : chosen) {
        std::lock_guard<std::mutex> lock(b.locks[c.id]);
        int32_t* list = links(layer, c.id);
        if (size_t(b.counts[c.id]) < M()) {
            list[b.counts[c.id]++] = p;
            continue;
        }
        std::vector<Neighbor> pool{{c.score, p}};
        for (int i = 0; i < b.counts[c.id]; i++) pool.push_back({dist(vec(c.id), list[i]), list[i]});
        std::vector<Neighbor> kept = prune(c.id, pool);
        for (size_t i = 0; i < M(); i++) list[i] = i < kept.size() ? kept[i].id : -1;
        b.counts[c.id] = int32_t(kept.size());
    }
}

// ---------------------------------------------------------------------------------------------
// Search

void IRangeIndex::span(double lo, double hi, size_t& begin, size_t& end) const {
    auto first = values_.begin(), last = values_.begin() + present_;
    begin = size_t(std::lower_bound(first, last, lo) - first);
    end = size_t(std::upper_bound(first, last, hi) - first);
    if (end < begin || std::isnan(lo) || std::isnan(hi)) end = begin;
}

RangePath IRangeIndex::search(const float* q, size_t k, double lo, double hi, size_t ef_search, int64_t exact_below,
                              size_t entry_points, int32_t* ids, float* scores) const {
    std::fill(ids, ids + k, -1);
    std::fill(scores, scores + k, INFINITY);
    size_t begin, end;
    span(lo, hi, begin, end);
    size_t m = end - begin;
    bool scan = exact_below < 0 ? double(m) * double(d_) <= expected_graph_work(ef_search, entry_points, m)
                                : m <= size_t(exact_below);
    RangePath path = scan ? RangePath::Exact : RangePath::Graph;
    std::vector<Neighbor> found;
    if (scan) {  // a contiguous block of memory: scanned in order
        TopK exact(k);
        for (size_t p = begin; p < end; p++) exact.push({dist(q, p), int32_t(p)});
        distance_computations_ += m;
        found = exact.take_sorted();
    } else {
        TopK top(std::max(k, ef_search));
        GraphWork work = graph_search(q, begin, end, entry_points, top);
        distance_computations_ += work.distances;
        found = top.take_sorted();
    }
    for (size_t i = 0; i < std::min(k, found.size()); i++) {
        ids[i] = original_[found[i].id];
        scores[i] = found[i].score;
    }
    path_counts_[int(path)]++;
    return path;
}

template <class Each>
void IRangeIndex::cover(size_t begin, size_t end, Each each) const {
    // Depth first, left child first: (layer, segment begin).
    std::vector<std::pair<size_t, size_t>> todo = {{0, 0}};
    while (!todo.empty()) {
        auto [layer, b] = todo.back();
        todo.pop_back();
        size_t e = std::min(n_, b + layer_width(layer)), lo = std::max(b, begin), hi = std::min(e, end);
        if (lo >= hi) continue;
        if ((lo == b && hi == e) || layer + 1 == layers_) {
            each(layer, lo, hi);
        } else {
            todo.push_back({layer + 1, b + layer_width(layer + 1)});
            todo.push_back({layer + 1, b});
        }
    }
}

GraphWork IRangeIndex::graph_search(const float* q, size_t begin, size_t end, size_t entry_points, TopK& top) const {
    size_t m = end - begin;
    return best_first(q, begin, end, top, [&](auto enter) {
        if (entry_points == COVER_ENTRIES) {
            cover(begin, end, [&](size_t layer, size_t b, size_t e) {
                if (b != segment_begin(layer, b) || e != segment_end(layer, b)) return enter(b + (e - b) / 2);  // part of a leaf
                enter_segment(layer, b, enter);
            });
        } else {
            // Entries spread evenly through the span: where the attribute follows the clusters, the span
            // is a run of clusters that the improvised graph barely links, and each needs an entry of its own.
            size_t entries = std::min(entry_points, m);
            for (size_t i = 0; i < entries; i++) enter(begin + (2 * i + 1) * m / (2 * entries));
        }
    });
}

template <class Seed>
GraphWork IRangeIndex::best_first(const float* q, size_t begin, size_t end, TopK& top, Seed seed) const {
    size_t m = end - begin;
    GraphWork work;
    auto visited = visited_pool_->get();
    NearestOnTop candidates;
    seed([&](size_t position) {
        int32_t p = int32_t(position);
        if (visited->test_and_mark(p)) return;
        Neighbor s{dist(q, p), p};
        work.distances++;
        candidates.push(s);
        top.push(s);
    });
    // The lowest segment that holds the whole span: the layers above it hold no more of the span
    // than it does, so their lists add only longer links to the same vectors.
    size_t top_layer = 0;
    while (top_layer + 1 < layers_ && m > 0 && segment_begin(top_layer + 1, begin) == segment_begin(top_layer + 1, end - 1))
        top_layer++;
    size_t top_begin = segment_begin(top_layer, begin), top_end = segment_end(top_layer, begin);
    std::vector<int32_t> gathered;
    gathered.reserve(M());
    while (!candidates.empty()) {
        Neighbor c = candidates.top();
        if (top.full() && c.score > top.bound()) break;
        candidates.pop();
        // The improvised graph: c's neighbours inside the span, at most M, top-down from that
        // segment. A layer is passed over where c's segment one layer down holds all that its
        // own holds of the span: the lower list links the same vectors more closely.
        gathered.clear();
        size_t p = size_t(c.id), seg_begin = top_begin, seg_end = top_end;
        for (size_t layer = top_layer; layer < layers_ && gathered.size() < M(); layer++) {
            size_t down_begin = seg_begin, down_end = seg_end;  // c's segment one layer down
            if (layer + 1 < layers_) {
                size_t middle = std::min(seg_end, seg_begin + layer_width(layer + 1));
                (p < middle ? down_end : down_begin) = middle;
                bool same_part = std::max(seg_begin, begin) >= down_begin && std::min(seg_end, end) <= down_end;
                seg_begin = down_begin, seg_end = down_end;
                if (same_part) continue;
            }
            const int32_t* list = links(layer, p);
            for (size_t j = 0; j < M() && gathered.size() < M(); j++) {
                int32_t v = list[j];
                if (v < 0) break;
                work.checks++;
                if (size_t(v) < begin || size_t(v) >= end) continue;
                if (std::find(gathered.begin(), gathered.end(), v) == gathered.end()) gathered.push_back(v);
            }
        }
        size_t fresh = 0;
        for (int32_t v : gathered)
            if (!visited->test_and_mark(v)) gathered[fresh++] = v, prefetch_vector(vec(v), d_);
        for (size_t i = 0; i < fresh; i++) {
            int32_t v = gathered[i];
            float s = dist(q, v);
            work.distances++;
            if (!top.full() || s < top.bound()) {
                candidates.push({s, v});
                top.push({s, v});
            }
        }
    }
    return work;
}

// ---------------------------------------------------------------------------------------------
// The graph's expected work, for the per-query choice between graph and scan of the span

void IRangeIndex::calibrate(size_t ef_search, size_t entry_points) const {
    // Seeded, so the choice is the same on every run: spans of each share of the grid at random
    // places, queries a little off a random vector of the span.
    expected_work_.calibrate(setting(ef_search, entry_points), [&](double share) {
        if (present_ == 0) return 0.0;
        size_t m = std::max<size_t>(1, size_t(share * double(present_)));
        std::mt19937_64 rng(params_.seed + ef_search * 1000003 + entry_points + uint64_t(share * 1e9));
        std::vector<float> q(d_);
        double total = 0;
        for (int c = 0; c < ExpectedWork::kSamples; c++) {
            size_t begin = std::uniform_int_distribution<size_t>(0, present_ - m)(rng);
            near_vector(vec(begin + std::uniform_int_distribution<size_t>(0, m - 1)(rng)), d_, rng, q);
            TopK top(ef_search);
            total += graph_search(q.data(), begin, begin + m, entry_points, top).cost(d_);
        }
        return total / ExpectedWork::kSamples;
    });
}

double IRangeIndex::expected_graph_work(size_t ef_search, size_t entry_points, size_t span) const {
    calibrate(ef_search, entry_points);  // at once when the caller calibrated (IRangeGraph.set_query_arguments does)
    return expected_work_.at(setting(ef_search, entry_points), double(span) / double(std::max<size_t>(1, present_)));
}

// ---------------------------------------------------------------------------------------------
// Files

template <class Out>
void IRangeIndex::serialize(Out& out) const {
    out.bytes(MAGIC, std::string(MAGIC).size());
    out.template value<uint32_t>(FORMAT_VERSION);
    out.template value<uint64_t>(d_);
    out.template value<uint64_t>(n_);
    out.template value<uint64_t>(present_);
    out.template value<uint64_t>(layers_);
    out.template value<int32_t>(int32_t(metric_));
    out.template value<int32_t>(params_.M);
    out.template value<int32_t>(params_.ef_construction);
    out.template value<uint64_t>(params_.seed);
    out.array(data_);
    out.array(values_);
    out.array(original_);
    out.array(links_);
    for (size_t layer = 0; layer < layers_; layer++) {
        out.array(first_entry_[layer]);
        out.array(entry_count_[layer]);
    }
}

void IRangeIndex::save(const std::string& path) const {
    Writer out(path);
    serialize(out);
}

size_t IRangeIndex::serialized_size() const {
    Writer counter;
    serialize(counter);
    return counter.size();
}

std::unique_ptr<IRangeIndex> IRangeIndex::load(const std::string& path) {
    Reader in(path);
    in.expect_magic(MAGIC, FORMAT_VERSION);
    size_t d = in.value<uint64_t>(), n = in.value<uint64_t>(), present = in.value<uint64_t>(),
           layers = in.value<uint64_t>();
    Metric metric = Metric(in.value<int32_t>());
    IRangeParams params;
    params.M = in.value<int32_t>();
    params.ef_construction = in.value<int32_t>();
    params.seed = in.value<uint64_t>();
    if (d == 0 || present > n || layers > 64) throw std::runtime_error(path + ": corrupt index file");
    auto index = std::make_unique<IRangeIndex>(d, metric, params);
    index->n_ = n;
    index->present_ = present;
    index->layers_ = layers;
    index->data_ = in.array<float, HugePageAllocator<float>>(n * d);
    index->values_ = in.array<double>(n);
    index->original_ = in.array<int32_t>(n);
    index->links_ = in.array<int32_t, HugePageAllocator<int32_t>>(layers * n * size_t(params.M));
    if (index->data_.size() != n * d || index->values_.size() != n || index->original_.size() != n ||
        index->links_.size() != layers * n * size_t(params.M))
        throw std::runtime_error(path + ": corrupt index file (sizes)");
    for (size_t layer = 0; layer < layers; layer++) {
        size_t width = index->layer_width(layer), segments = (n + width - 1) / width;
        auto first = in.array<int32_t>(segments);
        auto count = in.array<uint32_t>(segments);
        bool valid = first.size() == segments && count.size() == segments;
        for (size_t s = 0; valid && s < segments; s++)
            valid = size_t(first[s]) >= s * width && size_t(first[s]) < std::min(n, (s + 1) * width) && count[s] >= 1 &&
                    count[s] <= MAX_SEGMENT_ENTRIES;
        if (!valid) throw std::runtime_error(path + ": corrupt index file (entries)");
        index->first_entry_.push_back(std::move(first));
        index->entry_count_.push_back(std::move(count));
    }
    index->visited_pool_ = std::make_unique<VisitedPool>(n);
    return index;
}

}  // namespace filterbench
