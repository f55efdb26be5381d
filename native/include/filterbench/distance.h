// Distance kernels. Every index ranks by a "smaller is nearer" score: squared L2, or the
// negated inner product (angular data is normalized to unit length before it gets here).
// `omp simd reduction` lets the compiler vectorize the sums without -ffast-math.
#pragma once
#include <algorithm>
#include <cstddef>

namespace filterbench {

enum class Metric { L2 = 0, InnerProduct = 1 };

// W independent partial sums (W/8 AVX2 or W/16 AVX-512 registers) hide the FMA latency that a
// single running sum waits on; the compiler vectorizes the inner loop.
constexpr size_t LANES = 32;

// The partial sums added pairwise, halves at a time: a few vector adds where one running sum
// over the lanes is a chain of LANES dependent scalar adds.
inline float sum_lanes(float* acc) {
    for (size_t width = LANES / 2; width > 0; width /= 2) {
#pragma omp simd
        for (size_t j = 0; j < width; j++) acc[j] += acc[j + width];
    }
    return acc[0];
}

inline float l2_squared(const float* a, const float* b, size_t d) {
    float acc[LANES] = {};
    size_t i = 0;
    for (; i + LANES <= d; i += LANES) {
#pragma omp simd
        for (size_t j = 0; j < LANES; j++) {
            float t = a[i + j] - b[i + j];
            acc[j] += t * t;
        }
    }
    float s = 0;
    for (; i < d; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    return s + sum_lanes(acc);
}

inline float inner_product(const float* a, const float* b, size_t d) {
    float acc[LANES] = {};
    size_t i = 0;
    for (; i + LANES <= d; i += LANES) {
#pragma omp simd
        for (size_t j = 0; j < LANES; j++) acc[j] += a[i + j] * b[i + j];
    }
    float s = 0;
    for (; i < d; i++) s += a[i] * b[i];
    return s + sum_lanes(acc);
}

// Asks for the first cache lines of a vector that is about to be scored (graph search jumps
// around memory; the hardware prefetcher streams the rest once the first lines are in).
inline void prefetch_vector(const float* v, size_t d) {
    for (size_t line = 0; line < std::min<size_t>(d * sizeof(float), 256); line += 64)
        __builtin_prefetch(reinterpret_cast<const char*>(v) + line);
}

inline float score(Metric metric, const float* a, const float* b, size_t d) {
    return metric == Metric::L2 ? l2_squared(a, b, d) : -inner_product(a, b, d);
}

}  // namespace filterbench
