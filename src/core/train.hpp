// Training one XGBoost model on a Dataset: split, boost, score. Pure C++;
// the caller supplies a per-round hook, which is where the Postgres side
// checks for interrupts and reports progress.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/dataset.hpp"
#include "core/error.hpp"
#include "core/metrics.hpp"
#include "core/preprocess.hpp"
#include "core/search.hpp"

namespace pgml {

enum class Task { regression, classification };

// The algorithms XGBoost itself trains, by PostgresML's names: boosted
// trees, and a random forest (one round of n_estimators parallel trees,
// with the defaults of XGBoost's XGBRF estimators).
enum class Algorithm { xgboost, xgboost_random_forest };

// Hyperparameters as given by the user, in their order. n_estimators is ours
// (the number of boosting rounds); everything else goes to XGBoost as is.
using Params = std::vector<std::pair<std::string, std::string>>;

struct TrainSpec {
    Task task = Task::regression;
    Algorithm algorithm = Algorithm::xgboost;
    Params params;
    // search => grid | random, search_params, search_args: the best
    // candidate's values are added to params.
    search::Options search;
    // preprocess => jsonb: options by column name.
    std::vector<std::pair<std::string, preprocess::Options>> preprocess;
    double test_size = 0.25;  // < 1: fraction of rows; >= 1: row count
    Sampling sampling = Sampling::last;
    uint64_t seed = 0;
};

struct TrainedModel {
    std::vector<uint8_t> ubj;       // the booster, XGBoost UBJSON
    std::vector<std::string> feature_names;  // of the features XGBoost saw
    std::vector<std::string> feature_types;  // the type of the column each came from
    std::string preprocessing;      // the fitted plan as JSON (preprocess::to_json)
    metrics::Named metrics;         // includes fit_time and score_time
    std::string search_results;     // a search's report (search::report), or empty
    std::vector<double> classes;    // classification: label value of class i
    size_t targets = 1;             // labels per row (joint regression: more)
    size_t train_rows = 0, test_rows = 0;
    int rounds = 0;
};

enum class Phase { preparing, searching, boosting, scoring };
// Called between units of work; an Error return aborts training.
using ProgressHook = std::function<Result<void>(Phase, size_t done, size_t total)>;

// data holds plan.raw_width() columns as the relation was read; plan's
// columns are fitted on the training rows (preprocess::fit_transform) and
// XGBoost trains on what they encode.
Result<TrainedModel> train(Dataset& data, preprocess::Plan& plan, const TrainSpec& spec, const ProgressHook& hook);
// The same for data whose columns are all numbers, named f1, f2, ...
Result<TrainedModel> train(Dataset& data, const TrainSpec& spec, const ProgressHook& hook);

// The number of classes a trained classifier's output implies, and a check
// that its objective produces probabilities (used when importing models).
Result<size_t> classifier_classes(const std::string& json_config);
// The targets a model predicts (learner_model_param's num_target; 1 unless
// it is a multi-output regression).
size_t model_targets(const std::string& json_config);

}  // namespace pgml
