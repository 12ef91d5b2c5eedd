#include "core/json.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace pgml::json {

namespace {

constexpr int kMaxDepth = 64;

class Parser {
public:
    explicit Parser(std::string_view s) : s_(s) {}

    Result<Value> document() {
        Value v;
        if (!value(v, 0)) return error();
        space();
        if (at_ != s_.size()) {
            why_ = "text after the value";
            return error();
        }
        return v;
    }

private:
    tl::unexpected<Error> error() const {
        return fail(sqlstate::invalid_parameter, "malformed JSON at byte " + std::to_string(at_) + ": " + why_);
    }
    void space() {
        while (at_ < s_.size() && (s_[at_] == ' ' || s_[at_] == '\n' || s_[at_] == '\t' || s_[at_] == '\r')) ++at_;
    }
    bool take(char c) {
        space();
        if (at_ < s_.size() && s_[at_] == c) {
            ++at_;
            return true;
        }
        return false;
    }
    bool word(std::string_view w) {
        if (s_.substr(at_, w.size()) != w) return false;
        at_ += w.size();
        return true;
    }
    bool value(Value& v, int depth) {
        if (depth > kMaxDepth) {
            why_ = "nested too deeply";
            return false;
        }
        space();
        if (at_ >= s_.size()) {
            why_ = "unexpected end";
            return false;
        }
        const char c = s_[at_];
        if (c == '{') {
            ++at_;
            v.type = Value::Type::object;
            if (take('}')) return true;
            do {
                space();
                std::string key;
                if (!string(key)) return false;
                if (!take(':')) {
                    why_ = "':' expected";
                    return false;
                }
                Value member;
                if (!value(member, depth + 1)) return false;
                v.object.insert_or_assign(std::move(key), std::move(member));
            } while (take(','));
            if (take('}')) return true;
            why_ = "'}' expected";
            return false;
        }
        if (c == '[') {
            ++at_;
            v.type = Value::Type::array;
            if (take(']')) return true;
            do {
                v.array.emplace_back();
                if (!value(v.array.back(), depth + 1)) return false;
            } while (take(','));
            if (take(']')) return true;
            why_ = "']' expected";
            return false;
        }
        if (c == '"') {
            v.type = Value::Type::string;
            return string(v.string);
        }
        if (word("null")) return true;
        if (word("true") || word("false")) {
            v.type = Value::Type::boolean;
            v.boolean = s_[at_ - 1] == 'e' && s_[at_ - 2] == 'u';
            return true;
        }
        // A number: what strtod reads, within the JSON number characters.
        size_t end = at_;
        while (end < s_.size() && std::string_view("+-0123456789.eE").find(s_[end]) != std::string_view::npos) ++end;
        std::string digits(s_.substr(at_, end - at_));
        char* stop = nullptr;
        v.number = std::strtod(digits.c_str(), &stop);
        if (digits.empty() || stop != digits.c_str() + digits.size()) {
            why_ = "a value expected";
            return false;
        }
        v.type = Value::Type::number;
        at_ = end;
        return true;
    }
    bool string(std::string& out) {
        if (at_ >= s_.size() || s_[at_] != '"') {
            why_ = "a string expected";
            return false;
        }
        ++at_;
        while (at_ < s_.size() && s_[at_] != '"') {
            char c = s_[at_++];
            if (c != '\\') {
                out.push_back(c);
                continue;
            }
            if (at_ >= s_.size()) break;
            c = s_[at_++];
            switch (c) {
                case 'n': out.push_back('\n'); break;
                case 't': out.push_back('\t'); break;
                case 'r': out.push_back('\r'); break;
                case 'b': out.push_back('\b'); break;
                case 'f': out.push_back('\f'); break;
                case 'u': {
                    if (at_ + 4 > s_.size()) {
                        why_ = "short \\u escape";
                        return false;
                    }
                    // Exactly four hex digits, and surrogates only in pairs
                    // (as jsonb requires): strtoul took "-001" as 2^32 - 1
                    // and a lone surrogate went through, and both became
                    // bytes that are not UTF-8 in names that reach error
                    // messages (seen writing fuzz/preprocess_json, whose UTF-8
                    // check now catches both).
                    unsigned code = 0;
                    if (!hex4(at_, code)) {
                        why_ = "\\u needs four hex digits";
                        return false;
                    }
                    at_ += 4;
                    // Surrogate pairs (jsonb writes non-ASCII as UTF-8, not
                    // escapes, so these come only from hand-written JSON).
                    if (code >= 0xD800 && code < 0xE000) {
                        unsigned low = 0;
                        if (code >= 0xDC00 || at_ + 6 > s_.size() || s_[at_] != '\\' || s_[at_ + 1] != 'u' ||
                            !hex4(at_ + 2, low) || low < 0xDC00 || low >= 0xE000) {
                            why_ = "a \\u escape of a lone surrogate";
                            return false;
                        }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                        at_ += 6;
                    }
                    if (code < 0x80) {
                        out.push_back(static_cast<char>(code));
                    } else if (code < 0x800) {
                        out.push_back(static_cast<char>(0xC0 | (code >> 6)));
                        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
                    } else if (code < 0x10000) {
                        out.push_back(static_cast<char>(0xE0 | (code >> 12)));
                        out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
                        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
                    } else {
                        out.push_back(static_cast<char>(0xF0 | (code >> 18)));
                        out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
                        out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
                        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
                    }
                    break;
                }
                default: out.push_back(c);  // \" \\ \/
            }
        }
        if (at_ >= s_.size()) {
            why_ = "unterminated string";
            return false;
        }
        ++at_;
        return true;
    }

    // Four hex digits at i, as a number.
    bool hex4(size_t i, unsigned& out) const {
        if (i + 4 > s_.size()) return false;
        unsigned v = 0;
        for (size_t k = i; k < i + 4; ++k) {
            const char c = s_[k];
            unsigned d;
            if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') d = static_cast<unsigned>(c - 'A' + 10);
            else return false;
            v = v * 16 + d;
        }
        out = v;
        return true;
    }

    std::string_view s_;
    size_t at_ = 0;
    std::string why_;
};

}  // namespace

const Value* Value::get(std::string_view key) const {
    if (type != Type::object) return nullptr;
    auto it = object.find(key);
    return it == object.end() ? nullptr : &it->second;
}

Result<Value> parse(std::string_view text) {
    try {
        return Parser(text).document();
    } catch (const std::bad_alloc&) {
        return fail(sqlstate::out_of_memory, "out of memory reading JSON");
    } catch (...) {
        return fail(sqlstate::internal, "unexpected exception reading JSON");
    }
}

void write_string(std::string& out, std::string_view s) {
    out.push_back('"');
    for (unsigned char ch : s) {
        switch (ch) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                if (ch < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", ch);
                    out += buf;
                } else {
                    out.push_back(static_cast<char>(ch));
                }
        }
    }
    out.push_back('"');
}

void write_number(std::string& out, double x) {
    if (!std::isfinite(x)) {
        out += "null";
        return;
    }
    char buf[32];
    auto end = std::to_chars(buf, buf + sizeof buf, x).ptr;  // shortest text that reads back the same
    out.append(buf, end);
}

}  // namespace pgml::json
