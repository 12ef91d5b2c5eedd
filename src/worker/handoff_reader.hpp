// The worker's side of a model hand-over: copies the model a backend put in
// a DSM segment into memory of the worker's own. The worker's main thread
// only; Postgres-facing.
//
// A failure to attach (the backend gave up and the segment is gone, or it
// cannot be mapped) is answered to that one request and the worker goes on
// serving: the copy runs under a resource owner and a memory context of its
// own, released on every path, so an ERROR leaves no mapping, lock or
// memory behind (see recover_from_error).
#pragma once

#include <cstdint>

#include "core/error.hpp"

namespace pgml::worker {

struct HandedOver {
    const uint8_t* bytes;     // the model's serialized bytes
    uint64_t nbytes;          // its size, also when too large to be copied
    const double* classes;    // label value of each class
    uint32_t nclasses;
    bool classification;
};

// Copies the segment's model, unless it is larger than limit_bytes (then
// only nbytes is set). The copy lives until the next call or release_handoff.
// inject_error raises an ERROR while the segment is attached (the tests'
// fault_handoff).
Result<HandedOver> read_handoff(uint32_t dsm_handle, uint64_t limit_bytes, bool inject_error);
// Frees the last copy.
void release_handoff() noexcept;

}  // namespace pgml::worker
