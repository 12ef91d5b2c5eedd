// Shared by the libFuzzer targets in this folder (fuzz/README in the top
// README's "Fuzzing" section): a reader that decodes structured choices
// from the fuzz bytes, a writer of XGBoost 1.7's UBJSON dialect, and the
// check that stops the run (abort, so libFuzzer keeps the input) when an
// invariant does not hold.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

// An invariant of the code under test failed: print why and abort, which
// libFuzzer reports as a crash and saves the input of.
#define FUZZ_CHECK(cond, ...)                                                          \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, \
                         #cond);                                                       \
            std::fprintf(stderr, __VA_ARGS__);                                         \
            std::fputc('\n', stderr);                                                  \
            std::abort();                                                              \
        }                                                                              \
    } while (0)

namespace fuzz {

// Reads choices from the fuzz bytes; past the end every read gives 0, so
// any input decodes to something.
class Bytes {
public:
    Bytes(const uint8_t* p, size_t n) : p_(p), n_(n) {}
    size_t left() const { return n_ - at_; }
    uint8_t u8() { return at_ < n_ ? p_[at_++] : 0; }
    uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
    uint32_t u32() { return static_cast<uint32_t>(u16()) | (static_cast<uint32_t>(u16()) << 16); }
    uint64_t u64() { return static_cast<uint64_t>(u32()) | (static_cast<uint64_t>(u32()) << 32); }
    // A value in [0, n) (n > 0).
    uint32_t below(uint32_t n) { return n <= 256 ? u8() % n : u32() % n; }
    bool flag() { return u8() & 1; }
    float f32() {
        uint32_t u = u32();
        float f;
        std::memcpy(&f, &u, 4);
        return f;
    }
    double f64() {
        uint64_t u = u64();
        double d;
        std::memcpy(&d, &u, 8);
        return d;
    }
    // Up to max bytes as a string.
    std::string str(size_t max) {
        size_t n = std::min<size_t>(u8() % (max + 1), left());
        std::string s(reinterpret_cast<const char*>(p_ + at_), n);
        at_ += n;
        return s;
    }
    // What is left, as it is.
    std::string_view rest() {
        std::string_view s(reinterpret_cast<const char*>(p_ + at_), n_ - at_);
        at_ = n_;
        return s;
    }

private:
    const uint8_t* p_;
    size_t n_;
    size_t at_ = 0;
};

// XGBoost 1.7's UBJSON, as its UBJWriter writes it: every length an 'L'
// int64, big-endian numbers, typed arrays "[$<elem>#L<count>".
class Ubj {
public:
    std::vector<uint8_t> bytes;

    void raw(uint8_t c) { bytes.push_back(c); }
    void be(uint64_t v, int n) {
        for (int i = n - 1; i >= 0; --i) bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
    }
    void length(uint64_t n) {
        raw('L');
        be(n, 8);
    }
    void key(std::string_view k) {
        length(k.size());
        bytes.insert(bytes.end(), k.begin(), k.end());
    }
    void string(std::string_view s) {
        raw('S');
        key(s);
    }
    void member(std::string_view k, std::string_view s) {
        key(k);
        string(s);
    }
    void begin_object(std::string_view k = {}) {
        if (!k.empty()) key(k);
        raw('{');
    }
    void end_object() { raw('}'); }
    // A counted array of small integers ("[#L<n>i.."), as XGBoost writes
    // tree_info and version.
    void int8_array(std::string_view k, const std::vector<int>& v) {
        key(k);
        raw('[');
        raw('#');
        length(v.size());
        for (int x : v) {
            raw('i');
            raw(static_cast<uint8_t>(x));
        }
    }
    void typed_u8(std::string_view k, const std::vector<uint8_t>& v) {
        typed_head(k, 'U', v.size());
        bytes.insert(bytes.end(), v.begin(), v.end());
    }
    void typed_i32(std::string_view k, const std::vector<int32_t>& v) {
        typed_head(k, 'l', v.size());
        for (int32_t x : v) be(static_cast<uint32_t>(x), 4);
    }
    void typed_i64(std::string_view k, const std::vector<int64_t>& v) {
        typed_head(k, 'L', v.size());
        for (int64_t x : v) be(static_cast<uint64_t>(x), 8);
    }
    void typed_f32(std::string_view k, const std::vector<float>& v) {
        typed_head(k, 'd', v.size());
        for (float x : v) {
            uint32_t u;
            std::memcpy(&u, &x, 4);
            be(u, 4);
        }
    }
    void empty_array(std::string_view k) {
        key(k);
        raw('[');
        raw(']');
    }

private:
    void typed_head(std::string_view k, uint8_t elem, size_t n) {
        key(k);
        raw('[');
        raw('$');
        raw(elem);
        raw('#');
        length(n);
    }
};

// Whether s is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF).
inline bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        size_t n;
        uint32_t cp;
        if (c < 0x80) { ++i; continue; }
        if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
        else return false;
        for (size_t k = 1; k <= n; ++k) {
            if (i + k >= s.size()) return false;
            const unsigned char d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp < 0xE000))
            return false;
        i += n + 1;
    }
    return true;
}

inline bool same_bits(const float* a, const float* b, size_t n) {
    return n == 0 || std::memcmp(a, b, n * sizeof(float)) == 0;
}

}  // namespace fuzz
