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

Result<double> Model::predict(const float* row) const {
    auto out = booster_.predict_dense(row, 1, num_features_);
    if (!out) return tl::unexpected(out.error());
    if (task_ == Task::regression) return static_cast<double>(out->values[0]);
    if (classes_.size() == 2) return classes_[out->values[0] > 0.5f ? 1 : 0];
    size_t best = 0;
    for (size_t i = 1; i < out->count; ++i)
        if (out->values[i] > out->values[best]) best = i;
    return classes_[best];
}

Result<void> Model::predict_proba(const float* row, float* dst) const {
    auto out = booster_.predict_dense(row, 1, num_features_);
    if (!out) return tl::unexpected(out.error());
    if (classes_.size() == 2) {
        dst[0] = 1.0f - out->values[0];
        dst[1] = out->values[0];
    } else {
        for (size_t i = 0; i < out->count; ++i) dst[i] = out->values[i];
    }
    return {};
}

}  // namespace pgml
