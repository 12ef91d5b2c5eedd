// What every predict function decodes the same way: argument 0 names the
// model (a project's deployed model, or a model id), and a feature row must
// be as wide as the model. Backend only; Postgres-facing.
#pragma once

#include <cstdint>

#include "core/error.hpp"
#include "sqlapi/model_cache.hpp"

namespace pgml::sqlapi {

enum class By { project, model_id };

// Argument 0, decoded (and detoasted) before any C++ object exists.
struct ModelRef {
    By by;
    int64_t id;
    text* project;
};

// Plain C-style: ereports on NULL, so call it before any C++ object exists.
ModelRef model_ref(FunctionCallInfo fcinfo, By by);

Result<CachedModel*> lookup(FunctionCallInfo fcinfo, const ModelRef& ref);

Result<void> check_width(const CachedModel& m, int64_t count);

}  // namespace pgml::sqlapi
