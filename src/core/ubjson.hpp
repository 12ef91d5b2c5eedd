// A bounds-checked structural check of UBJSON model bytes. XGBoost 1.7's own
// reader trusts length and count fields, so truncated or corrupted bytes can
// make it read past the buffer or allocate gigabytes (seen: 24 GB for 100
// truncated bytes, and the OOM killer took the backend and the cluster with
// it). Every model passes this check before XGBoost sees it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/error.hpp"

namespace pgml::ubjson {

// Ok when bytes hold exactly one well-formed UBJSON object, every length and
// count fits in the bytes that remain, and nesting stays shallow.
Result<void> check_model(const uint8_t* bytes, size_t len);

}  // namespace pgml::ubjson
