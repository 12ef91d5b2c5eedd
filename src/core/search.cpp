#include "core/search.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <unordered_map>

#include "core/json.hpp"

namespace pgml::search {

namespace {

// The number of combinations, or kMaxGrid + 1 when there are more.
size_t grid_size(const Options& o) {
    size_t n = 1;
    for (const Axis& a : o.axes) {
        n *= a.values.size();
        if (n > kMaxGrid) return kMaxGrid + 1;
    }
    return n;
}

// Combination `index` of the grid, the last axis varying fastest.
Candidate decode(const Options& o, size_t index) {
    Candidate c(o.axes.size());
    for (size_t a = o.axes.size(); a-- > 0;) {
        const size_t k = o.axes[a].values.size();
        c[a] = static_cast<uint32_t>(index % k);
        index /= k;
    }
    return c;
}

double mean(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0 : s / static_cast<double>(v.size());
}

// Population standard deviation (numpy's default, which PostgresML and
// scikit-learn report).
double stddev(const std::vector<double>& v) {
    const double m = mean(v);
    double s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return v.empty() ? 0 : std::sqrt(s / static_cast<double>(v.size()));
}

void numbers(std::string& out, const char* key, const std::vector<double>& xs) {
    out += ", ";
    json::write_string(out, key);
    out += ": [";
    for (size_t i = 0; i < xs.size(); ++i) {
        if (i) out += ", ";
        json::write_number(out, xs[i]);
    }
    out += "]";
}

template <typename F>
std::vector<double> per_candidate(const std::vector<std::vector<double>>& m, F f) {
    std::vector<double> out;
    out.reserve(m.size());
    for (const auto& row : m) out.push_back(f(row));
    return out;
}

}  // namespace

Result<void> check(const Options& o, const std::vector<std::string>& fixed) {
    if (o.kind == Kind::none) {
        if (!o.axes.empty())
            return fail(sqlstate::invalid_parameter, "search_params needs a search",
                        "Pass search => 'grid' or 'random', or move the values to hyperparams.");
        return {};
    }
    if (o.axes.empty())
        return fail(sqlstate::invalid_parameter, "search_params is empty: there is nothing to search",
                    "Give each searched hyperparameter an array of values, for example "
                    "search_params => '{\"max_depth\": [2, 4, 6]}'.");
    for (size_t i = 0; i < o.axes.size(); ++i) {
        const Axis& a = o.axes[i];
        if (a.values.empty())
            return fail(sqlstate::invalid_parameter,
                        "search_params \"" + a.name + "\" is an empty array", "Give it at least one value.");
        if (std::find(fixed.begin(), fixed.end(), a.name) != fixed.end())
            return fail(sqlstate::invalid_parameter,
                        "hyperparameter \"" + a.name + "\" is in both hyperparams and search_params",
                        "Give it in one of them.");
        for (size_t j = 0; j < i; ++j)
            if (o.axes[j].name == a.name)
                return fail(sqlstate::invalid_parameter,
                            "search_params names \"" + a.name + "\" twice");
    }
    if (o.cv < 2 || o.cv > kMaxFolds)
        return fail(sqlstate::invalid_parameter,
                    "search_args \"cv\" must be between 2 and " + std::to_string(kMaxFolds) + ", not " +
                        std::to_string(o.cv),
                    "A search scores each candidate by cross-validation on the training rows: at least 2 folds.");
    const size_t g = grid_size(o);
    if (o.kind == Kind::random) {
        if (o.n_iter < 1 || o.n_iter > kMaxCandidates)
            return fail(sqlstate::invalid_parameter,
                        "search_args \"n_iter\" must be between 1 and " + std::to_string(kMaxCandidates) +
                            ", not " + std::to_string(o.n_iter),
                        "n_iter is the number of candidates a random search draws.");
        if (g > kMaxGrid)
            return fail(sqlstate::limit_exceeded,
                        "search_params has more than " + std::to_string(kMaxGrid) + " combinations",
                        "Give fewer values.");
    } else if (g > kMaxCandidates) {
        return fail(sqlstate::limit_exceeded,
                    "the grid has " + (g > kMaxGrid ? "more than " + std::to_string(kMaxGrid) : std::to_string(g)) +
                        " candidates, more than the " + std::to_string(kMaxCandidates) + " a search trains",
                    "Give fewer values, or use search => 'random' with n_iter.");
    }
    return {};
}

std::vector<Candidate> candidates(const Options& o, uint64_t seed) {
    const size_t g = grid_size(o);
    std::vector<Candidate> out;
    if (o.kind == Kind::random && o.n_iter < g) {
        // The first n_iter of a seeded Fisher-Yates shuffle of the grid,
        // the same draws as shuffling an array of all g indices, but only
        // the positions a swap moved are kept: memory follows n_iter, not
        // the grid (a 2^20 grid from 20 two-value axes, a few hundred bytes
        // of search_params, took a 4 MB array and its fill on every search;
        // seen with fuzz/train_params).
        std::unordered_map<size_t, size_t> moved;
        const auto at = [&](size_t p) {
            auto it = moved.find(p);
            return it == moved.end() ? p : it->second;
        };
        std::mt19937_64 rng(seed);
        for (size_t i = 0; i < o.n_iter; ++i) {
            size_t j = i + static_cast<size_t>(rng() % (g - i));
            const size_t pick = at(j);
            moved[j] = at(i);  // position i is never read again
            out.push_back(decode(o, pick));
        }
        return out;
    }
    for (size_t i = 0; i < g; ++i) out.push_back(decode(o, i));
    return out;
}

size_t best(const Scores& s) {
    size_t best = 0;
    double best_score = -INFINITY;
    for (size_t i = 0; i < s.score.size(); ++i) {
        const double m = mean(s.score[i]);
        if (m > best_score) {  // false for NaN
            best = i;
            best_score = m;
        }
    }
    return best;
}

std::string report(const Options& o, const std::vector<Candidate>& c, const Scores& s, size_t best) {
    std::string out = "{\"params\": [";
    for (size_t i = 0; i < c.size(); ++i) {
        if (i) out += ", ";
        out += "{";
        for (size_t a = 0; a < o.axes.size(); ++a) {
            if (a) out += ", ";
            json::write_string(out, o.axes[a].name);
            out += ": " + o.axes[a].json[c[i][a]];
        }
        out += "}";
    }
    out += "], \"n_splits\": " + std::to_string(o.cv) + ", \"best_index\": " + std::to_string(best);
    numbers(out, "mean_fit_time", per_candidate(s.fit_time, mean));
    numbers(out, "std_fit_time", per_candidate(s.fit_time, stddev));
    numbers(out, "mean_score_time", per_candidate(s.score_time, mean));
    numbers(out, "std_score_time", per_candidate(s.score_time, stddev));
    numbers(out, "mean_test_score", per_candidate(s.score, mean));
    numbers(out, "std_test_score", per_candidate(s.score, stddev));
    for (size_t k = 0; k < o.cv; ++k) {
        std::vector<double> fold;
        for (const auto& row : s.score) fold.push_back(k < row.size() ? row[k] : NAN);
        numbers(out, ("split" + std::to_string(k) + "_test_score").c_str(), fold);
    }
    for (size_t a = 0; a < o.axes.size(); ++a) {
        out += ", ";
        json::write_string(out, "param_" + o.axes[a].name);
        out += ": [";
        for (size_t i = 0; i < c.size(); ++i) {
            if (i) out += ", ";
            out += o.axes[a].json[c[i][a]];
        }
        out += "]";
    }
    return out + "}";
}

std::vector<std::pair<std::string, std::string>> params_of(const Options& o, const Candidate& c) {
    std::vector<std::pair<std::string, std::string>> out;
    for (size_t a = 0; a < o.axes.size(); ++a) out.emplace_back(o.axes[a].name, o.axes[a].values[c[a]]);
    return out;
}

}  // namespace pgml::search
