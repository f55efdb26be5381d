#include "ung.h"

#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

#include "filterbench/io.h"
#include "filterbench/parallel.h"

namespace filterbench {

static const char* MAGIC = "FBUNG";
static const uint32_t FORMAT_VERSION = 1;

void UngParams::check() const {
    if (R < 2) throw std::invalid_argument("UNG: R must be at least 2, got " + std::to_string(R));
    if (L_build < R) throw std::invalid_argument("UNG: L_build must be at least R, got " + std::to_string(L_build));
    if (!(alpha >= 1.0f)) throw std::invalid_argument("UNG: alpha must be at least 1");
    if (cross_edges < 1) throw std::invalid_argument("UNG: cross_edges must be at least 1");
}

UngIndex::UngIndex(size_t d, Metric metric, UngParams params) : d_(d), metric_(metric), params_(params) {
    params_.check();
    if (d == 0) throw std::invalid_argument("UNG: dimension must be positive");
    // alpha-pruning compares distances, which inner products (negative scores) are not.
    if (metric != Metric::L2) throw std::invalid_argument("UNG: metric must be l2 (normalize angular data first)");
}

LabelSet UngIndex::group_labels(size_t g) const {
    return LabelSet(set_labels_.begin() + set_offsets_[g], set_labels_.begin() + set_offsets_[g + 1]);
}

std::vector<int32_t> UngIndex::lng_children(size_t g) const {
    return std::vector<int32_t>(lng_children_.begin() + lng_offsets_[g], lng_children_.begin() + lng_offsets_[g + 1]);
}

static bool contains(const int32_t* big, size_t big_size, const LabelSet& small) {
    return small.size() <= big_size && std::includes(big, big + big_size, small.begin(), small.end());
}

void UngIndex::index_labels() {
    size_t G = group_medoid_.size();
    group_of_.assign(n_, 0);
    int32_t max_label = -1;
    for (int32_t l : set_labels_) max_label = std::max(max_label, l);
    label_groups_.assign(size_t(max_label + 1), {});
    for (size_t g = 0; g < G; g++) {
        for (uint64_t i = group_begin_[g]; i < group_begin_[g + 1]; i++) group_of_[i] = int32_t(g);
        for (uint64_t j = set_offsets_[g]; j < set_offsets_[g + 1]; j++) label_groups_[set_labels_[j]].push_back(int32_t(g));
    }
    lng_parents_.assign(G, {});
    if (lng_offsets_.size() == G + 1)
        for (size_t g = 0; g < G; g++)
            for (uint64_t j = lng_offsets_[g]; j < lng_offsets_[g + 1]; j++) lng_parents_[lng_children_[j]].push_back(int32_t(g));
}

// ---------------------------------------------------------------------------------------------
// Search primitives (the build uses them too)

template <class Edges>
void UngIndex::best_first(const float* q, const std::vector<int32_t>& start, Edges edges, VisitedList& visited,
                          TopK& top, uint64_t& computed) const {
    NearestOnTop candidates;
    for (int32_t s : start) {
        if (visited.test_and_mark(s)) continue;
        Neighbor c{dist(q, s), s};
        computed++;
        candidates.push(c);
        top.push(c);
    }
    // Unvisited neighbours first, then their vectors fetched ahead of the distances: a visited
    // one's vector is not touched at all.
    constexpr size_t CHUNK = 64;
    int32_t fresh[CHUNK];
    auto expand = [&](const int32_t* begin, const int32_t* end) {
        while (begin < end) {
            size_t m = 0;
            for (; begin < end && m < CHUNK; begin++)
                if (!visited.test_and_mark(*begin)) fresh[m++] = *begin;
            for (size_t j = 0; j < m; j++) prefetch_vector(vec(fresh[j]), d_);
            for (size_t j = 0; j < m; j++) {
                float s = dist(q, fresh[j]);
                computed++;
                if (!top.full() || s < top.bound()) {
                    candidates.push({s, fresh[j]});
                    top.push({s, fresh[j]});
                }
            }
        }
    };
    while (!candidates.empty()) {
        Neighbor c = candidates.top();
        if (top.full() && c.score > top.bound()) break;
        candidates.pop();
        edges(c.id, expand);
    }
}

std::vector<int32_t> UngIndex::supersets(const LabelSet& query) const {
    std::vector<int32_t> out;
    size_t G = group_medoid_.size();
    if (query.empty()) {
        out.resize(G);
        std::iota(out.begin(), out.end(), 0);
        return out;
    }
    const std::vector<int32_t>* rarest = nullptr;
    for (int32_t l : query) {
        if (l < 0 || size_t(l) >= label_groups_.size()) return out;  // a label no base vector has
        if (!rarest || label_groups_[l].size() < rarest->size()) rarest = &label_groups_[l];
    }
    for (int32_t g : *rarest)
        if (contains(set_labels_.data() + set_offsets_[g], set_offsets_[g + 1] - set_offsets_[g], query)) out.push_back(g);
    return out;
}

std::vector<int32_t> UngIndex::entry_groups(const LabelSet& query) const {
    // A superset group is minimal when none of its LNG parents (its maximal strict subsets)
    // contains the query: a smaller superset would lie on a containment chain to it.
    std::vector<int32_t> out;
    for (int32_t g : supersets(query)) {
        bool minimal = true;
        for (int32_t p : lng_parents_[g])
            if (contains(set_labels_.data() + set_offsets_[p], set_offsets_[p + 1] - set_offsets_[p], query)) {
                minimal = false;
                break;
            }
        if (minimal) out.push_back(g);
    }
    return out;
}

int32_t UngIndex::exact_group(const LabelSet& query) const {
    // Groups are numbered in lexicographic order of their sets (DistinctSets): a binary search.
    size_t lo = 0, hi = group_medoid_.size();
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const int32_t* set = set_labels_.data() + set_offsets_[mid];
        if (std::lexicographical_compare(set, set + (set_offsets_[mid + 1] - set_offsets_[mid]), query.begin(), query.end()))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == group_medoid_.size() || !std::equal(query.begin(), query.end(), set_labels_.data() + set_offsets_[lo],
                                                  set_labels_.data() + set_offsets_[lo + 1]))
        return -1;
    return int32_t(lo);
}

