// What pgml.import_model checks of model bytes trained elsewhere before it
// stores them, and the shape it records.
#pragma once

#include <cstddef>

#include "core/error.hpp"

namespace pgml {

struct ModelShape {
    int num_features;
    int num_classes;  // 0 for regression
};

// Loads the bytes (through the model check), and requires features, trees,
// and a task that matches `classification`.
Result<ModelShape> inspect_model(const void* bytes, size_t len, bool classification);

}  // namespace pgml
