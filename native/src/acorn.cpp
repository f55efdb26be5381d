#include "acorn.h"

#include <cmath>
#include <mutex>
#include <random>
#include <stdexcept>

#include "filterbench/io.h"
#include "filterbench/parallel.h"

namespace filterbench {

static const char* MAGIC = "FBACORN";
static const uint32_t FORMAT_VERSION = 1;

void AcornParams::check() const {
    if (M < 2) throw std::invalid_argument("ACORN: M must be at least 2, got " + std::to_string(M));
    if (gamma < 1) throw std::invalid_argument("ACORN: gamma must be at least 1, got " + std::to_string(gamma));
    if (M_beta < 1) throw std::invalid_argument("ACORN: M_beta must be at least 1, got " + std::to_string(M_beta));
    if (M_beta > 2 * M * gamma)
        throw std::invalid_argument("ACORN: M_beta must be at most 2·M·gamma = " + std::to_string(2 * M * gamma) +
                                    ", got " + std::to_string(M_beta));
    if (efConstruction < 0) throw std::invalid_argument("ACORN: efConstruction must be >= 0 (0: M·gamma)");
}

struct AcornIndex::BuildState {
    size_t capacity0;
    std::vector<int32_t> lists0;  // n × capacity0, unsorted while building
    std::vector<float> scores0;   // the distance of each entry to its list's node
    std::vector<int32_t> counts0;
    std::vector<int32_t> diverse0;  // each list starts with this many diverse neighbours
    std::vector<std::mutex> locks;
    std::mutex entry_lock;
    VisitedPool visited;

    BuildState(size_t n, size_t capacity)
        : capacity0(capacity), lists0(n * capacity), scores0(n * capacity), counts0(n, 0), diverse0(n, 0), locks(n), visited(n) {}

