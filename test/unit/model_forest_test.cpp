// A Model switching to its compiled forest (Model::use_forest): only after
// the forest matched XGBoost on the probe rows, and then answering as the
// booster did, for predict and predict_proba.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "common.hpp"
#include "core/forest_probe.hpp"
#include "core/model.hpp"
#include "core/train.hpp"

namespace pgml::unit {
namespace {

// Rows around the model's thresholds, and the special values.
std::vector<float> rows_for(const Model& m, size_t n) {
    return forest::probe_rows(*m.compiled(), n, 7);
}

TEST(ModelForest, RegressionAnswersAsXGBoostDid) {
    const auto& bytes = tiny_model_bytes();
    auto xgb = Model::load(bytes.data(), bytes.size(), Task::regression, {});
    auto fst = Model::load(bytes.data(), bytes.size(), Task::regression, {});
    ASSERT_TRUE(xgb && fst);
    ASSERT_TRUE(fst->use_forest(bytes.data(), bytes.size())) << "the tiny gbtree model was not compiled";
    ASSERT_NE(fst->compiled(), nullptr);
    EXPECT_EQ(xgb->compiled(), nullptr);
    const size_t n = 3000;
    std::vector<float> rows = rows_for(*fst, n);
    std::vector<double> a(n), b(n);
    ASSERT_TRUE(xgb->predict_batch(rows.data(), n, a.data()));
    ASSERT_TRUE(fst->predict_batch(rows.data(), n, b.data()));
    EXPECT_EQ(std::memcmp(a.data(), b.data(), n * sizeof(double)), 0);
    // One row at a time too (the pool's lone request).
    for (size_t i = 0; i < 50; ++i) {
        auto v = fst->predict(&rows[i * kTinyFeatures]);
        ASSERT_TRUE(v);
        EXPECT_EQ(std::memcmp(&*v, &a[i], sizeof(double)), 0) << "row " << i;
    }
}

TEST(ModelForest, ClassifierProbabilitiesAndClassesAsXGBoostGave) {
    for (int k : {2, 3}) {
        TinyClassifier c = train_tiny_classifier(k);
        auto xgb = Model::load(c.ubj.data(), c.ubj.size(), Task::classification, c.classes);
        auto fst = Model::load(c.ubj.data(), c.ubj.size(), Task::classification, c.classes);
        ASSERT_TRUE(xgb && fst);
        ASSERT_TRUE(fst->use_forest(c.ubj.data(), c.ubj.size())) << k << " classes";
        const size_t n = 2000;
        std::vector<float> rows = rows_for(*fst, n);
        std::vector<float> pa(n * k), pb(n * k);
        ASSERT_TRUE(xgb->predict_proba_batch(rows.data(), n, pa.data()));
        ASSERT_TRUE(fst->predict_proba_batch(rows.data(), n, pb.data()));
        EXPECT_EQ(std::memcmp(pa.data(), pb.data(), pa.size() * sizeof(float)), 0) << k << " classes";
        std::vector<double> ca(n), cb(n);
        ASSERT_TRUE(xgb->predict_batch(rows.data(), n, ca.data()));
        ASSERT_TRUE(fst->predict_batch(rows.data(), n, cb.data()));
        EXPECT_EQ(ca, cb) << k << " classes";
    }
}

// A joint regression (3 labels per row, trained as pgml.train_joint
// does): the forest has a group per target and answers every target
// exactly as XGBoost, with the stratified split and a search on the way.
TEST(ModelForest, JointRegressionAnswersEveryTargetAsXGBoostDid) {
    Dataset d(kTinyFeatures, 3);
    for (uint32_t i = 0; i < 600; ++i) {
        float row[kTinyFeatures];
        tiny_row(i + 300000, row);
        const float labels[3] = {row[0] + row[1], row[1] * 2 - row[2], std::floor(row[2])};
        float* dst = d.append_row(labels);
        ASSERT_NE(dst, nullptr);
        std::memcpy(dst, row, sizeof row);
    }
    TrainSpec spec;
    spec.params = {{"n_estimators", "6"}, {"nthread", "1"}};
    spec.sampling = Sampling::stratified;
    spec.search.kind = search::Kind::grid;
    spec.search.axes = {{"max_depth", {"2", "4"}, {"2", "4"}}};
    spec.search.cv = 2;
    auto hook = [](Phase, size_t, size_t) -> Result<void> { return {}; };
    auto trained = train(d, spec, hook);
    ASSERT_TRUE(trained) << trained.error().message;
    EXPECT_EQ(trained->targets, 3u);
    EXPECT_FALSE(trained->search_results.empty());
    const auto& bytes = trained->ubj;
    auto xgb = Model::load(bytes.data(), bytes.size(), Task::regression, {});
    auto fst = Model::load(bytes.data(), bytes.size(), Task::regression, {});
    ASSERT_TRUE(xgb && fst);
    EXPECT_EQ(xgb->num_targets(), 3u);
    EXPECT_EQ(xgb->vector_size(), 3u);
    ASSERT_TRUE(fst->use_forest(bytes.data(), bytes.size())) << "the joint model was not compiled";
    EXPECT_EQ(fst->compiled()->num_groups, 3u);
    const size_t n = 2000;
    std::vector<float> rows = rows_for(*fst, n);
    std::vector<float> a(n * 3), b(n * 3);
    ASSERT_TRUE(xgb->predict_proba_batch(rows.data(), n, a.data()));
    ASSERT_TRUE(fst->predict_proba_batch(rows.data(), n, b.data()));
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
    // The targets differ: it is not one output repeated.
    EXPECT_NE(a[0], a[1]);
}

TEST(ModelForest, ModelsAForestDoesNotCoverStayOnXGBoost) {
    // Other bytes than the model's: the forest would not be this model's.
    const auto& bytes = tiny_model_bytes();
    TinyClassifier c = train_tiny_classifier(3);
    auto m = Model::load(bytes.data(), bytes.size(), Task::regression, {});
    ASSERT_TRUE(m);
    auto r = m->use_forest(c.ubj.data(), c.ubj.size());
    EXPECT_FALSE(r);
    EXPECT_EQ(m->compiled(), nullptr);
    // Garbage is refused and leaves XGBoost serving.
    const uint8_t junk[] = {'{', '}', 0};
    EXPECT_FALSE(m->use_forest(junk, sizeof junk));
    EXPECT_EQ(m->compiled(), nullptr);
    float row[kTinyFeatures];
    tiny_row(3, row);
    EXPECT_TRUE(m->predict(row));
}

}  // namespace
}  // namespace pgml::unit
