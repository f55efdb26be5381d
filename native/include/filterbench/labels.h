// Label sets: every base vector's labels (CSR, as the harness's Csr holds them), grouped into
// the distinct sets. UNG builds one graph per distinct set; CAPS checks equality by set id.
#pragma once
#include <algorithm>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace filterbench {

using LabelSet = std::vector<int32_t>;  // sorted, no duplicates

// A view of CSR label rows: labels of row i are indices[indptr[i] .. indptr[i+1]).
struct LabelRows {
    const int64_t* indptr = nullptr;
    const int32_t* indices = nullptr;
    size_t rows = 0;

    LabelSet row(size_t i) const {
        LabelSet s(indices + indptr[i], indices + indptr[i + 1]);
        std::sort(s.begin(), s.end());
        s.erase(std::unique(s.begin(), s.end()), s.end());
        return s;
    }
    void check(size_t n, const char* who) const {
        if (rows != n)
            throw std::invalid_argument(std::string(who) + ": " + std::to_string(rows) + " label rows for " +
                                        std::to_string(n) + " vectors");
        for (size_t i = 0; i < rows; i++)
            for (int64_t j = indptr[i]; j < indptr[i + 1]; j++)
                if (indices[j] < 0) throw std::invalid_argument(std::string(who) + ": negative label id");
    }
};

// The distinct label sets of the base, numbered in lexicographic order (deterministic), and
// the set id of every vector.
struct DistinctSets {
    std::vector<LabelSet> sets;
    std::vector<int32_t> set_of;  // per vector

    explicit DistinctSets(const LabelRows& labels) : set_of(labels.rows) {
        std::map<LabelSet, int32_t> ids;
        std::vector<LabelSet> rows(labels.rows);
        for (size_t i = 0; i < labels.rows; i++) ids.emplace(rows[i] = labels.row(i), 0);
        for (auto& [set, id] : ids) id = int32_t(sets.size()), sets.push_back(set);
        for (size_t i = 0; i < labels.rows; i++) set_of[i] = ids[rows[i]];
    }
};

// The label predicates of the FANNS paper: the item's set contains the query's, shares a label
// with it, or equals it.
enum class Predicate { Containment = 0, Overlap = 1, Equality = 2 };

inline bool is_subset(const LabelSet& small, const LabelSet& big) {
    return small.size() <= big.size() && std::includes(big.begin(), big.end(), small.begin(), small.end());
}

}  // namespace filterbench