void UngIndex::starts(size_t g, size_t count, std::vector<int32_t>& out) const {
    size_t size = group_size(g);
    out.push_back(group_medoid_[g]);
    for (size_t j = 1; j < std::min(count, size); j++) {
        int32_t member = int32_t(group_begin_[g] + j * size / count);
        if (member != group_medoid_[g]) out.push_back(member);
    }
}

// ---------------------------------------------------------------------------------------------
// Build

std::vector<Neighbor> UngIndex::prune(size_t node, std::vector<Neighbor> candidates, size_t degree) const {
    std::sort(candidates.begin(), candidates.end());
    std::vector<Neighbor> kept;
    int32_t previous = -1;
    for (const Neighbor& c : candidates) {
        if (kept.size() >= degree) break;
        if (c.id == int32_t(node) || c.id == previous) continue;
        previous = c.id;
        bool diverse = true;
        for (const Neighbor& k : kept)
            if (params_.alpha * dist(vec(k.id), c.id) <= c.score) {
                diverse = false;
                break;
            }
        if (diverse) kept.push_back(c);
    }
    return kept;
}

void UngIndex::build_group(size_t g, std::vector<std::vector<int32_t>>& intra) {
    size_t begin = group_begin_[g], size = group_size(g);
    // The medoid: the member nearest the group's mean.
    std::vector<float> mean(d_, 0.0f);
    for (size_t i = begin; i < begin + size; i++)
        for (size_t j = 0; j < d_; j++) mean[j] += vec(i)[j] / float(size);
    int32_t medoid = int32_t(begin);
    float best = INFINITY;
    for (size_t i = begin; i < begin + size; i++) {
        float s = dist(mean.data(), i);
        if (s < best) best = s, medoid = int32_t(i);
    }
    group_medoid_[g] = medoid;
    size_t R = size_t(params_.R);
    if (size <= R + 1) {  // small groups: every member links to every other
        for (size_t i = begin; i < begin + size; i++)
            for (size_t j = begin; j < begin + size; j++)
                if (i != j) intra[i].push_back(int32_t(j));
        return;
    }
    // Vamana, inserting one member at a time in a seeded order, the medoid first.
    std::vector<int32_t> order(size);
    std::iota(order.begin(), order.end(), int32_t(begin));
    std::swap(order[0], order[medoid - begin]);
    std::mt19937_64 rng(params_.seed + 0x9E3779B97F4A7C15ull * (g + 1));
    std::shuffle(order.begin() + 1, order.end(), rng);
    auto visited = visited_pool_->get();
    uint64_t computed = 0;
    auto edges = [&](int32_t v, auto&& expand) { expand(intra[v].data(), intra[v].data() + intra[v].size()); };
    for (size_t idx = 1; idx < size; idx++) {
        int32_t u = order[idx];
        visited->next_query();
        TopK top(size_t(params_.L_build));
        best_first(vec(u), {medoid}, edges, *visited, top, computed);
        for (const Neighbor& c : prune(u, top.take_sorted(), R)) {
            intra[u].push_back(c.id);
            auto& back = intra[c.id];
            back.push_back(u);
            if (back.size() > R) {
                std::vector<Neighbor> candidates;
                for (int32_t v : back) candidates.push_back({dist(vec(c.id), v), v});
                back.clear();
                for (const Neighbor& kept : prune(c.id, candidates, R)) back.push_back(kept.id);
            }
        }
    }
}

