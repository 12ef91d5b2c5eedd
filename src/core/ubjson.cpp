#include "core/ubjson.hpp"

#include <string>

namespace pgml::ubjson {

namespace {

constexpr int kMaxDepth = 64;

class Checker {
public:
    Checker(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}

    bool document() {
        uint8_t m;
        return byte(m) && m == '{' && container('{', 1) && p_ == end_;
    }
    size_t offset(const uint8_t* start) const { return static_cast<size_t>(p_ - start); }

private:
    size_t left() const { return static_cast<size_t>(end_ - p_); }
    bool byte(uint8_t& out) {
        if (p_ == end_) return false;
        out = *p_++;
        return true;
    }
    bool skip(uint64_t n) {
        if (n > left()) return false;
        p_ += n;
        return true;
    }

    // Size of a fixed-size value of this type, 0 if not fixed, -1 if unknown.
    static int fixed_size(uint8_t t) {
        switch (t) {
            case 'Z': case 'N': case 'T': case 'F': return 0;
            case 'i': case 'U': case 'C': return 1;
            case 'I': return 2;
            case 'l': case 'd': return 4;
            case 'L': case 'D': return 8;
            case 'S': case 'H': case '[': case '{': return 0;
            default: return -1;
        }
    }
    static bool is_fixed(uint8_t t) {
        return t == 'Z' || t == 'N' || t == 'T' || t == 'F' || fixed_size(t) > 0;
    }

    // A non-negative integer (length or count) with its type marker.
    bool length(uint64_t& out) {
        uint8_t t;
        if (!byte(t)) return false;
        return length_of(t, out);
    }
    bool length_of(uint8_t t, uint64_t& out) {
        int n = 0;
        bool is_signed = true;
        switch (t) {
            case 'i': n = 1; break;
            case 'U': n = 1; is_signed = false; break;
            case 'I': n = 2; break;
            case 'l': n = 4; break;
            case 'L': n = 8; break;
            default: return false;
        }
        if (left() < static_cast<size_t>(n)) return false;
        uint64_t v = 0;
        for (int i = 0; i < n; ++i) v = (v << 8) | *p_++;
        if (is_signed && (v >> (8 * n - 1)) & 1) return false;  // negative
        out = v;
        return true;
    }

    bool value(uint8_t t, int depth) {
        if (t == '[' || t == '{') return container(t, depth + 1);
        if (t == 'S' || t == 'H') {
            uint64_t n;
            return length(n) && skip(n);
        }
        int size = fixed_size(t);
        return size >= 0 && skip(static_cast<uint64_t>(size));
    }

    bool key() {
        uint64_t n;
        return length(n) && skip(n);
    }

    bool container(uint8_t open, int depth) {
        if (depth > kMaxDepth) return false;
        const bool object = open == '{';
        const uint8_t close = object ? '}' : ']';
        uint8_t type = 0;
        uint64_t count = 0;
        bool counted = false;
        if (p_ != end_ && *p_ == '$') {
            ++p_;
            if (!byte(type) || fixed_size(type) < 0) return false;
            if (p_ == end_ || *p_ != '#') return false;  // a type needs a count
        }
        if (p_ != end_ && *p_ == '#') {
            ++p_;
            if (!length(count)) return false;
            counted = true;
        }
        if (counted) {
            // Each element takes at least one byte (its key, marker or
            // payload), except typed elements without payload; bound the
            // count by what is left before walking it.
            if (type && is_fixed(type) && !object) {
                uint64_t size = static_cast<uint64_t>(fixed_size(type));
                if (size == 0) return count <= (uint64_t{1} << 32);
                return count <= left() / size && skip(count * size);
            }
            if (count > left()) return false;
            for (uint64_t i = 0; i < count; ++i) {
                if (object && !key()) return false;
                uint8_t t = type;
                if (!t && !byte(t)) return false;
                if (!value(t, depth)) return false;
            }
            return true;
        }
        for (;;) {
            if (p_ == end_) return false;
            if (*p_ == close) {
                ++p_;
                return true;
            }
            if (object && !key()) return false;
            uint8_t t;
            if (!byte(t)) return false;
            if (t == 'N') continue;
            if (!value(t, depth)) return false;
        }
    }

    const uint8_t* p_;
    const uint8_t* end_;
};

}  // namespace

Result<void> check_model(const uint8_t* bytes, size_t len) {
    // JSON text ('{"') and the legacy binary format are refused: only the
    // UBJSON form can be checked here before XGBoost parses it.
    if (len < 2 || bytes[0] != '{' || bytes[1] == '"')
        return fail(sqlstate::invalid_binary, "not a valid XGBoost model: expected UBJSON bytes",
                    "Save the model as UBJSON: booster.save_model('model.ubj') or "
                    "booster.save_raw('ubj') in Python, or pgml.export_model().");
    Checker c(bytes, len);
    if (!c.document())
        return fail(sqlstate::invalid_binary,
                    "not a valid XGBoost model: malformed or truncated UBJSON at byte " +
                        std::to_string(c.offset(bytes)) + " of " + std::to_string(len));
    return {};
}

}  // namespace pgml::ubjson
