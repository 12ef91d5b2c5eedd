// A deployed model ready to score: the booster plus what turns XGBoost's raw
// output into an answer (the task and, for classifiers, the label value of
// each class). Immutable after load, so one instance may serve many threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/error.hpp"
#include "core/forest.hpp"
#include "core/train.hpp"
#include "core/xgb.hpp"

namespace pgml {

// Where Model::use_forest puts a compiled forest: `data`, at least the
// size asked for and forest::kForestAlign-aligned, and `owner`, whose last
// copy going away frees it. An empty data means no room there; the forest
// then goes on the heap.
struct ForestPlace {
    void* data = nullptr;
    std::shared_ptr<void> owner;
};
using ForestPlacer = std::function<ForestPlace(size_t size)>;

class Model {
public:
    // classes: empty for regression; for classification the label value of
    // each class index (at least two). A regression's number of targets
    // comes from the model (more than one: joint regression).
    static Result<Model> load(const void* bytes, size_t len, Task task, std::vector<double> classes);

    Task task() const { return task_; }
    size_t num_features() const { return num_features_; }
    size_t num_classes() const { return classes_.size(); }
    size_t num_targets() const { return targets_; }
    // Floats of predict_proba (classes) or of a joint regression (targets).
    size_t vector_size() const { return answer_vector_size(); }

    // Regression: the predicted value. Classification: the predicted class's
    // label value (the most probable class; ties go to the lower class).
    Result<double> predict(const float* row) const;
    // One probability per class (or value per target of a joint
    // regression), written to out[0 .. vector_size()).
    Result<void> predict_proba(const float* row, float* out) const;

    // Compiles the booster into a forest and, once it answered every probe
    // row (forest_probe.hpp) exactly as XGBoost does, scores with it from
    // then on instead of XGBoost. An Error says why the model stays on
    // XGBoost (not compilable, or differing). Once it succeeds the booster
    // is freed: the forest answers everything. Before the model is shared.
    // place (optional) says where the forest goes; by default the heap.
    Result<void> use_forest(const void* bytes, size_t len, const ForestPlacer& place = nullptr);
    // The forest scoring this model, or nullptr (XGBoost scores it). It
    // never lives inside the Model, so a moved Model keeps it valid.
    const forest::Forest* compiled() const { return forest_; }
    // Whether the forest went where use_forest's placer put it (not the heap).
    bool placed() const { return forest_ && placed_; }

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
    size_t answer_vector_size() const;
    double answer(const float* raw) const;           // raw outputs -> value or class
    void probabilities(const float* raw, float* dst) const;

    xgb::Booster booster_;
    std::shared_ptr<void> forest_owner_;  // frees the forest's block
    const forest::Forest* forest_ = nullptr;
    bool placed_ = false;
    Task task_ = Task::regression;
    size_t num_features_ = 0;
    std::vector<double> classes_;
    size_t targets_ = 1;
};

}  // namespace pgml
