// The worker's main thread's share of the requests: LOAD (a backend hands a
// model over) and RETIRE (a model is no longer deployed). Every control
// request taken is finished on every path, a thrown exception included.
#pragma once

#include <cstdint>

#include "shmem/region.hpp"
#include "worker/pool/registry.hpp"

namespace pgml::worker {

// Serves every control request queued now. limit_bytes bounds the models;
// fault is pool::Fault (the tests' fault_load makes each load throw).
void serve_control(shm::Region* r, pool::Registry& registry, uint64_t limit_bytes, uint32_t fault) noexcept;

}  // namespace pgml::worker
