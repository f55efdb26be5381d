// Searches an index built by the official UNG (github.com/YZ-Cai/Unified-Navigating-Graph,
// apps/build_UNG_index) with FilterBench's queries, so that benchmarks.official compares it with
// ours on the same work. Our code, compiled against the official headers and library. It times
// what the official apps/search_UNG_index times, UniNavGraph::search on one thread, once per group
// of queries (a selectivity quartile), so each query gets its group's mean.
//
//   ung_search INDEX_PREFIX SCENARIO K OUT.bin GROUP_PREFIX GROUPS ENTRY_POINTS L [L ...]
//
// GROUP_PREFIX{g}.bin / .txt, g = 0..GROUPS-1: the group's queries in the official formats
//           (uint32 n, uint32 d, n*d floats; one comma-separated label line per query).
// OUT.bin:  per L, per group, in order: n*K int32 ids (base ids, -1 where fewer than K were
//           found), then one double (the group's seconds).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "uni_nav_graph.h"

int main(int argc, char **argv) {
    if (argc < 9) {
        std::fprintf(stderr, "usage: %s INDEX_PREFIX SCENARIO K OUT.bin GROUP_PREFIX GROUPS ENTRY_POINTS L [L ...]\n",
                     argv[0]);
        return 2;
    }
    const std::string index_prefix = argv[1], scenario = argv[2], out_path = argv[4], group_prefix = argv[5];
    const ANNS::IdxType K = std::stoul(argv[3]), entry_points = std::stoul(argv[7]);
    const int groups = std::stoi(argv[6]);
    std::vector<ANNS::IdxType> Ls;
    for (int i = 8; i < argc; i++) Ls.push_back(std::stoul(argv[i]));

    std::vector<std::shared_ptr<ANNS::IStorage>> queries;
    for (int g = 0; g < groups; g++) {
        queries.push_back(ANNS::create_storage("float"));
        const std::string stem = group_prefix + std::to_string(g);
        queries.back()->load_from_file(stem + ".bin", stem + ".txt");
    }
    ANNS::UniNavGraph index;
    index.load(index_prefix, "float");
    std::shared_ptr<ANNS::DistanceHandler> distance = ANNS::get_distance_handler("float", "L2");

    std::ofstream out(out_path, std::ios::binary);
    for (auto L : Ls) {
        for (auto &group : queries) {
            const auto n = group->get_num_points();
            std::vector<std::pair<ANNS::IdxType, float>> results(size_t(n) * K);
            std::vector<float> comparisons(n);
            auto t0 = std::chrono::steady_clock::now();
            index.search(group, distance, 1, L, entry_points, scenario, K, results.data(), comparisons);
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            for (const auto &r : results) {
                const int32_t id = r.first == ANNS::IdxType(-1) ? -1 : int32_t(r.first);
                out.write((const char *)&id, sizeof id);
            }
            out.write((const char *)&seconds, sizeof seconds);
        }
    }
    return out ? 0 : 1;
}
