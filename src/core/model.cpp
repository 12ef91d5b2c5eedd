#include "core/model.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "core/answer.hpp"
#include "core/forest_probe.hpp"
#include "core/ubjson.hpp"

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
    auto config = m.booster_.json_config();
    if (!config) return tl::unexpected(config.error());
    m.targets_ = model_targets(*config);
    if (task == Task::classification) {
        if (m.targets_ != 1)
            return fail(sqlstate::invalid_binary, "a classification model has several targets");
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
    return answer::value(task_, classes_.data(), classes_.size(), raw);
}

void Model::probabilities(const float* raw, float* dst) const {
    answer::vector(classes_.size(), targets_, raw, dst);
}

size_t Model::outputs_per_row() const { return answer::outputs_per_row(classes_.size(), targets_); }
size_t Model::answer_vector_size() const { return answer::vector_size(classes_.size(), targets_); }

Result<double> Model::predict(const float* row) const {
    double v = 0;
    if (auto r = predict_batch(row, 1, &v); !r) return tl::unexpected(r.error());
    return v;
}

Result<void> Model::predict_proba(const float* row, float* dst) const {
    return predict_proba_batch(row, 1, dst);
}

namespace {
// The forest's outputs for a batch; per thread, grown to the largest batch
// (forest::predict wants room for every margin of every row).
float* scratch(size_t floats) {
    thread_local std::vector<float> buffer;
    if (buffer.size() < floats) buffer.resize(floats);
    return buffer.data();
}
}  // namespace

Result<const float*> Model::raw(const float* rows, size_t n) const {
    const size_t k = outputs_per_row();
    if (const forest::Forest* f = compiled()) {
        float* out = scratch(n * f->num_groups);
        forest::predict(*f, rows, n, out);
        return out;
    }
    auto out = booster_.predict_dense(rows, n, num_features_);
    if (!out) return tl::unexpected(out.error());
    if (out->count != n * k) return fail(sqlstate::internal, "XGBoost returned an unexpected number of outputs");
    return out->values;
}

Result<void> Model::predict_batch(const float* rows, size_t n, double* dst) const {
    auto out = raw(rows, n);
    if (!out) return tl::unexpected(out.error());
    const size_t k = outputs_per_row();
    for (size_t i = 0; i < n; ++i) dst[i] = answer(*out + i * k);
    return {};
}

Result<void> Model::predict_proba_batch(const float* rows, size_t n, float* dst) const {
    auto out = raw(rows, n);
    if (!out) return tl::unexpected(out.error());
    const size_t k = outputs_per_row();
    for (size_t i = 0; i < n; ++i) probabilities(*out + i * k, dst + i * answer_vector_size());
    return {};
}

// Rows the forest is checked on: enough to visit each split's threshold
// and neighbours many times over for the models this project trains; fewer
// for wide rows, so the check's copies stay within kProbeBytes.
constexpr size_t kProbeRows = 2048;
constexpr size_t kProbeBytes = 16u << 20;

Result<void> Model::use_forest(const void* bytes, size_t len, const ForestPlacer& place) {
    auto doc = ubjson::Document::parse(static_cast<const uint8_t*>(bytes), len);
    if (!doc) return tl::unexpected(doc.error());
    auto size = forest::forest_size(*doc);
    if (!size) return tl::unexpected(size.error());
    ForestPlace storage;
    if (place) storage = place(*size);
    const bool placed = storage.data != nullptr;
    if (!placed) {
        // On a cache line, as the shared arena's are: the complete layout's
        // blocks of splits are laid out to fill one line each.
        constexpr std::align_val_t kLine{64};
        void* heap = ::operator new(*size, kLine);
        storage.owner = std::shared_ptr<void>(heap, [](void* p) { ::operator delete(p, std::align_val_t{64}); });
        storage.data = heap;
    }
    auto f = forest::compile_forest(*doc, storage.data, *size);
    if (!f) return tl::unexpected(f.error());
    if ((*f)->num_feature != num_features_ || (*f)->outputs_per_row() != outputs_per_row())
        return fail(sqlstate::feature_not_supported,
                    "not compiled into a forest: its outputs differ in shape from the model's");
    // Bit for bit, on every probe row, answers and margins (a margin error
    // can hide behind a saturated sigmoid or an argmax), or not at all
    // (DESIGN.md invariant 8).
    const size_t n = std::clamp<size_t>(kProbeBytes / (sizeof(float) * num_features_), 64, kProbeRows);
    const std::vector<float> rows = forest::probe_rows(**f, n, 42);
    std::vector<float> ours(n * (*f)->num_groups);
    const auto differs = [&](const Result<xgb::Booster::Output>& theirs, size_t outputs) {
        return !theirs || theirs->count != outputs ||
               std::memcmp(ours.data(), theirs->values, outputs * sizeof(float)) != 0;
    };
    forest::predict_margin(**f, rows.data(), n, ours.data());
    if (differs(booster_.predict_margin_dense(rows.data(), n, num_features_), n * (*f)->num_groups))
        return fail(sqlstate::feature_not_supported,
                    "not used: the compiled forest's margins differ from XGBoost's on the probe rows");
    forest::predict(**f, rows.data(), n, ours.data());
    if (differs(booster_.predict_dense(rows.data(), n, num_features_), n * outputs_per_row()))
        return fail(sqlstate::feature_not_supported,
                    "not used: the compiled forest differs from XGBoost on the probe rows");
    forest_owner_ = std::move(storage.owner);
    forest_ = *f;
    placed_ = placed;
    // The forest answers everything now; the booster (about four times
    // the serialized model in memory) is no longer needed.
    booster_ = xgb::Booster();
    return {};
}

}  // namespace pgml
