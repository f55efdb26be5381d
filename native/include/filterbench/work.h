// The choice between a graph search and an exact scan, per query, by expected work (ACORN,
// iRangeGraph). A graph's work at a given share of the base (passing vectors, or a range's span)
// is measured once per search setting on a seeded sample and interpolated; the scan's is
// share × n × d. Counts, not times, so the choice is the same on every run.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <vector>

namespace filterbench {

// Units: one float of an exact scan's distance computation. Fitted to ACORN-1's query times on
// arxiv (199k x 384, 1,000 containment queries): a scan takes 0.20 ns a float; a graph search
// 0.39-0.46 ns a float of its distance computations (random access: about twice) and 2.4-2.7 ns
// a neighbour-list entry it looks at (a filter or range check: about 12 floats).
struct GraphWork {
    uint64_t distances = 0, checks = 0;
    static constexpr double kDistanceCost = 2.0, kCheckCost = 12.0;
    double cost(size_t d) const { return double(distances) * double(d) * kDistanceCost + double(checks) * kCheckCost; }
};

// A calibration query: `base` (a vector of d floats) moved by seeded noise of 5% of its mean
// magnitude, so that a search does not start at its answer.
template <class Rng>
void near_vector(const float* base, size_t d, Rng& rng, std::vector<float>& q) {
    std::normal_distribution<float> noise(0.0f, 1.0f);
    float spread = 0;
    for (size_t t = 0; t < d; t++) spread += std::fabs(base[t]);
    spread = 0.05f * spread / float(d);
    q.resize(d);
    for (size_t t = 0; t < d; t++) q[t] = base[t] + spread * noise(rng);
}

// Expected graph work per search setting at the shares 1/1024, 1/256, ..., 1 of the base,
// linear in log(share) between them and constant beyond.
class ExpectedWork {
   public:
    static constexpr int kLevels = 6, kSamples = 16;
    static double share(int level) { return std::ldexp(1.0, -2 * (kLevels - 1 - level)); }

    // Fills the setting's table once: measure(share) is the mean work of kSamples searches there.
    template <class Measure>
    void calibrate(uint64_t setting, Measure measure) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (tables_.count(setting)) return;
        }
        std::vector<double> table;
        for (int j = 0; j < kLevels; j++) table.push_back(measure(share(j)));
        std::lock_guard<std::mutex> lock(mutex_);
        tables_[setting] = table;
    }

    // The work expected at `share` of the base (the setting must be calibrated).
    double at(uint64_t setting, double share) const {
        std::lock_guard<std::mutex> lock(mutex_);
        const std::vector<double>& table = tables_.at(setting);
        double x = std::log2(std::max(share, 1e-300)) / 2.0 + double(kLevels - 1);
        if (x <= 0) return table.front();
        if (x >= kLevels - 1) return table.back();
        int j = int(x);
        return table[j] + (x - j) * (table[j + 1] - table[j]);
    }

   private:
    mutable std::mutex mutex_;
    std::map<uint64_t, std::vector<double>> tables_;
};

}  // namespace filterbench