void UngIndex::link_lng(int threads) {
    size_t G = group_medoid_.size();
    std::vector<std::vector<int32_t>> children(G);
    parallel_for(G, threads, [&](size_t g) {
        LabelSet set = group_labels(g);
        std::vector<int32_t> candidates;
        for (int32_t c : supersets(set))
            if (size_t(c) != g) candidates.push_back(c);
        auto set_size = [&](int32_t c) { return set_offsets_[c + 1] - set_offsets_[c]; };
        std::sort(candidates.begin(), candidates.end(),
                  [&](int32_t a, int32_t b) { return set_size(a) < set_size(b) || (set_size(a) == set_size(b) && a < b); });
        // In order of size, a superset is minimal unless an accepted (minimal) one lies inside it.
        for (int32_t c : candidates) {
            LabelSet cs = group_labels(c);
            bool minimal = true;
            for (int32_t accepted : children[g])
                if (is_subset(group_labels(accepted), cs)) {
                    minimal = false;
                    break;
                }
            if (minimal) children[g].push_back(c);
        }
        std::sort(children[g].begin(), children[g].end());
    }, 1);
    lng_offsets_.assign(1, 0);
    lng_children_.clear();
    for (const auto& list : children) {
        lng_children_.insert(lng_children_.end(), list.begin(), list.end());
        lng_offsets_.push_back(lng_children_.size());
    }
}

std::vector<int32_t> UngIndex::cross_links(size_t node, const std::vector<std::vector<int32_t>>& intra,
                                          const std::vector<std::vector<int32_t>>& cross) const {
    // The nearest vectors among all groups that contain this vector's label set: a search from
    // the LNG children's medoids over their finished graphs, which only lead to such groups.
    int32_t g = group_of_[node];
    std::vector<int32_t> start;
    for (uint64_t j = lng_offsets_[g]; j < lng_offsets_[g + 1]; j++) start.push_back(group_medoid_[lng_children_[j]]);
    if (start.empty()) return {};
    auto visited = visited_pool_->get();
    uint64_t computed = 0;
    TopK top(size_t(params_.L_build));
    auto edges = [&](int32_t v, auto&& expand) {
        expand(intra[v].data(), intra[v].data() + intra[v].size());
        expand(cross[v].data(), cross[v].data() + cross[v].size());
    };
    best_first(vec(node), start, edges, *visited, top, computed);
    std::vector<int32_t> out;
    std::vector<Neighbor> nearest = top.take_sorted();
    for (size_t j = 0; j < std::min(nearest.size(), size_t(params_.cross_edges)); j++) out.push_back(nearest[j].id);
    if (int32_t(node) == group_medoid_[g]) {
        // The medoid keeps an edge into every child group, so no superset group is cut off.
        for (uint64_t j = lng_offsets_[g]; j < lng_offsets_[g + 1]; j++) {
            int32_t child = lng_children_[j];
            if (std::none_of(out.begin(), out.end(), [&](int32_t v) { return group_of_[v] == child; }))
                out.push_back(nearest_in_group(vec(node), child, 1, intra)[0].id);
        }
    }
    return out;
}

std::vector<Neighbor> UngIndex::nearest_in_group(const float* x, size_t g, size_t count,
                                                const std::vector<std::vector<int32_t>>& intra) const {
    std::vector<Neighbor> found;
    if (group_size(g) <= size_t(params_.L_build)) {
        for (uint64_t i = group_begin_[g]; i < group_begin_[g + 1]; i++) found.push_back({dist(x, i), int32_t(i)});
        std::sort(found.begin(), found.end());
    } else {
        auto visited = visited_pool_->get();
        uint64_t computed = 0;
        TopK top(size_t(params_.L_build));
        auto edges = [&](int32_t v, auto&& expand) { expand(intra[v].data(), intra[v].data() + intra[v].size()); };
        best_first(x, {group_medoid_[g]}, edges, *visited, top, computed);
        found = top.take_sorted();
    }
    found.resize(std::min(count, found.size()));
    return found;
}

