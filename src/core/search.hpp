// Hyperparameter search, as PostgresML's pgml.train(search => ...) does it:
// the candidates of a grid (every combination of search_params' values) or
// a random sample of it, each scored by k-fold cross-validation on the
// training rows. This file holds the candidates and the report; the fits
// themselves are train.cpp's. Pure C++.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace pgml::search {

enum class Kind { none, grid, random };

// One searched hyperparameter: its values as XGBoost reads them, and as
// JSON (for the report).
struct Axis {
    std::string name;
    std::vector<std::string> values;
    std::vector<std::string> json;
};

struct Options {
    Kind kind = Kind::none;
    std::vector<Axis> axes;
    size_t n_iter = 10;  // random: candidates drawn from the grid
    size_t cv = 5;       // folds
};

// Limits that keep a mistyped search from running for days.
constexpr size_t kMaxCandidates = 10000;
constexpr size_t kMaxGrid = 1000000;  // combinations a random search draws from
constexpr size_t kMaxFolds = 100;

// Checks the options (fixed: the names of the hyperparams given outright,
// which must not be searched too).
Result<void> check(const Options& o, const std::vector<std::string>& fixed);

// A candidate: one value index per axis.
using Candidate = std::vector<uint32_t>;

// Grid: every combination, the last axis varying fastest (as itertools'
// product). Random: min(n_iter, grid size) distinct combinations drawn with
// a generator seeded by seed (the snapshot's), so a search is repeatable.
std::vector<Candidate> candidates(const Options& o, uint64_t seed);

// The scores of every candidate on every fold, and the time each fit and
// scoring took.
struct Scores {
    // [candidate][fold]
    std::vector<std::vector<double>> score, fit_time, score_time;
};

// The candidate with the highest mean score (NaN counts as lowest; ties go
// to the earlier one).
size_t best(const Scores& s);

// PostgresML's (and scikit-learn's cv_results_') search_results object:
// params, n_splits, best_index, mean/std of fit_time, score_time and
// test_score, split<k>_test_score and param_<name>, one entry per candidate.
std::string report(const Options& o, const std::vector<Candidate>& c, const Scores& s, size_t best);

// The chosen candidate's hyperparameters as key/value strings.
std::vector<std::pair<std::string, std::string>> params_of(const Options& o, const Candidate& c);

}  // namespace pgml::search
