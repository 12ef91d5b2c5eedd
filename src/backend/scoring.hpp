// Where a backend's prediction is scored: in place from the model's
// compiled forest in shared memory or queued to the serving worker's pool
// (predict_path worker, the default, which picks; inplace and queued force
// either), in this connection with its own booster (backend, as
// PostgresML 2.0 does), or the worker and this connection when the worker
// is not available (auto). Backend only; Postgres-facing.
#pragma once

#include <cstdint>

#include "backend/model_cache.hpp"
#include "core/error.hpp"
#include "core/feature_row.hpp"

namespace pgml::backend {

// One request as either path answers it.
struct Answer {
    double value;
    float* proba;  // PROBA: a float per class (or per target of a joint regression), for the caller to provide
};

// kind is shm::PREDICT or shm::PROBA.
Result<void> score(CachedModel& m, const FeatureRow& row, uint32_t kind, Answer& out);

}  // namespace pgml::backend
