// Failures inside the C++ core are values, never exceptions that could cross
// a Postgres frame (DESIGN.md invariant 1). An Error carries a SQLSTATE so
// the SQL boundary can ereport it with the right class, or, when the failure
// came from Postgres itself, the captured ErrorData to re-throw unchanged.
#pragma once

#include <string>
#include <tl/expected.hpp>

namespace pgml {

// SQLSTATEs used by the core, spelled as strings because the ERRCODE_ macros
// live in Postgres headers the core must not include.
namespace sqlstate {
inline constexpr const char* invalid_parameter = "22023";
inline constexpr const char* invalid_binary = "22P03";
inline constexpr const char* data_exception = "22000";
inline constexpr const char* out_of_memory = "53200";
inline constexpr const char* limit_exceeded = "54000";
inline constexpr const char* undefined_object = "42704";
inline constexpr const char* wrong_object_type = "42809";
inline constexpr const char* datatype_mismatch = "42804";
inline constexpr const char* not_in_prerequisite_state = "55000";
inline constexpr const char* feature_not_supported = "0A000";
inline constexpr const char* system_error = "58000";
inline constexpr const char* internal = "XX000";
inline constexpr const char* data_corrupted = "XX001";
}  // namespace sqlstate

struct Error {
    std::string sqlstate = sqlstate::internal;
    std::string message;
    std::string detail;
    std::string hint;
    // An ErrorData* captured by pg::call(); opaque to the core. When set, the
    // boundary re-throws it so Postgres' own errors (cancel, permission
    // denied, ...) reach the client exactly as Postgres raised them.
    void* pg_error = nullptr;
};

template <typename T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(const char* state, std::string message,
                                  std::string hint = {}, std::string detail = {}) {
    return tl::unexpected<Error>(Error{state, std::move(message), std::move(detail),
                                       std::move(hint), nullptr});
}

}  // namespace pgml
