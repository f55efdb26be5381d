// Searches an index built by the official iRangeGraph (github.com/YuexuanXu7/iRangeGraph,
// tests/buildindex) with FilterBench's queries and ranges, so that benchmarks.official compares
// it with ours on the same work. Our code, compiled against the official headers (the official
// tests/search.cpp draws its own ranges and cannot be given ours). It times what that file times:
// per query, the segment-tree cover of the range and TopDown_nodeentries_search.
//
//   irangegraph_search DATA.bin INDEX M WORK.bin OUT.bin K EF [EF ...]
//
// DATA.bin: the base sorted by the attribute, in the official format (int n, int d, n*d floats).
// WORK.bin: int nq, int d, nq*d floats (the queries), nq*2 ints (each range as the first and last
//           position it covers in that order, inclusive).
// OUT.bin:  per EF, in order: nq*K ints (positions in the sorted base, -1 where fewer than K were
//           found), then nq doubles (seconds per query).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "iRG_search.h"

int main(int argc, char **argv) {
    if (argc < 8) {
        std::fprintf(stderr, "usage: %s DATA.bin INDEX M WORK.bin OUT.bin K EF [EF ...]\n", argv[0]);
        return 2;
    }
    const std::string data_path = argv[1], index_path = argv[2], work_path = argv[4], out_path = argv[5];
    const int M = std::stoi(argv[3]), K = std::stoi(argv[6]);
    std::vector<int> efs;
    for (int i = 7; i < argc; i++) efs.push_back(std::stoi(argv[i]));

    iRangeGraph::DataLoader storage;
    storage.query_K = K;
    std::ifstream work(work_path, std::ios::binary);
    if (!work) {
        std::fprintf(stderr, "cannot open %s\n", work_path.c_str());
        return 1;
    }
    work.read((char *)&storage.query_nb, sizeof(int));
    work.read((char *)&storage.Dim, sizeof(int));
    storage.query_points.assign(storage.query_nb, std::vector<float>(storage.Dim));
    for (auto &q : storage.query_points) work.read((char *)q.data(), storage.Dim * sizeof(float));
    std::vector<std::pair<int, int>> ranges(storage.query_nb);
    for (auto &r : ranges) {
        work.read((char *)&r.first, sizeof(int));
        work.read((char *)&r.second, sizeof(int));
    }
    if (!work) {
        std::fprintf(stderr, "%s is shorter than its header says\n", work_path.c_str());
        return 1;
    }

    iRangeGraph::iRangeGraph_Search<float> index(data_path, index_path, &storage, M);
    std::ofstream out(out_path, std::ios::binary);
    std::vector<int> found(K);
    std::vector<double> seconds(storage.query_nb);
    for (int ef : efs) {
        for (int i = 0; i < storage.query_nb; i++) {
            auto t0 = std::chrono::steady_clock::now();
            auto cover = index.tree->range_filter(index.tree->root, ranges[i].first, ranges[i].second);
            // edge_limit = M, as the official search passes it.
            auto top = index.TopDown_nodeentries_search(cover, storage.query_points[i].data(), ef, K,
                                                        ranges[i].first, ranges[i].second, M);
            seconds[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            std::fill(found.begin(), found.end(), -1);
            for (int j = (int)top.size() - 1; j >= 0; j--) {  // the heap pops the farthest first
                found[j] = top.top().second;
                top.pop();
            }
            out.write((char *)found.data(), K * sizeof(int));
        }
        out.write((char *)seconds.data(), seconds.size() * sizeof(double));
    }
    return out ? 0 : 1;
}
