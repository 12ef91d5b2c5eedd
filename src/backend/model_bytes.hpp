// A model's serialized bytes, read from pgml.models for a hand-over to the
// worker or a backend-path load.
#pragma once

#include <cstdint>

extern "C" {
#include "postgres.h"
}

namespace pgml::backend {

// The bytes of model `model_id`, detoasted into the caller's memory context.
// Read through a small ring of shared buffers (model_bytes.cpp says why).
// Plain C-style: may ereport; call through pg::call.
bytea* fetch_model_data(int64_t model_id);

}  // namespace pgml::backend