    const int32_t* list0(size_t i) const { return lists0.data() + i * capacity0; }
};

AcornIndex::AcornIndex(size_t d, Metric metric, AcornParams params) : d_(d), metric_(metric), params_(params) {
    params_.check();
    if (d == 0) throw std::invalid_argument("ACORN: dimension must be positive");
}

AcornIndex::~AcornIndex() { delete build_; }

// ---------------------------------------------------------------------------------------------
// Build

void AcornIndex::build_graph(int threads) {
    size_t n = n_;
    visited_pool_ = std::make_unique<VisitedPool>(n);
    // HNSW's level distribution: P(level >= l) = M^-l.
    std::mt19937_64 rng(params_.seed);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    double mL = 1.0 / std::log(double(params_.M));
    levels_.resize(n);
    upper_.assign(n, {});
    for (size_t i = 0; i < n; i++) {
        int level = std::min(int(-std::log(1.0 - uniform(rng)) * mL), 255);
        levels_[i] = uint8_t(level);
        upper_[i].resize(level);
    }
    entry_ = -1;
    max_level_ = -1;
    build_ = new BuildState(n, params_.level0_capacity());
    parallel_for(n, threads, [&](size_t i) { insert(int32_t(i)); }, 16);
    compress_level0(threads);  // frees build_
}

std::vector<Neighbor> AcornIndex::search_layer_unfiltered(const float* q, int32_t entry, size_t ef, int level,
                                                          VisitedList& visited) const {
    visited.next_query();
    NearestOnTop candidates;
    TopK top(ef);
    Neighbor start{dist(q, entry), entry};
    visited.mark(entry);
    candidates.push(start);
    top.push(start);
    std::vector<int32_t> neighbors;
    while (!candidates.empty()) {
        Neighbor c = candidates.top();
        if (top.full() && c.score > top.bound()) break;
        candidates.pop();
        {
            std::lock_guard<std::mutex> lock(build_->locks[c.id]);
            if (level == 0) {
                // Navigate on each list's head (its diverse and nearest picks, as many as an
                // HNSW level-0 list holds): the long tails of ACORN-γ cost γ times as much to
                // scan while the candidates come from the search's ef anyway.
                const int32_t* list = build_->list0(c.id);
                neighbors.assign(list, list + std::min(build_->counts0[c.id], 2 * params_.M));
            } else {
                neighbors = upper_[c.id][level - 1];
            }
        }
        size_t fresh = 0;  // the unvisited ones, moved to the front, prefetched before scoring
        for (int32_t v : neighbors)
            if (!visited.test_and_mark(v)) neighbors[fresh++] = v, prefetch_vector(vec(v), d_);
        neighbors.resize(fresh);
        for (int32_t v : neighbors) {
            float s = dist(q, v);
            if (!top.full() || s < top.bound()) {
                candidates.push({s, v});
                top.push({s, v});
            }
        }
    }
    return top.take_sorted();
}

void AcornIndex::insert(int32_t node) {
    int level = levels_[node];
    std::unique_lock<std::mutex> entry_guard(build_->entry_lock);
    int32_t entry = entry_;
    int top_level = max_level_;
    if (entry < 0) {
        entry_ = node;
        max_level_ = level;
        return;
    }
    if (level <= top_level) entry_guard.unlock();  // else held: this node becomes the entry point

    const float* x = vec(node);
    int32_t current = entry;
    float current_score = dist(x, current);
    for (int l = top_level; l > level; l--) {  // greedy descent above the node's own levels
        for (bool changed = true; changed;) {
            changed = false;
            std::vector<int32_t> neighbors;
            {
                std::lock_guard<std::mutex> lock(build_->locks[current]);
                neighbors = upper_[current][l - 1];
            }
            for (int32_t v : neighbors) {
                float s = dist(x, v);
                if (s < current_score) current_score = s, current = v, changed = true;
            }
        }
    }
    auto visited = build_->visited.get();
    size_t ef = params_.efConstruction ? params_.efConstruction : size_t(params_.M) * params_.gamma;
    for (int l = std::min(level, top_level); l >= 0; l--) {
        size_t capacity = l == 0 ? params_.level0_capacity() : params_.upper_capacity();
        std::vector<Neighbor> found = search_layer_unfiltered(x, current, ef, l, *visited);
        size_t diverse = 0;
        std::vector<Neighbor> selected = select_neighbors(found, node, l, capacity, &diverse);
        {
            std::lock_guard<std::mutex> lock(build_->locks[node]);
            if (l == 0) {
                size_t base = size_t(node) * build_->capacity0;
                for (size_t j = 0; j < selected.size(); j++)
                    build_->lists0[base + j] = selected[j].id, build_->scores0[base + j] = selected[j].score;
                build_->counts0[node] = int32_t(selected.size());
                build_->diverse0[node] = int32_t(diverse);
            } else {
                upper_[node][l - 1].clear();
                for (const Neighbor& c : selected) upper_[node][l - 1].push_back(c.id);
            }
        }
        for (const Neighbor& c : selected) add_link(c.id, node, l, c.score);
        if (!found.empty() && found[0].id != node) current = found[0].id;
    }
    if (level > top_level) {
        entry_ = node;
        max_level_ = level;
    }
}

void AcornIndex::add_link(int32_t from, int32_t to, int level, float to_score) {
    std::lock_guard<std::mutex> lock(build_->locks[from]);
    if (level == 0) {
        int32_t* list = build_->lists0.data() + size_t(from) * build_->capacity0;
        float* scores = build_->scores0.data() + size_t(from) * build_->capacity0;
        int32_t& count = build_->counts0[from];
        if (size_t(count) < build_->capacity0) {
            list[count] = to, scores[count] = to_score;
            count++;
            return;
        }
        // Full. `to` joins the diverse head if the rule admits it; the farthest of the rest
        // (the nearest-filled tail, and `to` when not diverse) leaves.
        int32_t& diverse = build_->diverse0[from];
        bool to_diverse = diverse < params_.M;
        for (int32_t j = 0; j < diverse && to_diverse; j++) to_diverse = dist(vec(to), list[j]) >= to_score;
        int32_t farthest = -1;  // position in the tail; -1: `to` itself
        float farthest_score = to_diverse ? -INFINITY : to_score;
        for (int32_t j = diverse; j < count; j++)
            if (scores[j] > farthest_score) farthest_score = scores[j], farthest = j;
        if (farthest < 0) return;  // `to` is the farthest and not diverse
        if (to_diverse) {  // the tail's first moves into the freed slot
            list[farthest] = list[diverse], scores[farthest] = scores[diverse];
            list[diverse] = to, scores[diverse] = to_score;
            diverse++;
        } else {
            list[farthest] = to, scores[farthest] = to_score;
        }
    } else {
        std::vector<int32_t>& list = upper_[from][level - 1];
        if (list.size() < size_t(params_.upper_capacity())) {
            list.push_back(to);
            return;
        }
        std::vector<Neighbor> candidates;
        for (int32_t v : list) candidates.push_back({dist(vec(from), v), v});
        candidates.push_back({to_score, to});
        std::sort(candidates.begin(), candidates.end());
        size_t diverse = 0;
        list.clear();
        for (const Neighbor& c : select_neighbors(candidates, from, level, params_.upper_capacity(), &diverse))
            list.push_back(c.id);
    }
}

std::vector<Neighbor> AcornIndex::select_neighbors(const std::vector<Neighbor>& sorted, int32_t node, int level,
                                                  size_t capacity, size_t* diverse_count) const {
    // First HNSW's diversity rule: a candidate is kept if it is nearer to the node than to every
    // one kept so far, up to M of them. These links cross between clusters; lists of nearest
    // candidates alone fall apart into clusters that no search can leave.
    std::vector<Neighbor> selected;
    std::vector<uint8_t> taken(sorted.size(), 0);
    size_t diverse_max = std::min(capacity, size_t(params_.M));
    for (size_t j = 0; j < sorted.size() && selected.size() < diverse_max; j++) {
        const Neighbor& c = sorted[j];
        if (c.id == node) continue;
        bool admitted = true;
        for (const Neighbor& kept : selected)
            if (dist(vec(c.id), kept.id) < c.score) {
                admitted = false;
                break;
            }
        if (admitted) selected.push_back(c), taken[j] = 1;
    }
    *diverse_count = selected.size();
    // Then, at level 0, the nearest of the rest up to the capacity (ACORN's dense lists: a
    // neighbour that the rule drops can be the one that passes a predicate). Upper levels only
    // route the descent and keep the diverse ones alone.
    if (level == 0)
        for (size_t j = 0; j < sorted.size() && selected.size() < capacity; j++)
            if (!taken[j] && sorted[j].id != node) selected.push_back(sorted[j]);
    return selected;
}

void AcornIndex::compress_level0(int threads) {
    // Sort each list nearest first, then apply the predicate-agnostic compression (ACORN-γ
    // only): keep the first M_β; keep a later candidate only if no kept candidate beyond M_β
    // has it as a neighbour, since search expands exactly those.
    std::vector<std::vector<int32_t>> lists(n_);
    size_t keep_first = params_.M_beta;
    bool compress = !params_.is_acorn_1() && keep_first < build_->capacity0;
    VisitedPool covered_pool(n_);
    parallel_for(n_, threads, [&](size_t i) {
        const int32_t* raw = build_->list0(i);
        const float* scores = build_->scores0.data() + i * build_->capacity0;
        std::vector<Neighbor> sorted;
        for (int32_t j = 0; j < build_->counts0[i]; j++) sorted.push_back({scores[j], raw[j]});
        std::sort(sorted.begin(), sorted.end());
        std::vector<int32_t>& out = lists[i];
        if (!compress || sorted.size() <= keep_first) {
            for (const Neighbor& c : sorted) out.push_back(c.id);
            return;
        }
        auto covered = covered_pool.get();
        for (size_t j = 0; j < sorted.size(); j++) {
            int32_t c = sorted[j].id;
            if (j >= keep_first) {
                if (covered->visited(c)) continue;
                const int32_t* nb = build_->list0(c);
                for (int32_t t = 0; t < build_->counts0[c]; t++) covered->mark(nb[t]);
            }
            out.push_back(c);
        }
    });
    // The build's candidate lists and scores (2 x n x capacity: 5.1 GB for ACORN-1 M=32 at 10M)
    // are no longer needed: freed before the CSR below is allocated, which at 10M lifted the
    // build's peak from 15.6 to 21.4 GB while both were held.
    delete build_;
    build_ = nullptr;
    // Nearest-only lists leave some nodes in no list at all (every neighbour has nearer ones), so
    // no search could reach them: link each such node from its own nearest neighbour.
    std::vector<uint8_t> reached(n_, 0);
    for (const auto& list : lists)
        for (int32_t v : list) reached[v] = 1;
    for (size_t i = 0; i < n_; i++)
        if (!reached[i] && !lists[i].empty()) lists[lists[i][0]].push_back(int32_t(i));
    level0_offsets_.assign(n_ + 1, 0);
    for (size_t i = 0; i < n_; i++) level0_offsets_[i + 1] = level0_offsets_[i] + lists[i].size();
    level0_ids_.resize(level0_offsets_[n_]);
    for (size_t i = 0; i < n_; i++) std::copy(lists[i].begin(), lists[i].end(), level0_ids_.begin() + level0_offsets_[i]);
}

// ---------------------------------------------------------------------------------------------
// Search

size_t AcornIndex::filtered_neighbors(int32_t node, int level, const FilterMap& filter, VisitedList* visited,
                                      std::vector<int32_t>& out) const {
    out.clear();
    size_t checked = 0;
    size_t degree = level == 0 ? 2 * size_t(params_.M) : size_t(params_.M);  // the predicate subgraph's
    auto neighbors_of = [&](int32_t v, const int32_t*& begin, const int32_t*& end) {
        if (level == 0) {
            begin = level0_ids_.data() + level0_offsets_[v];
            end = level0_ids_.data() + level0_offsets_[v + 1];
        } else {
            begin = upper_[v][level - 1].data();
            end = begin + upper_[v][level - 1].size();
        }
    };
    auto take = [&](int32_t v) {  // true when the list is full
        checked++;
        if (filter.passes(v) && !visited->test_and_mark(v)) out.push_back(v);
        return out.size() >= degree;
    };
    const int32_t *begin, *end;
    neighbors_of(node, begin, end);
    for (const int32_t* p = begin; p < end; p++) take(*p);  // direct neighbours: all that pass
    if (out.size() >= degree) return checked;
    // Two-hop expansion: ACORN-1 expands every neighbour; ACORN-γ those beyond M_β at level 0
    // (where compression dropped what they reach). ACORN-γ's upper levels are not compressed.
    size_t expand_from = params_.is_acorn_1() ? 0 : level == 0 ? size_t(params_.M_beta) : SIZE_MAX;
    for (const int32_t* p = begin + std::min(expand_from, size_t(end - begin)); p < end; p++) {
        const int32_t *b2, *e2;
        neighbors_of(*p, b2, e2);
        for (const int32_t* p2 = b2; p2 < e2; p2++)
            if (take(*p2)) return checked;
    }
    return checked;
}

SearchPath AcornIndex::exact(const float* q, size_t k, const FilterMap& filter, int32_t* ids, float* scores) const {
    TopK top(k);
    size_t count = 0;
    auto visit = [&](size_t i) {
        float s = dist(q, i);
        count++;
        if (!top.full() || s < top.bound()) top.push({s, int32_t(i)});
    };
    if (filter.bits) filter.for_each(visit);
    else for (size_t i = 0; i < n_; i++) visit(i);
    std::vector<Neighbor> result = top.take_sorted();
    for (size_t j = 0; j < result.size(); j++) ids[j] = result[j].id, scores[j] = result[j].score;
    distance_computations_ += count;
    exact_queries_++;
    return SearchPath::Exact;
}

SearchPath AcornIndex::search(const float* q, size_t k, const FilterMap& filter, size_t efSearch,
                              double fallback_selectivity, int32_t* ids, float* scores) const {
    std::fill(ids, ids + k, -1);
    std::fill(scores, scores + k, INFINITY);
    if (n_ == 0 || k == 0) return SearchPath::Graph;
    if (filter.bits) {
        size_t passing = filter.count();
        bool scan = fallback_selectivity < 0
                        ? double(passing) * double(d_) <= expected_graph_work(efSearch, double(passing) / double(n_))
                        : double(passing) < fallback_selectivity * double(n_);
        if (passing == 0 || scan) return exact(q, k, filter, ids, scores);
    }
    GraphWork work = graph_search(q, k, filter, efSearch, ids, scores);
    distance_computations_ += work.distances;
    filter_checks_ += work.checks;
    graph_queries_++;
    return SearchPath::Graph;
}

// ---------------------------------------------------------------------------------------------
// The graph's expected work, for the per-query choice between graph and exact scan

void AcornIndex::calibrate(size_t ef) const {
    // Random filters passing each share of the grid, queries a little off random base vectors:
    // seeded, so the choice is the same on every run, and the same for every efSearch, so that the
    // work compared across efSearch is that of the same searches (seeded per efSearch, 16 samples
    // made the work at efSearch 160 a seventh of that at 10 on yfcc, and sent its sparse
    // predicates to the graph).
    expected_work_.calibrate(ef, [&](double selectivity) {
        if (n_ == 0) return 0.0;  // nothing to search: nothing to choose
        std::mt19937_64 rng(params_.seed + uint64_t(selectivity * 1e9));
        std::uniform_real_distribution<double> uniform(0.0, 1.0);
        std::vector<uint8_t> bits((n_ + 7) / 8, 0);
        size_t passing = 0;
        for (size_t i = 0; i < n_; i++)
            if (uniform(rng) < selectivity) {
                bits[i >> 3] |= uint8_t(1u << (i & 7));
                passing++;
            }
        FilterMap filter{bits.data(), n_};
        std::vector<int32_t> ids(ef);
        std::vector<float> scores(ef), q(d_);
        double total = 0;
        for (int c = 0; c < ExpectedWork::kSamples; c++) {
            near_vector(vec(std::uniform_int_distribution<size_t>(0, n_ - 1)(rng)), d_, rng, q);
            std::fill(ids.begin(), ids.end(), -1);
            total += graph_search(q.data(), ef, filter, ef, ids.data(), scores.data()).cost(d_);
            // A search that ends with fewer than efSearch ids while more pass has lost its way in
            // a predicate subgraph too sparse to navigate (the paper's case for the scan): cheap,
            // but a query like it needs the scan as well, so it counts the scan's work too.
            size_t found = size_t(std::count_if(ids.begin(), ids.end(), [](int32_t id) { return id >= 0; }));
            if (found < std::min(ef, passing)) total += double(passing) * double(d_);
        }
        return total / ExpectedWork::kSamples;
    });
}

double AcornIndex::expected_graph_work(size_t ef, double selectivity) const {
    calibrate(ef);  // at once when the caller calibrated (Acorn.set_query_arguments does)
    return expected_work_.at(ef, selectivity);
}

GraphWork AcornIndex::graph_search(const float* q, size_t k, const FilterMap& filter, size_t efSearch,
                                   int32_t* ids, float* scores) const {
    size_t ef = std::max(efSearch, k);
    auto visited = visited_pool_->get();
    uint64_t computed = 0, checked = 0;
    std::vector<int32_t> neighbors;

    // Predicate-aware greedy descent: only passing nodes are scored, the entry point included.
    int32_t current = -1;
    float current_score = INFINITY;
    if (filter.passes(entry_)) current = entry_, current_score = dist(q, entry_), computed++;
    for (int l = max_level_; l >= 1; l--) {
        visited->next_query();
        for (bool changed = true; changed;) {
            changed = false;
            checked += filtered_neighbors(current >= 0 ? current : entry_, l, filter, &*visited, neighbors);
            for (int32_t v : neighbors) {
                float s = dist(q, v);
                computed++;
                if (s < current_score) current_score = s, current = v, changed = true;
            }
        }
    }

    // Level 0: bounded best-first search over the predicate subgraph.
    visited->next_query();
    NearestOnTop candidates;
    TopK top(ef);
    std::vector<int32_t> seeds;
    if (current >= 0) {
        seeds.push_back(current);
        visited->mark(current);
    } else {
        checked += filtered_neighbors(entry_, 0, filter, &*visited, seeds);
    }
    if (seeds.empty()) {
        // Nothing passes within two hops of the entry point: start from passing ids instead.
        filter.for_each([&](size_t i) {
            if (seeds.size() < k) seeds.push_back(int32_t(i)), visited->mark(i);
        });
    }
    for (int32_t s : seeds) {
        Neighbor c{dist(q, s), s};
        computed++;
        candidates.push(c);
        top.push(c);
    }
    while (!candidates.empty()) {
        Neighbor c = candidates.top();
        if (top.full() && c.score > top.bound()) break;
        candidates.pop();
        checked += filtered_neighbors(c.id, 0, filter, &*visited, neighbors);
        for (int32_t v : neighbors) prefetch_vector(vec(v), d_);
        for (int32_t v : neighbors) {
            float s = dist(q, v);
            computed++;
            if (!top.full() || s < top.bound()) {
                candidates.push({s, v});
                top.push({s, v});
            }
        }
    }
    std::vector<Neighbor> result = top.take_sorted();
    for (size_t j = 0; j < std::min(k, result.size()); j++) ids[j] = result[j].id, scores[j] = result[j].score;
    return GraphWork{computed, checked};
}

// ---------------------------------------------------------------------------------------------
// Save and load

template <class Out>
void AcornIndex::serialize(Out& out) const {
    out.bytes(MAGIC, 7);
    out.template value<uint32_t>(FORMAT_VERSION);
    out.template value<uint64_t>(d_);
    out.template value<int32_t>(int32_t(metric_));
    out.template value<int32_t>(params_.M);
    out.template value<int32_t>(params_.gamma);
    out.template value<int32_t>(params_.M_beta);
    out.template value<int32_t>(params_.efConstruction);
    out.template value<uint64_t>(params_.seed);
    out.template value<int32_t>(entry_);
    out.template value<int32_t>(max_level_);
    out.array(data_);
    out.array(levels_);
    out.array(level0_offsets_);
    out.array(level0_ids_);
    for (size_t i = 0; i < n_; i++)
        for (const auto& list : upper_[i]) out.array(list);
}

void AcornIndex::save(const std::string& path) const {
    Writer out(path);
    serialize(out);
}

size_t AcornIndex::serialized_size() const {
    Writer counter;
    serialize(counter);
    return counter.size();
}

std::unique_ptr<AcornIndex> AcornIndex::load(const std::string& path) {
    Reader in(path);
    in.expect_magic(MAGIC, FORMAT_VERSION);
    size_t d = in.value<uint64_t>();
    int32_t metric_code = in.value<int32_t>();
    if (d == 0 || (metric_code != 0 && metric_code != 1)) throw std::runtime_error(path + ": corrupt index file (header)");
    Metric metric = Metric(metric_code);
    AcornParams p;
    p.M = in.value<int32_t>();
    p.gamma = in.value<int32_t>();
    p.M_beta = in.value<int32_t>();
    p.efConstruction = in.value<int32_t>();
    p.seed = in.value<uint64_t>();
    auto index = std::make_unique<AcornIndex>(d, metric, p);
    index->entry_ = in.value<int32_t>();
    index->max_level_ = in.value<int32_t>();
    const uint64_t limit = uint64_t(1) << 40;
    index->data_ = in.array<float, HugePageAllocator<float>>(limit);
    index->n_ = index->data_.size() / d;
    if (index->data_.size() % d) throw std::runtime_error(path + ": corrupt index file (vector data)");
    index->levels_ = in.array<uint8_t>(index->n_);
    index->level0_offsets_ = in.array<uint64_t>(index->n_ + 1);
    index->level0_ids_ = in.array<int32_t, HugePageAllocator<int32_t>>(limit);
    if (index->levels_.size() != index->n_ || index->level0_offsets_.size() != index->n_ + 1 ||
        index->level0_offsets_.back() != index->level0_ids_.size())
        throw std::runtime_error(path + ": corrupt index file (inconsistent sizes)");
    index->upper_.assign(index->n_, {});
    for (size_t i = 0; i < index->n_; i++)
        for (int l = 0; l < index->levels_[i]; l++) index->upper_[i].push_back(in.array<int32_t>(limit));
    index->visited_pool_ = std::make_unique<VisitedPool>(index->n_);
    return index;
}

}  // namespace filterbench
