// Arrays that a search reads at random: vectors and link lists. Backed by 2 MiB pages where the
// kernel offers them (transparent huge pages in `madvise` mode, the common default), so that a
// jump to a random vector of a few hundred MB costs a cache miss, not also a TLB miss and a
// page-table walk.
#pragma once
#include <cstdlib>
#include <new>
#include <vector>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace filterbench {

constexpr size_t HUGE_PAGE = size_t(1) << 21;

template <class T>
struct HugePageAllocator {
    using value_type = T;
    HugePageAllocator() = default;
    template <class U>
    HugePageAllocator(const HugePageAllocator<U>&) {}

    T* allocate(size_t n) {
        size_t bytes = n * sizeof(T);
        // Small arrays are not worth a whole huge page; cache-line alignment suits the SIMD loads.
        size_t alignment = bytes >= HUGE_PAGE ? HUGE_PAGE : 64;
        size_t rounded = (bytes + alignment - 1) / alignment * alignment;
        void* p = std::aligned_alloc(alignment, rounded ? rounded : alignment);
        if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        // Before the first touch, so that the pages are faulted in huge; advice, not a requirement.
        if (alignment == HUGE_PAGE) madvise(p, rounded, MADV_HUGEPAGE);
#endif
        return static_cast<T*>(p);
    }
    void deallocate(T* p, size_t) { std::free(p); }
    template <class U>
    bool operator==(const HugePageAllocator<U>&) const { return true; }
    template <class U>
    bool operator!=(const HugePageAllocator<U>&) const { return false; }
};

template <class T>
using HugeVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace filterbench
