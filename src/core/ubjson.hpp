// Checks UBJSON model bytes before XGBoost sees them. XGBoost 1.7's reader
// trusts length and count fields, so truncated or corrupted bytes can make
// it read past the buffer or allocate gigabytes (seen: 24 GB for 100
// truncated bytes, and the OOM killer took the backend and the cluster with
// it). Its tree loader and predictor trust the trees, so a child index out
// of range or a cycle crashes or hangs the process. Every model passes
// check_model first: a bounds-checked parse in exactly the UBJSON dialect
// XGBoost 1.7 reads, then a semantic check of the model document
// (model_check.hpp).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace pgml::ubjson {

enum class Kind : uint8_t { null, boolean, integer, number, string, object, array, typed };

// One value of a parsed document. Strings, keys and typed-array payloads
// stay in the input bytes; values refer to them by offset.
struct Value {
    uint64_t bits = 0;    // integer: value; number: float bits; string,
                          // array, typed array, object: length or count
    uint32_t key = 0;     // member of an object: offset of its key
    uint32_t key_len = 0;
    uint32_t data = 0;    // string bytes or typed-array payload: offset
    uint32_t next = 0;    // next member or element, 0 when last
    uint32_t child = 0;   // first member or element, 0 when none
    Kind kind = Kind::null;
    uint8_t elem = 0;     // typed array: element marker, 'd' 'U' 'l' or 'L'
};

// The elements of a typed array ("[$l#L..."), read in place (big-endian).
// Inline: the tree checks read every node through these.
struct Typed {
    const uint8_t* p = nullptr;
    size_t size = 0;
    uint8_t elem = 0;

    int64_t integer(size_t i) const {  // 'U', 'l' or 'L'
        if (elem == 'U') return p[i];
        if (elem == 'l') return static_cast<int32_t>(be32(p + 4 * i));
        uint64_t v;
        std::memcpy(&v, p + 8 * i, sizeof v);
        return static_cast<int64_t>(little() ? __builtin_bswap64(v) : v);
    }
    float number(size_t i) const {  // 'd'
        return std::bit_cast<float>(be32(p + 4 * i));
    }

private:
    static constexpr bool little() { return std::endian::native == std::endian::little; }
    static uint32_t be32(const uint8_t* q) {
        uint32_t v;
        std::memcpy(&v, q, sizeof v);
        return little() ? __builtin_bswap32(v) : v;
    }
};

// A parsed UBJSON document: what XGBoost 1.7's reader would build from the
// same bytes. Values are numbered; 0 is the root.
class Document {
public:
    // Ok when the bytes hold exactly one well-formed UBJSON object in
    // XGBoost's dialect, every length and count fits in the bytes that
    // remain, nesting stays shallow and the value count stays bounded.
    static Result<Document> parse(const uint8_t* bytes, size_t len);

    const Value& root() const { return values_[0]; }
    // First member or element, then next; nullptr at the end.
    const Value* first(const Value& v) const { return v.child ? &values_[v.child] : nullptr; }
    const Value* next(const Value& v) const { return v.next ? &values_[v.next] : nullptr; }
    // The first member with this key (XGBoost keeps the first of duplicates).
    const Value* find(const Value& object, std::string_view key) const;
    std::string_view key(const Value& v) const;
    std::string_view string(const Value& v) const;
    float number(const Value& v) const;
    Typed typed(const Value& v) const { return Typed{bytes_ + v.data, v.bits, v.elem}; }

private:
    Document(const uint8_t* bytes, std::vector<Value> values)
        : bytes_(bytes), values_(std::move(values)) {}
    const uint8_t* bytes_;
    std::vector<Value> values_;
};

// Ok when bytes hold an XGBoost 1.7 UBJSON model that parses (Document) and
// whose document is consistent (check_document in model_check.hpp). Errors
// are invalid_binary, "not a valid XGBoost model: ...".
Result<void> check_model(const uint8_t* bytes, size_t len);

}  // namespace pgml::ubjson
