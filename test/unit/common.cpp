#include "common.hpp"

#include <cmath>
#include <mutex>

#include "core/dataset.hpp"
#include "core/train.hpp"

namespace pgml::unit {

void tiny_row(uint32_t i, float* out) {
    // A small LCG: the same rows in every run.
    uint32_t x = i * 2654435761u + 12345u;
    for (size_t j = 0; j < kTinyFeatures; ++j) {
        x = x * 1664525u + 1013904223u;
        out[j] = static_cast<float>(x >> 8) / static_cast<float>(1u << 24) * 10.0f;
    }
}

const std::vector<uint8_t>& tiny_model_bytes() {
    static std::once_flag once;
    static std::vector<uint8_t> bytes;
    std::call_once(once, [] {
        Dataset d(kTinyFeatures);
        for (uint32_t i = 0; i < 400; ++i) {
            float row[kTinyFeatures];
            tiny_row(i + 100000, row);
            float* dst = d.append_row(3 * row[0] - 2 * row[1] + row[2]);
            ASSERT_NE(dst, nullptr);
            std::memcpy(dst, row, sizeof row);
        }
        TrainSpec spec;
        spec.task = Task::regression;
        spec.params = {{"n_estimators", "8"}, {"max_depth", "3"}, {"nthread", "1"}};
        spec.test_size = 0.25;
        auto hook = [](Phase, size_t, size_t) -> Result<void> { return {}; };
        auto trained = train(d, spec, hook);
        ASSERT_TRUE(trained.has_value()) << trained.error().message;
        bytes = std::move(trained->ubj);
    });
    return bytes;
}

TinyClassifier train_tiny_classifier(int k) {
    Dataset d(kTinyFeatures);
    for (uint32_t i = 0; i < 400; ++i) {
        float row[kTinyFeatures];
        tiny_row(i + 200000, row);
        float* dst = d.append_row(std::min<float>(static_cast<float>(k - 1), std::floor(row[0] * k / 10.0f)));
        if (!dst) std::abort();
        std::memcpy(dst, row, sizeof row);
    }
    TrainSpec spec;
    spec.task = Task::classification;
    spec.params = {{"n_estimators", "5"}, {"max_depth", "3"}, {"nthread", "1"}};
    auto hook = [](Phase, size_t, size_t) -> Result<void> { return {}; };
    auto trained = train(d, spec, hook);
    if (!trained) {
        ADD_FAILURE() << "training a classifier: " << trained.error().message;
        return {};
    }
    return TinyClassifier{std::move(trained->ubj), std::move(trained->classes)};
}

Model load_tiny_model() {
    const auto& b = tiny_model_bytes();
    auto m = Model::load(b.data(), b.size(), Task::regression, {});
    if (!m) {
        ADD_FAILURE() << "loading the tiny model: " << m.error().message;
        std::abort();
    }
    return std::move(*m);
}

}  // namespace pgml::unit
