// Scores of a model on its test set, named as PostgresML names them so its
// users find the keys they know. Pure functions over predictions and labels.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace pgml::metrics {

using Named = std::vector<std::pair<std::string, double>>;

// r2, mean_absolute_error, mean_squared_error.
Named regression(const std::vector<float>& predicted, const std::vector<float>& truth);
// The same for several targets (row-major, targets per row): each metric
// is the mean of the targets' (r2 null if any target's is).
Named regression(const std::vector<float>& predicted, const std::vector<float>& truth, size_t targets);

// accuracy, and macro-averaged f1, precision and recall; for two classes also
// roc_auc and log_loss. proba holds num_classes probabilities per row; truth
// holds class indices 0..num_classes-1.
Named classification(const std::vector<float>& proba, const std::vector<float>& truth,
                     size_t num_classes);

// {"key": number, ...}; non-finite values become null (JSON has no NaN).
std::string to_json(const Named& m);

}  // namespace pgml::metrics