std::vector<int32_t> UngIndex::subset_groups(size_t g) const {
    // Every strict subset of the set (up to MAX_SUBSET_LABELS labels), else the LNG parents and
    // theirs, recursively: both are the groups whose sets the set contains.
    static const size_t MAX_SUBSET_LABELS = 12;
    LabelSet set = group_labels(g);
    std::vector<int32_t> out;
    if (set.size() <= MAX_SUBSET_LABELS) {
        for (uint32_t mask = 0; mask + 1 < (1u << set.size()); mask++) {
            LabelSet subset;
            for (size_t b = 0; b < set.size(); b++)
                if (mask >> b & 1) subset.push_back(set[b]);
            int32_t a = exact_group(subset);
            if (a >= 0) out.push_back(a);
        }
    } else {
        std::vector<int32_t> todo(lng_parents_[g]);
        while (!todo.empty()) {
            int32_t a = todo.back();
            todo.pop_back();
            if (std::find(out.begin(), out.end(), a) != out.end()) continue;
            out.push_back(a);
            todo.insert(todo.end(), lng_parents_[a].begin(), lng_parents_[a].end());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

void UngIndex::build(const float* X, size_t n, const LabelRows& labels, int threads) {
    if (n >= (size_t(1) << 31)) throw std::invalid_argument("UNG: at most 2^31 - 1 vectors");
    labels.check(n, "UNG");
    n_ = n;
    DistinctSets distinct(labels);
    size_t G = distinct.sets.size();
    // Internal order: group by group (groups in lexicographic order of their sets), original order inside.
    original_.resize(n);
    std::iota(original_.begin(), original_.end(), 0);
    std::stable_sort(original_.begin(), original_.end(),
                     [&](int32_t a, int32_t b) { return distinct.set_of[a] < distinct.set_of[b]; });
    data_.resize(n * d_);
    for (size_t i = 0; i < n; i++) std::copy(X + size_t(original_[i]) * d_, X + (size_t(original_[i]) + 1) * d_, data_.begin() + i * d_);
    group_begin_.assign(G + 1, 0);
    for (size_t i = 0; i < n; i++) group_begin_[distinct.set_of[original_[i]] + 1]++;
    std::partial_sum(group_begin_.begin(), group_begin_.end(), group_begin_.begin());
    set_offsets_.assign(1, 0);
    set_labels_.clear();
    for (const LabelSet& s : distinct.sets) {
        set_labels_.insert(set_labels_.end(), s.begin(), s.end());
        set_offsets_.push_back(set_labels_.size());
    }
    group_medoid_.assign(G, 0);
    lng_offsets_.clear();
    lng_children_.clear();
    visited_pool_ = std::make_unique<VisitedPool>(n);
    index_labels();

    link_lng(threads);
    index_labels();

    // Intra-group graphs, largest groups first so the threads finish together.
    std::vector<std::vector<int32_t>> intra(n);
    std::vector<size_t> by_size(G);
    std::iota(by_size.begin(), by_size.end(), 0);
    std::stable_sort(by_size.begin(), by_size.end(), [&](size_t a, size_t b) { return group_size(a) > group_size(b); });
    parallel_for(G, threads, [&](size_t i) { build_group(by_size[i], intra); }, 1);

    // Cross-group edges, largest label sets first: a group's supersets are larger, so their
    // edges are final when its own vectors search them.
    std::vector<std::vector<int32_t>> cross(n);
    std::vector<int32_t> by_set_size(n);
    std::iota(by_set_size.begin(), by_set_size.end(), 0);
    auto set_size = [&](int32_t i) { return set_offsets_[group_of_[i] + 1] - set_offsets_[group_of_[i]]; };
    std::stable_sort(by_set_size.begin(), by_set_size.end(), [&](int32_t a, int32_t b) { return set_size(a) > set_size(b); });
    for (size_t level_begin = 0; level_begin < n;) {
        size_t level_end = level_begin;
        while (level_end < n && set_size(by_set_size[level_end]) == set_size(by_set_size[level_begin])) level_end++;
        parallel_for(level_end - level_begin, threads, [&](size_t i) {
            int32_t node = by_set_size[level_begin + i];
            cross[node] = cross_links(node, intra, cross);
        }, 64);
        level_begin = level_end;
    }
    // Each vector is also linked from its nearest vector in every group whose set its own set
    // contains. A containment search starts in such a group (an entry group lies below every
    // valid vector), so it reaches a valid vector from the start group's vector nearest to it,
    // even a vector in a group without supersets that no other vector counts among its nearest.
    std::vector<std::vector<int32_t>> ancestors(G), from_ancestors(n);
    parallel_for(G, threads, [&](size_t g) { ancestors[g] = subset_groups(g); }, 16);
    parallel_for(n, threads, [&](size_t v) {
        for (int32_t a : ancestors[group_of_[v]]) from_ancestors[v].push_back(nearest_in_group(vec(v), a, 1, intra)[0].id);
    }, 64);
    for (size_t v = 0; v < n; v++)
        for (int32_t u : from_ancestors[v])
            if (std::find(cross[u].begin(), cross[u].end(), int32_t(v)) == cross[u].end()) cross[u].push_back(int32_t(v));

    adj_offsets_.assign(1, 0);
    cross_begin_.resize(n);
    adj_.clear();
    for (size_t i = 0; i < n; i++) {
        adj_.insert(adj_.end(), intra[i].begin(), intra[i].end());
        cross_begin_[i] = adj_.size();
        adj_.insert(adj_.end(), cross[i].begin(), cross[i].end());
        adj_offsets_.push_back(adj_.size());
    }
}

// ---------------------------------------------------------------------------------------------
// Search

void UngIndex::containment(const float* q, const LabelSet& query, size_t L, size_t entry_points, TopK& top,
                           uint64_t& computed) const {
    // entry_points start vectors in all, shared among the entry groups by size, at least one
    // each: a large group spans many topics, and its medoid may lie far from the query.
    std::vector<int32_t> groups = entry_groups(query), start;
    size_t total = 0;
    for (int32_t g : groups) total += group_size(g);
    for (int32_t g : groups) starts(g, std::max<size_t>(1, entry_points * group_size(g) / total), start);
    if (start.empty()) return;
    auto visited = visited_pool_->get();
    auto edges = [&](int32_t v, auto&& expand) { expand(adj_.data() + adj_offsets_[v], adj_.data() + adj_offsets_[v + 1]); };
    best_first(q, start, edges, *visited, top, computed);
}

size_t UngIndex::search(const float* q, size_t k, const LabelSet& query, Predicate predicate, size_t L_search,
                        size_t entry_points, int32_t* ids, float* scores) const {
    std::fill(ids, ids + k, -1);
    std::fill(scores, scores + k, INFINITY);
    if (n_ == 0 || k == 0) return 0;
    size_t L = std::max(L_search, k);
    entry_points = std::max<size_t>(entry_points, 1);
    uint64_t computed = 0;
    std::vector<Neighbor> result;
    if (predicate == Predicate::Containment) {
        TopK top(L);
        containment(q, query, L, entry_points, top, computed);
        result = top.take_sorted();
    } else if (predicate == Predicate::Equality) {
        int32_t g = exact_group(query);
        TopK top(L);
        // A best-first search expands on the order of L vectors of up to R neighbours each, at
        // scattered addresses: a group of no more than L * R vectors is scanned instead
        // (contiguous, exact).
        if (g >= 0 && group_size(g) <= L * size_t(params_.R)) {
            for (uint64_t i = group_begin_[g]; i < group_begin_[g + 1]; i++) top.push({dist(q, i), int32_t(i)});
            computed += group_size(g);
        } else if (g >= 0) {
            std::vector<int32_t> start;
            starts(g, entry_points, start);
            auto visited = visited_pool_->get();
            auto intra = [&](int32_t v, auto&& expand) { expand(adj_.data() + adj_offsets_[v], adj_.data() + cross_begin_[v]); };
            best_first(q, start, intra, *visited, top, computed);
        }
        result = top.take_sorted();
    } else {  // overlap: one containment search per query label, merged
        TopK merged(k);
        std::vector<int32_t> taken;
        for (int32_t label : query) {
            TopK top(L);
            containment(q, LabelSet{label}, L, entry_points, top, computed);
            for (const Neighbor& c : top.take_sorted()) {
                if (std::find(taken.begin(), taken.end(), c.id) != taken.end()) continue;
                taken.push_back(c.id);
                merged.push(c);
            }
        }
        result = merged.take_sorted();
    }
    size_t found = std::min(k, result.size());
    for (size_t j = 0; j < found; j++) ids[j] = original_[result[j].id], scores[j] = result[j].score;
    distance_computations_ += computed;
    return found;
}

std::vector<std::pair<int32_t, int32_t>> UngIndex::edges() const {
    std::vector<std::pair<int32_t, int32_t>> out;
    for (size_t i = 0; i < n_; i++)
        for (uint64_t j = adj_offsets_[i]; j < adj_offsets_[i + 1]; j++) out.emplace_back(original_[i], original_[adj_[j]]);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Index files

template <class Out>
void UngIndex::serialize(Out& out) const {
    out.bytes(MAGIC, std::string(MAGIC).size());
    out.template value<uint32_t>(FORMAT_VERSION);
    out.template value<uint64_t>(d_);
    out.template value<int32_t>(int32_t(metric_));
    out.template value<int32_t>(params_.R);
    out.template value<int32_t>(params_.L_build);
    out.template value<float>(params_.alpha);
    out.template value<int32_t>(params_.cross_edges);
    out.template value<uint64_t>(params_.seed);
    out.array(data_);
    out.array(original_);
    out.array(group_begin_);
    out.array(group_medoid_);
    out.array(set_offsets_);
    out.array(set_labels_);
    out.array(lng_offsets_);
    out.array(lng_children_);
    out.array(adj_offsets_);
    out.array(cross_begin_);
    out.array(adj_);
}

void UngIndex::save(const std::string& path) const {
    Writer out(path);
    serialize(out);
}

size_t UngIndex::serialized_size() const {
    Writer counter;
    serialize(counter);
    return counter.size();
}

std::unique_ptr<UngIndex> UngIndex::load(const std::string& path) {
    Reader in(path);
    in.expect_magic(MAGIC, FORMAT_VERSION);
    size_t d = in.value<uint64_t>();
    int32_t metric_code = in.value<int32_t>();
    if (d == 0 || metric_code != 0) throw std::runtime_error(path + ": corrupt index file (header)");
    UngParams p;
    p.R = in.value<int32_t>();
    p.L_build = in.value<int32_t>();
    p.alpha = in.value<float>();
    p.cross_edges = in.value<int32_t>();
    p.seed = in.value<uint64_t>();
    auto index = std::make_unique<UngIndex>(d, Metric(metric_code), p);
    const uint64_t limit = uint64_t(1) << 40;
    index->data_ = in.array<float, HugePageAllocator<float>>(limit);
    index->n_ = index->data_.size() / d;
    size_t n = index->n_;
    index->original_ = in.array<int32_t>(n);
    index->group_begin_ = in.array<uint64_t>(n + 1);
    index->group_medoid_ = in.array<int32_t>(n);
    size_t G = index->group_medoid_.size();
    index->set_offsets_ = in.array<uint64_t>(G + 1);
    index->set_labels_ = in.array<int32_t>(limit);
    index->lng_offsets_ = in.array<uint64_t>(G + 1);
    index->lng_children_ = in.array<int32_t>(limit);
    index->adj_offsets_ = in.array<uint64_t>(n + 1);
    index->cross_begin_ = in.array<uint64_t>(n);
    index->adj_ = in.array<int32_t, HugePageAllocator<int32_t>>(limit);
    bool consistent = index->data_.size() % d == 0 && index->original_.size() == n && index->group_begin_.size() == G + 1 &&
                      index->group_begin_.back() == n && index->set_offsets_.size() == G + 1 &&
                      index->set_offsets_.back() == index->set_labels_.size() && index->lng_offsets_.size() == G + 1 &&
                      index->lng_offsets_.back() == index->lng_children_.size() && index->adj_offsets_.size() == n + 1 &&
                      index->cross_begin_.size() == n && index->adj_offsets_.back() == index->adj_.size();
    for (int32_t v : index->adj_) consistent = consistent && v >= 0 && size_t(v) < n;
    for (int32_t c : index->lng_children_) consistent = consistent && c >= 0 && size_t(c) < G;
    if (!consistent) throw std::runtime_error(path + ": corrupt index file (inconsistent sizes)");
    index->visited_pool_ = std::make_unique<VisitedPool>(n);
    index->index_labels();
    return index;
}

}  // namespace filterbench
