// The rows a compiled forest is checked on before it serves (DESIGN.md
// invariant 8): each split's exact threshold and its float neighbours on
// both sides, NaN (the default direction), ±Inf, ±FLT_MAX, ±0, denormals,
// and values between the thresholds, mixed across the features of a row.
// A forest that differs from XGBoost on any of them is not used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/forest.hpp"

namespace pgml::forest {

// n rows of f.num_feature floats (row-major), the same for the same seed.
std::vector<float> probe_rows(const Forest& f, size_t n, uint64_t seed);

}  // namespace pgml::forest
