// Visited marks for graph search: one epoch counter per node, so clearing is O(1) per query
// (a full reset only every 65,535 queries). A pool hands one list to each searching thread.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace filterbench {

class VisitedList {
   public:
    explicit VisitedList(size_t n) : marks_(n, 0) {}

    void next_query() {
        if (++epoch_ == 0) {
            std::fill(marks_.begin(), marks_.end(), 0);
            epoch_ = 1;
        }
    }
    bool visited(size_t i) const { return marks_[i] == epoch_; }
    void mark(size_t i) { marks_[i] = epoch_; }
    // Marks i; returns whether it was already marked.
    bool test_and_mark(size_t i) {
        bool was = marks_[i] == epoch_;
        marks_[i] = epoch_;
        return was;
    }

   private:
    std::vector<uint16_t> marks_;
    uint16_t epoch_ = 0;
};

class VisitedPool {
   public:
    explicit VisitedPool(size_t n) : n_(n) {}

    // A list with a fresh epoch, returned to the pool when the handle goes out of scope.
    struct Handle {
        VisitedPool* pool;
        std::unique_ptr<VisitedList> list;
        ~Handle() {
            std::lock_guard<std::mutex> lock(pool->mutex_);
            pool->free_.push_back(std::move(list));
        }
        VisitedList& operator*() { return *list; }
        VisitedList* operator->() { return list.get(); }
    };

    Handle get() {
        std::unique_ptr<VisitedList> list;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!free_.empty()) {
                list = std::move(free_.back());
                free_.pop_back();
            }
        }
        if (!list) list = std::make_unique<VisitedList>(n_);
        list->next_query();
        return Handle{this, std::move(list)};
    }

   private:
    size_t n_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<VisitedList>> free_;
};

}  // namespace filterbench
