// Decoding the arguments every predict function shares. Plain C-style code
// that ereports on bad input: call it before any C++ object exists.
#pragma once

#include "backend/model_cache.hpp"
#include "backend/model_ref.hpp"
#include "core/feature_row.hpp"

extern "C" {
#include "postgres.h"
#include "fmgr.h"
}

namespace pgml::sqlapi {

// Argument 0: the project name or model id.
backend::ModelRef model_ref(FunctionCallInfo fcinfo, backend::By by);
// Argument argno as a row of its own element type (float4, float8, int4,
// int8): converted where it lands, so copied once.
FeatureRow feature_row(FunctionCallInfo fcinfo, int argno);

// What a predict function returns: pgml.predict's value (float4), or the
// real[] of predict_proba (a probability per class) or predict_joint (a
// value per target of a joint regression).
enum class Output { value, proba, joint };

// The answer for a row of features, scored as backend::score decides; a
// model of the wrong kind for the output is an Error. C++.
Result<Datum> answer(backend::CachedModel& m, const FeatureRow& row, Output what);

}  // namespace pgml::sqlapi
