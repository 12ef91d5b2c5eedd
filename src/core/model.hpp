// A deployed model ready to score: the booster plus what turns XGBoost's raw
// output into an answer (the task and, for classifiers, the label value of
// each class). Immutable after load, so one instance may serve many threads.
#pragma once

#include <cstddef>
#include <vector>

#include "core/error.hpp"
#include "core/train.hpp"
#include "core/xgb.hpp"

namespace pgml {

class Model {
public:
    // classes: empty for regression; for classification the label value of
    // each class index (at least two).
    static Result<Model> load(const void* bytes, size_t len, Task task, std::vector<double> classes);

    Task task() const { return task_; }
    size_t num_features() const { return num_features_; }
    size_t num_classes() const { return classes_.size(); }

    // Regression: the predicted value. Classification: the predicted class's
    // label value (the most probable class; ties go to the lower class).
    Result<double> predict(const float* row) const;
    // One probability per class, written to out[0 .. num_classes).
    Result<void> predict_proba(const float* row, float* out) const;

    // Many rows (row-major, num_features each) in one XGBoost call: answers
    // as predict() would, or (proba) num_classes probabilities per row.
    Result<void> predict_batch(const float* rows, size_t n, double* out) const;
    Result<void> predict_proba_batch(const float* rows, size_t n, float* out) const;

private:
    size_t outputs_per_row() const;                  // XGBoost's raw outputs per row
    double answer(const float* raw) const;           // raw outputs -> value or class
    void probabilities(const float* raw, float* dst) const;

    xgb::Booster booster_;
    Task task_ = Task::regression;
    size_t num_features_ = 0;
    std::vector<double> classes_;
};

}  // namespace pgml
