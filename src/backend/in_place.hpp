// Scoring in this backend from the model's compiled forest in shared memory
// (shmem/forests.hpp), which the serving worker built and checked against
// XGBoost: no hop to the worker, no XGBoost call, no copy of the model in
// this connection. Backend only.
//
// A forest is pinned only around the pure C++ walk of its trees, never
// across a Postgres call, so no ERROR, cancel or exit can leave a pin
// behind (DESIGN.md invariant 8).
#pragma once

#include <cstddef>
#include <cstdint>

#include "backend/model_cache.hpp"
#include "backend/scoring.hpp"
#include "core/error.hpp"
#include "core/feature_row.hpp"

namespace pgml::backend {

// Scores one row in place and returns true, or returns false when the
// model has no forest in shared memory (not yet handed to the worker, or
// served by XGBoost), or, with need_token, when all of pgml_worker.threads
// in-place tokens are taken (the caller then queues the row).
Result<bool> score_in_place(CachedModel& m, const FeatureRow& row, uint32_t kind, Answer& out, bool need_token);

// predict_batch: n rows (row-major float32, num_features each), answers to
// out (value or class label). false when the model has no forest in
// shared memory.
Result<bool> score_rows_in_place(CachedModel& m, const float* rows, size_t n, double* out);

}  // namespace pgml::backend
