// Distance kernels. Every index ranks by a "smaller is nearer" score: squared L2, or the
// negated inner product (angular data is normalized to unit length before it gets here).
// `omp simd reduction` lets the compiler vectorize the sums without -ffast-math.
#pragma once
#include <cstddef>

namespace filterbench {

enum class Metric { L2 = 0, InnerProduct = 1 };

inline float l2_squared(const float* a, const float* b, size_t d) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < d; i++) {
        float t = a[i] - b[i];
        s += t * t;
    }
    return s;
}

inline float inner_product(const float* a, const float* b, size_t d) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < d; i++) s += a[i] * b[i];
    return s;
}

inline float score(Metric metric, const float* a, const float* b, size_t d) {
    return metric == Metric::L2 ? l2_squared(a, b, d) : -inner_product(a, b, d);
}

}  // namespace filterbench
