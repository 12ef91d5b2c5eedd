#include "core/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <charconv>
#include <numeric>

namespace pgml::metrics {

Named regression(const std::vector<float>& predicted, const std::vector<float>& truth) {
    const size_t n = truth.size();
    double mean = 0;
    for (float t : truth) mean += t;
    mean /= static_cast<double>(n);
    double abs_err = 0, sq_err = 0, total = 0;
    for (size_t i = 0; i < n; ++i) {
        double e = static_cast<double>(predicted[i]) - truth[i];
        abs_err += std::fabs(e);
        sq_err += e * e;
        total += (truth[i] - mean) * (truth[i] - mean);
    }
    // r2 is undefined when the test labels do not vary; report null then.
    double r2 = total > 0 ? 1.0 - sq_err / total : std::nan("");
    return {{"r2", r2},
            {"mean_absolute_error", abs_err / static_cast<double>(n)},
            {"mean_squared_error", sq_err / static_cast<double>(n)}};
}

Named regression(const std::vector<float>& predicted, const std::vector<float>& truth, size_t targets) {
    if (targets <= 1) return regression(predicted, truth);
    // Each target scored alone, then the plain mean of each metric
    // (scikit-learn's multioutput='uniform_average').
    const size_t n = truth.size() / targets;
    Named mean;
    for (size_t t = 0; t < targets; ++t) {
        std::vector<float> p(n), y(n);
        for (size_t i = 0; i < n; ++i) {
            p[i] = predicted[i * targets + t];
            y[i] = truth[i * targets + t];
        }
        Named one = regression(p, y);
        if (mean.empty()) mean.assign(one.size(), {"", 0.0});
        for (size_t k = 0; k < one.size(); ++k) {
            mean[k].first = one[k].first;
            mean[k].second += one[k].second / static_cast<double>(targets);
        }
    }
    return mean;
}

namespace {

// Area under the ROC curve by the rank-sum formula, with ties averaged.
double roc_auc(const std::vector<float>& score, const std::vector<int>& positive) {
    const size_t n = score.size();
    std::vector<size_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return score[a] < score[b]; });
    double pos = 0, rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;  // always advances, whatever the scores
        while (j < n && score[idx[j]] == score[idx[i]]) ++j;
        double avg_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
        for (size_t k = i; k < j; ++k)
            if (positive[idx[k]]) {
                rank_sum += avg_rank;
                pos += 1;
            }
        i = j;
    }
    double neg = static_cast<double>(n) - pos;
    if (pos == 0 || neg == 0) return std::nan("");
    return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg);
}

}  // namespace

Named classification(const std::vector<float>& proba, const std::vector<float>& truth,
                     size_t num_classes) {
    const size_t n = truth.size();
    const size_t k = num_classes;
    // confusion[t * k + p]
    std::vector<double> confusion(k * k, 0.0);
    std::vector<int> positive(k == 2 ? n : 0);
    std::vector<float> score(k == 2 ? n : 0);
    double correct = 0, log_loss = 0;
    constexpr double eps = 1e-15;
    for (size_t i = 0; i < n; ++i) {
        const float* p = &proba[i * k];
        size_t predicted = static_cast<size_t>(std::max_element(p, p + k) - p);
        size_t t = static_cast<size_t>(truth[i]);
        confusion[t * k + predicted] += 1;
        if (predicted == t) correct += 1;
        if (k == 2) {
            positive[i] = t == 1;
            score[i] = p[1];
            log_loss -= std::log(std::clamp(static_cast<double>(p[t]), eps, 1.0 - eps));
        }
    }
    // Macro averages over the classes that occur in the labels or the
    // predictions, as scikit-learn computes them.
    double f1 = 0, precision = 0, recall = 0, present = 0;
    for (size_t c = 0; c < k; ++c) {
        double tp = confusion[c * k + c], predicted_c = 0, actual_c = 0;
        for (size_t o = 0; o < k; ++o) {
            predicted_c += confusion[o * k + c];
            actual_c += confusion[c * k + o];
        }
        if (predicted_c + actual_c == 0) continue;
        present += 1;
        // A class never predicted (or never present) scores 0 there.
        double p = predicted_c > 0 ? tp / predicted_c : 0;
        double r = actual_c > 0 ? tp / actual_c : 0;
        precision += p;
        recall += r;
        f1 += (p + r) > 0 ? 2 * p * r / (p + r) : 0;
    }
    Named out = {{"accuracy", correct / static_cast<double>(n)},
                 {"f1", f1 / present},
                 {"precision", precision / present},
                 {"recall", recall / present}};
    if (k == 2) {
        out.emplace_back("roc_auc", roc_auc(score, positive));
        out.emplace_back("log_loss", log_loss / static_cast<double>(n));
    }
    return out;
}

std::string to_json(const Named& m) {
    std::string s = "{";
    char buf[32];
    for (const auto& [key, value] : m) {
        if (s.size() > 1) s += ", ";
        s += '"' + key + "\": ";
        if (std::isfinite(value)) {
            // Shortest text that reads back as the same double.
            auto res = std::to_chars(buf, buf + sizeof buf, value);
            s.append(buf, res.ptr);
        } else {
            s += "null";
        }
    }
    return s + "}";
}

}  // namespace pgml::metrics
