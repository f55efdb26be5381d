// (score, id) pairs and the two heaps of a best-first search: the candidates to expand
// (nearest on top) and the best results so far (farthest on top, bounded in size).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <queue>
#include <vector>

namespace filterbench {

struct Neighbor {
    float score;
    int32_t id;
    // Ties broken by id, so results are deterministic.
    bool operator<(const Neighbor& o) const { return score < o.score || (score == o.score && id < o.id); }
    bool operator>(const Neighbor& o) const { return o < *this; }
};

using FarthestOnTop = std::priority_queue<Neighbor>;
using NearestOnTop = std::priority_queue<Neighbor, std::vector<Neighbor>, std::greater<Neighbor>>;

// Keeps the `capacity` nearest of the neighbors pushed.
class TopK {
   public:
    explicit TopK(size_t capacity) : capacity_(capacity) {}
    bool full() const { return heap_.size() >= capacity_; }
    // The score a new neighbor must beat to enter.
    float bound() const { return full() ? heap_.top().score : INFINITY; }
    void push(Neighbor x) {
        if (!full()) {
            heap_.push(x);
        } else if (x < heap_.top()) {
            heap_.pop();
            heap_.push(x);
        }
    }
    size_t size() const { return heap_.size(); }
    // The neighbors, nearest first; empties the heap.
    std::vector<Neighbor> take_sorted() {
        std::vector<Neighbor> out(heap_.size());
        for (size_t i = out.size(); i-- > 0;) {
            out[i] = heap_.top();
            heap_.pop();
        }
        return out;
    }

   private:
    size_t capacity_;
    FarthestOnTop heap_;
};

}  // namespace filterbench
