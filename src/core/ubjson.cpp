#include "core/ubjson.hpp"

#include <string>

#include "core/model_check.hpp"

namespace pgml::ubjson {

namespace {

constexpr int kMaxDepth = 64;
// A 1000-tree model has about 25,000 values (typed arrays count as one);
// this bounds the document's memory (32 bytes a value) for any input.
constexpr size_t kMaxValues = size_t{1} << 22;

uint64_t load_be(const uint8_t* p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
    return v;
}

int elem_size(uint8_t elem) {
    switch (elem) {
        case 'U': return 1;
        case 'l': case 'd': return 4;
        case 'L': return 8;
        default: return 0;
    }
}

// Reads the dialect XGBoost 1.7's UBJReader reads, and nothing else: every
// length and count is 'L' (int64), typed arrays hold d, U, l or L, objects
// are not counted, and there is no no-op 'N' or 64-bit float 'D' (XGBoost
// refuses those). So the document built here is the one XGBoost builds.
class Parser {
public:
    Parser(const uint8_t* p, size_t n) : begin_(p), p_(p), end_(p + n) {}

    bool document() {
        values_.reserve(64);
        values_.emplace_back();
        uint8_t m;
        return byte(m) && m == '{' && object(0, 1) && p_ == end_;
    }
    size_t offset() const { return static_cast<size_t>(p_ - begin_); }
    bool too_many() const { return too_many_; }
    std::vector<Value> take() { return std::move(values_); }

private:
    size_t left() const { return static_cast<size_t>(end_ - p_); }
    uint32_t here() const { return static_cast<uint32_t>(p_ - begin_); }
    bool byte(uint8_t& out) {
        if (p_ == end_) return false;
        out = *p_++;
        return true;
    }
    bool peek(uint8_t c) const { return p_ != end_ && *p_ == c; }
    bool skip(uint64_t n) {
        if (n > left()) return false;
        p_ += n;
        return true;
    }
    // A length or count: 'L' and a non-negative int64.
    bool length(uint64_t& out) {
        uint8_t t;
        if (!byte(t) || t != 'L' || left() < 8) return false;
        out = load_be(p_, 8);
        p_ += 8;
        return (out >> 63) == 0;
    }
    bool signed_int(int n, uint64_t& out) {
        if (left() < static_cast<size_t>(n)) return false;
        uint64_t v = load_be(p_, n);
        p_ += n;
        if (n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);
        out = v;
        return true;
    }
    // Appends a value and links it after prev (or as first child of parent).
    bool add(uint32_t parent, uint32_t& prev, uint32_t& out) {
        if (values_.size() >= kMaxValues) {
            too_many_ = true;
            return false;
        }
        out = static_cast<uint32_t>(values_.size());
        values_.emplace_back();
        if (prev)
            values_[prev].next = out;
        else
            values_[parent].child = out;
        prev = out;
        ++values_[parent].bits;
        return true;
    }

    bool value(uint8_t m, uint32_t at, int depth) {
        Value& v = values_[at];
        switch (m) {
            case 'Z': v.kind = Kind::null; return true;
            case 'T': v.kind = Kind::boolean; v.bits = 1; return true;
            case 'F': v.kind = Kind::boolean; return true;
            case 'U':
                v.kind = Kind::integer;
                if (left() < 1) return false;
                v.bits = *p_++;
                return true;
            case 'i': case 'C': v.kind = Kind::integer; return signed_int(1, v.bits);
            case 'I': v.kind = Kind::integer; return signed_int(2, v.bits);
            case 'l': v.kind = Kind::integer; return signed_int(4, v.bits);
            case 'L': v.kind = Kind::integer; return signed_int(8, v.bits);
            case 'd':
                v.kind = Kind::number;
                if (left() < 4) return false;
                v.bits = load_be(p_, 4);
                p_ += 4;
                return true;
            case 'S': {
                v.kind = Kind::string;
                uint64_t n;
                if (!length(n)) return false;
                v.data = here();
                v.bits = n;
                return skip(n);
            }
            case '[': return array(at, depth + 1);
            case '{': return object(at, depth + 1);
            default: return false;
        }
    }

