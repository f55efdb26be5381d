// parallel_for over [0, n) on `threads` std::threads, handing out chunks of indices in order.
// One thread runs inline, in order: builds with one thread are deterministic.
#pragma once
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace filterbench {

template <class F>
void parallel_for(size_t n, int threads, F&& f, size_t chunk = 64) {
    if (threads <= 1 || n <= chunk) {
        for (size_t i = 0; i < n; i++) f(i);
        return;
    }
    std::atomic<size_t> next{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto work = [&] {
        try {
            for (size_t start; (start = next.fetch_add(chunk)) < n;)
                for (size_t i = start; i < std::min(n, start + chunk); i++) f(i);
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!error) error = std::current_exception();
            next = n;
        }
    };
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; t++) pool.emplace_back(work);
    for (auto& t : pool) t.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace filterbench
