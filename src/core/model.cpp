#include "core/model.hpp"

#include <string>

namespace pgml {

Result<Model> Model::load(const void* bytes, size_t len, Task task, std::vector<double> classes) {
    Model m;
    auto booster = xgb::Booster::load(bytes, len);
    if (!booster) return tl::unexpected(booster.error());
    m.booster_ = std::move(*booster);
    // One row at a time gains nothing from OpenMP threads and would multiply
    // the threads of every process that scores.
    if (auto r = m.booster_.set_param("nthread", "1"); !r) return tl::unexpected(r.error());
    auto nf = m.booster_.num_features();
    if (!nf) return tl::unexpected(nf.error());
    if (*nf == 0)
        return fail(sqlstate::invalid_binary, "the model has no features");
    m.num_features_ = *nf;
    m.task_ = task;
    m.classes_ = std::move(classes);
    if (task == Task::classification) {
        auto config = m.booster_.json_config();
        if (!config) return tl::unexpected(config.error());
        auto k = classifier_classes(*config);
        if (!k) return tl::unexpected(k.error());
        if (*k != m.classes_.size())
            return fail(sqlstate::invalid_binary,
                        "the model has " + std::to_string(*k) + " classes, its catalog entry " +
                            std::to_string(m.classes_.size()));
    }
    return m;
}

double Model::answer(const float* raw) const {
    if (task_ == Task::regression) return static_cast<double>(raw[0]);
    if (classes_.size() == 2) return classes_[raw[0] > 0.5f ? 1 : 0];
    size_t best = 0;
    for (size_t i = 1; i < classes_.size(); ++i)
        if (raw[i] > raw[best]) best = i;
    return classes_[best];
}

void Model::probabilities(const float* raw, float* dst) const {
    if (classes_.size() == 2) {
        dst[0] = 1.0f - raw[0];
        dst[1] = raw[0];
    } else {
        for (size_t i = 0; i < classes_.size(); ++i) dst[i] = raw[i];
    }
}

size_t Model::outputs_per_row() const {
    return classes_.size() > 2 ? classes_.size() : 1;
}

Result<double> Model::predict(const float* row) const {
    double v = 0;
    if (auto r = predict_batch(row, 1, &v); !r) return tl::unexpected(r.error());
    return v;
}

Result<void> Model::predict_proba(const float* row, float* dst) const {
    return predict_proba_batch(row, 1, dst);
}

Result<void> Model::predict_batch(const float* rows, size_t n, double* dst) const {
    auto out = booster_.predict_dense(rows, n, num_features_);
    if (!out) return tl::unexpected(out.error());
    const size_t k = outputs_per_row();
    if (out->count != n * k) return fail(sqlstate::internal, "XGBoost returned an unexpected number of outputs");
    for (size_t i = 0; i < n; ++i) dst[i] = answer(out->values + i * k);
    return {};
}

Result<void> Model::predict_proba_batch(const float* rows, size_t n, float* dst) const {
    auto out = booster_.predict_dense(rows, n, num_features_);
    if (!out) return tl::unexpected(out.error());
    const size_t k = outputs_per_row();
    if (out->count != n * k) return fail(sqlstate::internal, "XGBoost returned an unexpected number of outputs");
    for (size_t i = 0; i < n; ++i) probabilities(out->values + i * k, dst + i * classes_.size());
    return {};
}

}  // namespace pgml