    bool array(uint32_t at, int depth) {
        if (depth > kMaxDepth) return false;
        values_[at].kind = Kind::array;
        if (peek('$')) {
            ++p_;
            uint8_t elem, hash;
            uint64_t n;
            if (!byte(elem) || !elem_size(elem) || !byte(hash) || hash != '#' || !length(n))
                return false;
            uint64_t size = static_cast<uint64_t>(elem_size(elem));
            if (n > left() / size) return false;
            Value& v = values_[at];
            v.kind = Kind::typed;
            v.elem = elem;
            v.bits = n;
            v.data = here();
            p_ += n * size;
            return true;
        }
        uint32_t prev = 0;
        if (peek('#')) {
            ++p_;
            uint64_t n;
            // Each element takes at least its marker byte.
            if (!length(n) || n > left()) return false;
            for (uint64_t i = 0; i < n; ++i)
                if (!element(at, prev, depth)) return false;
            return true;
        }
        for (;;) {
            if (p_ == end_) return false;
            if (*p_ == ']') {
                ++p_;
                return true;
            }
            if (!element(at, prev, depth)) return false;
        }
    }
    bool element(uint32_t parent, uint32_t& prev, int depth) {
        uint8_t m;
        uint32_t at;
        return byte(m) && add(parent, prev, at) && value(m, at, depth);
    }

    bool object(uint32_t at, int depth) {
        if (depth > kMaxDepth) return false;
        values_[at].kind = Kind::object;
        uint32_t prev = 0;
        for (;;) {
            if (p_ == end_) return false;
            if (*p_ == '}') {
                ++p_;
                return true;
            }
            uint64_t n;
            if (!length(n)) return false;
            uint32_t key = here();
            uint8_t m;
            uint32_t member;
            if (!skip(n) || !byte(m) || !add(at, prev, member)) return false;
            values_[member].key = key;
            values_[member].key_len = static_cast<uint32_t>(n);
            if (!value(m, member, depth)) return false;
        }
    }

    const uint8_t* begin_;
    const uint8_t* p_;
    const uint8_t* end_;
    bool too_many_ = false;
    std::vector<Value> values_;
};

}  // namespace

const Value* Document::find(const Value& object, std::string_view key) const {
    // Length and first byte before memcmp: trees have 17 keys, looked up
    // 20 times each, on every load.
    for (const Value* m = first(object); m; m = next(*m))
        if (m->key_len == key.size() &&
            (key.empty() || (bytes_[m->key] == static_cast<uint8_t>(key[0]) &&
                             std::memcmp(bytes_ + m->key, key.data(), key.size()) == 0)))
            return m;
    return nullptr;
}

std::string_view Document::key(const Value& v) const {
    return {reinterpret_cast<const char*>(bytes_ + v.key), v.key_len};
}

std::string_view Document::string(const Value& v) const {
    return {reinterpret_cast<const char*>(bytes_ + v.data), static_cast<size_t>(v.bits)};
}

float Document::number(const Value& v) const {
    return std::bit_cast<float>(static_cast<uint32_t>(v.bits));
}

Result<Document> Document::parse(const uint8_t* bytes, size_t len) {
    if (len > UINT32_MAX)
        return fail(sqlstate::invalid_binary, "not a valid XGBoost model: larger than 4 GB");
    Parser p(bytes, len);
    if (!p.document()) {
        if (p.too_many())
            return fail(sqlstate::invalid_binary,
                        "not a valid XGBoost model: more than " + std::to_string(kMaxValues) +
                            " UBJSON values");
        return fail(sqlstate::invalid_binary,
                    "not a valid XGBoost model: malformed or truncated UBJSON at byte " +
                        std::to_string(p.offset()) + " of " + std::to_string(len));
    }
    return Document(bytes, p.take());
}

Result<void> check_model(const uint8_t* bytes, size_t len) {
    // JSON text ('{"') and the legacy binary format are refused: only the
    // UBJSON form can be checked here before XGBoost parses it.
    if (len < 2 || bytes[0] != '{' || bytes[1] == '"')
        return fail(sqlstate::invalid_binary, "not a valid XGBoost model: expected UBJSON bytes",
                    "Save the model as UBJSON: booster.save_model('model.ubj') or "
                    "booster.save_raw('ubj') in Python, or pgml.export_model().");
    auto doc = Document::parse(bytes, len);
    if (!doc) return tl::unexpected(doc.error());
    return check_document(*doc);
}

}  // namespace pgml::ubjson
