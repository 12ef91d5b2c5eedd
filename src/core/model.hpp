// A deployed model ready to score: the booster plus what turns XGBoost's raw
// output into an answer (the task and, for classifiers, the label value of
// each class). Immutable after load, so one instance may serve many threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/error.hpp"
#include "core/forest.hpp"
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

    // Compiles the booster into a forest and, once it answered every probe
    // row (forest_probe.hpp) exactly as XGBoost does, scores with it from
    // then on instead of XGBoost. An Error says why the model stays on
    // XGBoost (not compilable, or differing). Once it succeeds the booster
    // is freed: the forest answers everything. Before the model is shared.
    Result<void> use_forest(const void* bytes, size_t len);
    // The forest scoring this model, or nullptr (XGBoost scores it). The
    // block starts the storage, so a moved Model keeps it consistent.
    const forest::Forest* compiled() const {
        return forest_storage_ ? reinterpret_cast<const forest::Forest*>(forest_storage_.get()) : nullptr;
    }

    // Many rows (row-major, num_features each) in one call, of the forest
    // or of XGBoost: answers as predict() would, or (proba) num_classes
    // probabilities per row.
    Result<void> predict_batch(const float* rows, size_t n, double* out) const;
    Result<void> predict_proba_batch(const float* rows, size_t n, float* out) const;

private:
    // The raw outputs of n rows: XGBoost's type 0, from the forest or the
    // booster (valid until this thread's next prediction).
    Result<const float*> raw(const float* rows, size_t n) const;
    size_t outputs_per_row() const;                  // XGBoost's raw outputs per row
    double answer(const float* raw) const;           // raw outputs -> value or class
    void probabilities(const float* raw, float* dst) const;

    xgb::Booster booster_;
    std::unique_ptr<uint64_t[]> forest_storage_;  // the forest's block when used, 8-byte aligned
    Task task_ = Task::regression;
    size_t num_features_ = 0;
    std::vector<double> classes_;
};

}  // namespace pgml
