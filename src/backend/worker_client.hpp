// The backend's side of the worker path: put a row into a slot, publish it,
// wait (cancellably) for the answer. Plain C-style code that calls Postgres
// and may ereport (cancel, statement_timeout): call it through pg::call from
// C++. A request abandoned by an error is handed back to the worker, which
// frees its slot; a late answer never reaches another request.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/feature_row.hpp"

namespace pgml::backend {

enum class Asked {
    answered,     // value or proba filled
    need_model,   // the worker does not hold the model: hand it over, ask again
    failed,       // the worker could not score it: message says why
    unavailable,  // the worker is not running or went away
    timed_out,    // no answer within pgml_worker.timeout_ms
};

// When a request must be answered by: pgml_worker.timeout_ms from now. One
// deadline covers asking, handing the model over and asking again.
int64_t request_deadline();

struct Ask {
    uint32_t kind;      // shm::PREDICT or shm::PROBA
    int64_t model_id;
    FeatureRow row;
    int64_t deadline;   // from request_deadline()
    double value;       // PREDICT answer
    float* proba;       // PROBA answer, nproba floats
    uint32_t nproba;
    char message[256];
};

// Whether the worker can take this request at all (preloaded, running, the
// row fits a slot).
bool worker_available(uint32_t nfeatures);

Asked ask_worker(Ask* ask);

// Makes the worker hold a model it asked for: either this backend claims
// the hand-over, copies the model from the catalog into a DSM segment and
// waits until the worker loaded it, or another backend is handing it over
// and this one waits for that. `answered` means: ask again.
Asked hand_over_model(int64_t model_id, bool classification, const double* classes,
                      uint32_t nclasses, int64_t deadline, char* message, size_t message_size);

// Tells the worker a model is no longer deployed (best effort, no wait).
void retire_model(int64_t model_id);

}  // namespace pgml::backend
