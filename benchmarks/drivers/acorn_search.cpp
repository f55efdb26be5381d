// Builds and searches the official ACORN (github.com/stanford-futuredata/ACORN, faiss::IndexACORNFlat)
// with FilterBench's vectors, queries and filter maps, so that benchmarks.official compares it with
// ours on the same work. Our code, compiled against the official headers and linked with the
// official library. The official repository has no build or search program that takes outside
// queries and filters; this one calls its index as its README shows: add(), then search() with
// one filter map per query, efSearch set on the index. It times the build (wall and CPU) and each
// group of queries (a selectivity quartile) as one single-thread search() call.
//
//   acorn_search BASE.bin M GAMMA M_BETA EF_CONSTRUCTION THREADS GROUP_PREFIX GROUPS K OUT.bin EF [EF ...]
//
// BASE.bin: int32 n, int32 d, n*d floats.
// GROUP_PREFIX{g}.bin, g = 0..GROUPS-1: int32 nq, int32 d, nq*d floats (the queries), then nq*n
//           bytes (each query's filter map: 1 where a base vector passes).
// After the build it prints "built WALL CPU" (seconds). Then each line "search" on stdin times
// every EF once and writes OUT.bin: per EF, per group, nq*K int32 ids (-1 where fewer than K were
// found), then one double (the group's seconds); "searched" on stdout says it is written.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <omp.h>

#include <faiss/IndexACORN.h>

namespace {

double cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + 1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

struct Group {
    int nq = 0, d = 0;
    std::vector<float> queries;
    std::vector<char> filter_map;
};

bool read_header(std::ifstream &in, int &rows, int &d) {
    in.read((char *)&rows, sizeof rows);
    in.read((char *)&d, sizeof d);
    return bool(in);
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 12) {
        std::fprintf(stderr, "usage: %s BASE.bin M GAMMA M_BETA EF_CONSTRUCTION THREADS GROUP_PREFIX GROUPS K OUT.bin "
                             "EF [EF ...]\n", argv[0]);
        return 2;
    }
    const int M = std::stoi(argv[2]), gamma = std::stoi(argv[3]), M_beta = std::stoi(argv[4]);
    const int ef_construction = std::stoi(argv[5]), threads = std::stoi(argv[6]);
    const std::string group_prefix = argv[7], out_path = argv[10];
    const int groups = std::stoi(argv[8]), K = std::stoi(argv[9]);
    std::vector<int> efs;
    for (int i = 11; i < argc; i++) efs.push_back(std::stoi(argv[i]));

    std::ifstream base(argv[1], std::ios::binary);
    int n = 0, d = 0;
    if (!read_header(base, n, d)) {
        std::fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    std::vector<float> vectors(size_t(n) * d);
    base.read((char *)vectors.data(), vectors.size() * sizeof(float));
    std::vector<Group> work(groups);
    for (int g = 0; g < groups; g++) {
        const std::string path = group_prefix + std::to_string(g) + ".bin";
        std::ifstream in(path, std::ios::binary);
        Group &group = work[g];
        if (!read_header(in, group.nq, group.d) || group.d != d) {
            std::fprintf(stderr, "cannot read %s, or its d is not the base's\n", path.c_str());
            return 1;
        }
        group.queries.resize(size_t(group.nq) * d);
        group.filter_map.resize(size_t(group.nq) * n);
        in.read((char *)group.queries.data(), group.queries.size() * sizeof(float));
        in.read(group.filter_map.data(), group.filter_map.size());
        if (!in) {
            std::fprintf(stderr, "%s is shorter than its header says\n", path.c_str());
            return 1;
        }
    }

    // The metadata argument is for the official's own benchmarks' attribute; search takes the map.
    std::vector<int> metadata(n, 0);
    faiss::IndexACORNFlat index(d, M, gamma, metadata, M_beta);
    index.acorn.efConstruction = ef_construction;
    omp_set_num_threads(threads);
    const double cpu0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    index.add(n, vectors.data());
    const double build_wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double build_cpu = cpu_seconds() - cpu0;

    // Built once; then each "search" line on stdin times every EF (a round of benchmarks.official)
    // and rewrites OUT.bin, and "searched" on stdout says it is there.
    std::printf("built %.6f %.6f\n", build_wall, build_cpu);
    std::fflush(stdout);
    omp_set_num_threads(1);
    std::string line;
    while (std::getline(std::cin, line) && line == "search") {
        std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
        for (int ef : efs) {
            index.acorn.efSearch = ef;
            for (Group &group : work) {
                std::vector<faiss::idx_t> ids(size_t(group.nq) * K);
                std::vector<float> distances(size_t(group.nq) * K);
                t0 = std::chrono::steady_clock::now();
                index.search(group.nq, group.queries.data(), K, distances.data(), ids.data(), group.filter_map.data());
                const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                for (faiss::idx_t id : ids) {
                    const int32_t id32 = int32_t(id);
                    out.write((const char *)&id32, sizeof id32);
                }
                out.write((const char *)&seconds, sizeof seconds);
            }
        }
        if (!out.flush()) return 1;
        std::printf("searched\n");
        std::fflush(stdout);
    }
    return 0;
}
