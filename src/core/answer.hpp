// What a prediction answers, from XGBoost's raw (type 0) outputs of one row:
// shared by the Model (XGBoost or its forest, in the pool and on the backend
// path) and by backends scoring a shared forest in place, so every path
// turns the same floats into the same answer.
#pragma once

#include <cstddef>

#include "core/train.hpp"

namespace pgml::answer {

// XGBoost's raw outputs per row: one (a value, or a probability of class 1),
// unless there are more than two classes (one each) or several targets
// (joint regression: one each; num_classes is 0 then).
inline size_t outputs_per_row(size_t num_classes, size_t targets = 1) {
    return num_classes > 2 ? num_classes : num_classes ? 1 : targets;
}

// The floats of a vector answer: class probabilities (predict_proba), or
// a joint regression's values (predict_joint).
inline size_t vector_size(size_t num_classes, size_t targets) { return num_classes ? num_classes : targets; }

// Regression: the value. Classification: the label value of the most
// probable class (ties go to the lower class; binary: class 1 above 0.5).
inline double value(Task task, const double* classes, size_t num_classes, const float* raw) {
    if (task == Task::regression) return static_cast<double>(raw[0]);
    if (num_classes == 2) return classes[raw[0] > 0.5f ? 1 : 0];
    size_t best = 0;
    for (size_t i = 1; i < num_classes; ++i)
        if (raw[i] > raw[best]) best = i;
    return classes[best];
}

// The vector answer: one probability per class, or one value per target.
inline void vector(size_t num_classes, size_t targets, const float* raw, float* dst) {
    if (num_classes == 2) {
        dst[0] = 1.0f - raw[0];
        dst[1] = raw[0];
    } else {
        for (size_t i = 0, n = vector_size(num_classes, targets); i < n; ++i) dst[i] = raw[i];
    }
}

}  // namespace pgml::answer
