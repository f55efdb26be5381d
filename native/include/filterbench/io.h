// Index files: a magic string, a format version, then plain little-endian fields and arrays.
// Writer counts bytes too, so an index reports its exact serialized size without writing it.
#pragma once
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace filterbench {

class Writer {
   public:
    // path empty: only count bytes.
    explicit Writer(const std::string& path = "") {
        if (!path.empty() && !(file_ = std::fopen(path.c_str(), "wb")))
            throw std::runtime_error("cannot write " + path);
    }
    ~Writer() {
        if (file_) std::fclose(file_);
    }
    void bytes(const void* p, size_t size) {
        if (file_ && size && std::fwrite(p, 1, size, file_) != size) throw std::runtime_error("write failed (disk full?)");
        size_ += size;
    }
    template <class T>
    void value(const T& v) { bytes(&v, sizeof(T)); }
    template <class T, class Allocator>
    void array(const std::vector<T, Allocator>& v) {
        value<uint64_t>(v.size());
        bytes(v.data(), v.size() * sizeof(T));
    }
    size_t size() const { return size_; }

   private:
    std::FILE* file_ = nullptr;
    size_t size_ = 0;
};

class Reader {
   public:
    explicit Reader(const std::string& path) : path_(path) {
        if (!(file_ = std::fopen(path.c_str(), "rb"))) throw std::runtime_error("cannot read " + path);
    }
    ~Reader() { std::fclose(file_); }
    void bytes(void* p, size_t size) {
        if (size && std::fread(p, 1, size, file_) != size) throw std::runtime_error(path_ + ": truncated index file");
    }
    template <class T>
    T value() {
        T v;
        bytes(&v, sizeof(T));
        return v;
    }
    template <class T, class Allocator = std::allocator<T>>
    std::vector<T, Allocator> array(uint64_t max_size) {
        uint64_t size = value<uint64_t>();
        if (size > max_size) throw std::runtime_error(path_ + ": corrupt index file (array too large)");
        std::vector<T, Allocator> v(size);
        bytes(v.data(), size * sizeof(T));
        return v;
    }
    void expect_magic(const std::string& magic, uint32_t version) {
        std::string got(magic.size(), '\0');
        bytes(&got[0], got.size());
        if (got != magic) throw std::runtime_error(path_ + ": not a " + magic + " index file");
        uint32_t v = value<uint32_t>();
        if (v != version) throw std::runtime_error(path_ + ": index format version " + std::to_string(v) + ", expected " + std::to_string(version));
    }

   private:
    std::string path_;
    std::FILE* file_ = nullptr;
};

}  // namespace filterbench
