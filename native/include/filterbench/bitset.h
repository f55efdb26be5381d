// The harness's filter map: a little-endian packed bitset over the base (bit i of byte i/8 is
// id i), as numpy.packbits(mask, bitorder="little") makes it. A null view passes everything.
#pragma once
#include <cstdint>
#include <cstring>

namespace filterbench {

struct FilterMap {
    const uint8_t* bits = nullptr;  // nullptr: unfiltered
    size_t n = 0;

    bool passes(size_t i) const { return bits == nullptr || ((bits[i >> 3] >> (i & 7)) & 1); }

    size_t count() const {
        if (bits == nullptr) return n;
        size_t total = 0, nbytes = (n + 7) / 8, i = 0;
        for (; i + 8 <= nbytes; i += 8) {
            uint64_t word;
            std::memcpy(&word, bits + i, 8);
            total += __builtin_popcountll(word);
        }
        for (; i < nbytes; i++) total += __builtin_popcount(bits[i]);
        return total;
    }

    // Calls f(id) for each passing id in increasing order.
    template <class F>
    void for_each(F&& f) const {
        size_t nbytes = (n + 7) / 8;
        for (size_t byte = 0; byte < nbytes; byte += 8) {
            uint64_t word = 0;
            std::memcpy(&word, bits + byte, byte + 8 <= nbytes ? 8 : nbytes - byte);
            while (word) {
                size_t id = byte * 8 + __builtin_ctzll(word);
                word &= word - 1;
                if (id < n) f(id);
            }
        }
    }
};

}  // namespace filterbench
