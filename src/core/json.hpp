// A small JSON reader and writer for what the extension stores itself as JSON (the
// fitted preprocessing) and reads back from a jsonb column, where a user
// with the rights may have changed it: any input gives a value or an
// Error, never a crash, and nesting is bounded. Pure C++.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace pgml::json {

struct Value {
    enum class Type { null, boolean, number, string, array, object } type = Type::null;
    bool boolean = false;
    double number = 0;
    std::string string;
    std::vector<Value> array;
    std::map<std::string, Value, std::less<>> object;

    // The member key of an object, or null when absent (or not an object).
    const Value* get(std::string_view key) const;
};

Result<Value> parse(std::string_view text);

// Writers: a string quoted and escaped; a number in the shortest text that
// reads back as the same double, null when not finite (JSON has no NaN).
void write_string(std::string& out, std::string_view s);
void write_number(std::string& out, double x);

}  // namespace pgml::json
