// Which model a predict call names (a project's deployed model, or a model
// id), and the check every predict function makes of a row's width.
// Backend only; Postgres-facing.
#pragma once

#include <cstdint>

#include "backend/model_cache.hpp"
#include "core/error.hpp"

namespace pgml::backend {

enum class By { project, model_id };

// Argument 0 of a predict function, decoded (and detoasted) by sqlapi/
// before any C++ object exists.
struct ModelRef {
    By by;
    int64_t id;
    text* project;
};

Result<CachedModel*> lookup(FunctionCallInfo fcinfo, const ModelRef& ref);
// Without the call-site memo (set-returning functions).
Result<CachedModel*> lookup(const ModelRef& ref);

Result<void> check_width(const CachedModel& m, int64_t count);

}  // namespace pgml::backend
