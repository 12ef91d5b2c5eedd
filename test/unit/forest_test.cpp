// The compiled forest (src/core/forest.*) against XGBoost itself: models
// trained here on synthetic data (NaN included), loaded into a booster from
// the same bytes, and every output compared bit for bit (memcmp, no
// tolerance) on 10,000+ adversarial rows: realistic values, the model's
// exact thresholds and their float neighbours, NaN, ±Inf, ±FLT_MAX, -0,
// denormals, far out of range.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <xgboost/c_api.h>

#include "core/forest.hpp"
#include "core/ubjson.hpp"
#include "core/xgb.hpp"

namespace pgml::unit {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

enum class Label { regression, positive, binary, three, five };

struct Spec {
    Params params;
    int rounds = 10;
    Label label = Label::regression;
    double nan_rate = 0;  // share of missing training values
    size_t features = 5;
    size_t rows = 2000;
};

// A value on a coarse grid half the time: hist thresholds are feature
// values, so ties with the thresholds are common, as in real data.
float realistic(std::mt19937_64& rng) {
    std::uniform_real_distribution<float> u(-10.0f, 10.0f);
    float v = u(rng);
    return (rng() & 1) ? std::round(v * 4.0f) / 4.0f : v;
}

std::vector<uint8_t> train(const Spec& s, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<float> x(s.rows * s.features), y(s.rows);
    std::uniform_real_distribution<double> u(0, 1);
    for (size_t r = 0; r < s.rows; ++r) {
        float* row = &x[r * s.features];
        for (size_t j = 0; j < s.features; ++j)
            row[j] = u(rng) < s.nan_rate ? NAN : realistic(rng);
        auto v = [&](size_t j) { return std::isnan(row[j]) ? 0.0f : row[j]; };
        float z = 3 * std::sin(v(0)) + v(1) * v(2) / 10 - v(3 % s.features) +
                  static_cast<float>(u(rng) - 0.5);
        switch (s.label) {
            case Label::regression: y[r] = z; break;
            case Label::positive: y[r] = std::fabs(z); break;
            case Label::binary: y[r] = z > 0 ? 1.0f : 0.0f; break;
            case Label::three: y[r] = z < -2 ? 0.0f : z < 2 ? 1.0f : 2.0f; break;
            case Label::five: y[r] = std::clamp(std::floor(z / 2 + 2.5f), 0.0f, 4.0f); break;
        }
    }
    auto dm = xgb::DMatrix::from_dense(x.data(), s.rows, s.features);
    EXPECT_TRUE(dm.has_value());
    EXPECT_TRUE(dm->set_labels(y.data(), s.rows).has_value());
    auto b = xgb::Booster::create(*dm);
    EXPECT_TRUE(b.has_value());
    EXPECT_TRUE(b->set_param("nthread", "1").has_value());
    EXPECT_TRUE(b->set_param("seed", std::to_string(seed)).has_value());
    for (const auto& [k, v] : s.params) EXPECT_TRUE(b->set_param(k, v).has_value()) << k;
    for (int i = 0; i < s.rounds; ++i) EXPECT_TRUE(b->update(i, *dm).has_value());
    auto ubj = b->save_ubj();
    EXPECT_TRUE(ubj.has_value());
    return ubj ? *ubj : std::vector<uint8_t>{};
}

// A compiled forest in its own 8-byte aligned buffer.
struct Compiled {
    std::vector<uint64_t> mem;
    const forest::Forest* f = nullptr;
};

Result<Compiled> compile(const std::vector<uint8_t>& ubj,
                         forest::Layout layout = forest::Layout::automatic) {
    auto doc = ubjson::Document::parse(ubj.data(), ubj.size());
    if (!doc) return tl::unexpected(doc.error());
    auto size = forest::forest_size(*doc, layout);
    if (!size) return tl::unexpected(size.error());
    Compiled c;
    c.mem.resize((*size + 7) / 8);
    auto f = forest::compile_forest(*doc, c.mem.data(), *size, layout);
    if (!f) return tl::unexpected(f.error());
    c.f = *f;
    return c;
}

// Every split threshold of the model, by feature (from the UBJSON itself).
std::vector<std::vector<float>> thresholds(const forest::Forest& f) {
    std::vector<std::vector<float>> out(f.num_feature);
    forest::for_each_split(f, [&](uint32_t, uint32_t feature, float threshold) {
        out[feature].push_back(threshold);
    });
    return out;
}

// Both layouts where the model allows the complete one (a split
// somewhere), else the general one alone.
std::vector<forest::Layout> layouts_of(const std::vector<uint8_t>& ubj) {
    std::vector<forest::Layout> out{forest::Layout::general};
    if (compile(ubj, forest::Layout::complete).has_value()) out.push_back(forest::Layout::complete);
    return out;
}
const char* name(forest::Layout l) {
    return l == forest::Layout::complete ? "complete layout" : l == forest::Layout::general ? "general layout" : "automatic layout";
}

std::vector<float> adversarial_rows(const forest::Forest& f, size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    auto th = thresholds(f);
    std::vector<float> rows(n * f.num_feature);
    const float specials[] = {INFINITY,     -INFINITY,     FLT_MAX,     -FLT_MAX,
                              -0.0f,        0.0f,          FLT_TRUE_MIN, -FLT_TRUE_MIN,
                              FLT_MIN / 3,  -FLT_MIN / 3,  FLT_MIN,     1e30f,
                              -1e30f,       1e-30f};
    for (size_t r = 0; r < n; ++r)
        for (size_t j = 0; j < f.num_feature; ++j) {
            float& v = rows[r * f.num_feature + j];
            const unsigned pick = static_cast<unsigned>(rng() % 100);
            const std::vector<float>& t = th[j];
            const float exact = t.empty() ? realistic(rng) : t[rng() % t.size()];
            if (pick < 30) v = realistic(rng);
            else if (pick < 52) v = exact;
            else if (pick < 62) v = std::nextafterf(exact, INFINITY);
            else if (pick < 72) v = std::nextafterf(exact, -INFINITY);
            else if (pick < 80) v = NAN;
            else if (pick < 88) v = (rng() & 1) ? INFINITY : -INFINITY;
            else v = specials[rng() % (sizeof specials / sizeof specials[0])];
        }
    return rows;
}

// XGBoosterPredictFromDense, type 0 (value) or 1 (margin), one thread.
std::vector<float> xgboost_predict(const xgb::Booster& b, const float* rows, size_t n,
                                   size_t cols, int type) {
    char ai[256];
    std::snprintf(ai, sizeof ai,
                  "{\"data\":[%llu,true],\"shape\":[%zu,%zu],\"typestr\":\"<f4\",\"version\":3}",
                  static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(rows)), n, cols);
    std::string config = "{\"type\":" + std::to_string(type) +
                         ",\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"
                         "\"cache_id\":0,\"strict_shape\":false,\"missing\":NaN}";
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* out = nullptr;
    if (XGBoosterPredictFromDense(b.get(), ai, config.c_str(), nullptr, &shape, &dim, &out) != 0) {
        ADD_FAILURE() << XGBGetLastError();
        return {};
    }
    size_t count = 1;
    for (bst_ulong i = 0; i < dim; ++i) count *= shape[i];
    return std::vector<float>(out, out + count);
}

std::string hex(float v) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    char s[32];
    std::snprintf(s, sizeof s, "%.9g (0x%08x)", static_cast<double>(v), u);
    return s;
}

// The first element where a and b differ in their bits, or -1.
long first_difference(const std::vector<float>& a, const std::vector<float>& b) {
    for (size_t i = 0; i < a.size(); ++i)
        if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return static_cast<long>(i);
    return -1;
}

// Compiles ubj, scores n adversarial rows with the forest and with XGBoost
// (type 0 and 1), and expects the same bits everywhere. Also scores in
// uneven chunks, which must not change a bit either.
void expect_identical_in(const std::vector<uint8_t>& ubj, size_t n, uint64_t seed,
                         forest::Layout layout) {
    SCOPED_TRACE(name(layout));
    auto c = compile(ubj, layout);
    ASSERT_TRUE(c.has_value()) << c.error().message;
    const forest::Forest& f = *c->f;
    ASSERT_TRUE(forest::open_forest(c->mem.data(), c->mem.size() * 8).has_value());
    auto booster = xgb::Booster::load(ubj.data(), ubj.size());
    ASSERT_TRUE(booster.has_value()) << booster.error().message;
    ASSERT_TRUE(booster->set_param("nthread", "1").has_value());
    const std::vector<float> rows = adversarial_rows(f, n, seed);

    for (int type : {0, 1}) {
        SCOPED_TRACE(type == 0 ? "type 0 (value)" : "type 1 (margin)");
        std::vector<float> expected = xgboost_predict(*booster, rows.data(), n, f.num_feature, type);
        const size_t per_row = type == 0 ? f.outputs_per_row() : f.num_groups;
        ASSERT_EQ(expected.size(), n * per_row);
        std::vector<float> got(n * f.num_groups);
        if (type == 0)
            forest::predict(f, rows.data(), n, got.data());
        else
            forest::predict_margin(f, rows.data(), n, got.data());
        got.resize(n * per_row);
        long d = first_difference(expected, got);
        EXPECT_EQ(d, -1) << "row " << d / static_cast<long>(per_row) << ": XGBoost "
                         << hex(expected[d]) << ", forest " << hex(got[d]);

        // Chunks of 1, 7, 64, 65, ... rows: blocks must not matter.
        std::vector<float> chunked(n * f.num_groups);
        std::vector<float> scratch;
        const size_t sizes[] = {1, 7, 64, 65, 130, 1000};
        for (size_t at = 0, k = 0; at < n; ++k) {
            const size_t m = std::min(sizes[k % 6], n - at);
            scratch.assign(m * f.num_groups, 0);
            const float* src = rows.data() + at * f.num_feature;
            if (type == 0)
                forest::predict(f, src, m, scratch.data());
            else
                forest::predict_margin(f, src, m, scratch.data());
            std::memcpy(&chunked[at * per_row], scratch.data(), m * per_row * sizeof(float));
            at += m;
        }
        chunked.resize(n * per_row);
        EXPECT_EQ(first_difference(expected, chunked), -1) << "chunked scoring differs";
    }
}

// expect_identical_in every layout the model allows.
void expect_identical(const std::vector<uint8_t>& ubj, size_t n, uint64_t seed,
                      const std::string& what) {
    SCOPED_TRACE(what);
    for (forest::Layout layout : layouts_of(ubj)) expect_identical_in(ubj, n, seed, layout);
}

constexpr size_t kRows = 10000;

class ForestTest : public ::testing::Test {
protected:
    void SetUp() override { xgb::use_one_thread_here(); }
};

TEST_F(ForestTest, RegressionDepthsTreesAndBaseScores) {
    struct Case {
        const char* what;
        Spec spec;
    } cases[] = {
        {"depth 1, 500 trees, hist, base_score 3.7",
         {{{"max_depth", "1"}, {"tree_method", "hist"}, {"base_score", "3.7"}}, 500}},
        {"depth 3, 100 trees, exact",
         {{{"max_depth", "3"}, {"tree_method", "exact"}}, 100}},
        {"depth 6, 60 trees, hist, 15 % NaN, base_score -12.25",
         {{{"max_depth", "6"}, {"tree_method", "hist"}, {"base_score", "-12.25"}}, 60,
          Label::regression, 0.15}},
        {"depth 12, 20 trees, hist, 30 % NaN",
         {{{"max_depth", "12"}, {"tree_method", "hist"}, {"max_bin", "1024"}}, 20,
          Label::regression, 0.3, 8, 6000}},
        {"depth 8, 1 tree, approx, 10 % NaN",
         {{{"max_depth", "8"}, {"tree_method", "approx"}}, 1, Label::regression, 0.1}},
        {"depth 4, random forest (num_parallel_tree 4), 5 rounds",
         {{{"max_depth", "4"}, {"tree_method", "hist"}, {"num_parallel_tree", "4"},
           {"subsample", "0.6"}, {"colsample_bynode", "0.7"}},
          5, Label::regression, 0.05}},
        {"reg:linear, depth 4, 10 trees",
         {{{"objective", "reg:linear"}, {"max_depth", "4"}}, 10}},
    };
    uint64_t seed = 1;
    for (const Case& c : cases) {
        auto ubj = train(c.spec, seed);
        expect_identical(ubj, kRows, seed * 1000, c.what);
        ++seed;
    }
}

TEST_F(ForestTest, OtherIdentityObjectives) {
    struct Case {
        const char* what;
        Spec spec;
    } cases[] = {
        {"reg:absoluteerror", {{{"objective", "reg:absoluteerror"}, {"max_depth", "5"},
                                {"tree_method", "hist"}}, 20, Label::regression, 0.1}},
        {"reg:pseudohubererror", {{{"objective", "reg:pseudohubererror"}, {"max_depth", "5"},
                                   {"base_score", "1.5"}}, 20, Label::regression, 0.1}},
        {"reg:squaredlogerror", {{{"objective", "reg:squaredlogerror"}, {"max_depth", "4"}},
                                 20, Label::positive, 0.1}},
        {"binary:logitraw, base_score 0.3", {{{"objective", "binary:logitraw"},
                                              {"max_depth", "4"}, {"base_score", "0.3"}},
                                             20, Label::binary, 0.1}},
    };
    uint64_t seed = 101;
    for (const Case& c : cases) expect_identical(train(c.spec, seed), kRows, seed, c.what), ++seed;
}

TEST_F(ForestTest, BinaryLogistic) {
    struct Case {
        const char* what;
        Spec spec;
    } cases[] = {
        {"binary:logistic, depth 4, 50 trees, base_score 0.2, 10 % NaN",
         {{{"objective", "binary:logistic"}, {"max_depth", "4"}, {"base_score", "0.2"},
           {"tree_method", "hist"}}, 50, Label::binary, 0.1}},
        {"binary:logistic, depth 8, 200 trees, eta 1 (saturating margins)",
         {{{"objective", "binary:logistic"}, {"max_depth", "8"}, {"eta", "1"},
           {"tree_method", "hist"}}, 200, Label::binary, 0.05}},
        {"binary:logistic, depth 2, base_score 0.97",
         {{{"objective", "binary:logistic"}, {"max_depth", "2"}, {"base_score", "0.97"}},
          30, Label::binary}},
        {"reg:logistic, depth 5, base_score 0.6",
         {{{"objective", "reg:logistic"}, {"max_depth", "5"}, {"base_score", "0.6"}},
          30, Label::binary, 0.1}},
    };
    uint64_t seed = 201;
    for (const Case& c : cases) expect_identical(train(c.spec, seed), kRows, seed, c.what), ++seed;
}

TEST_F(ForestTest, MultiClass) {
    struct Case {
        const char* what;
        Spec spec;
    } cases[] = {
        {"multi:softprob, 3 classes, depth 5, 30 rounds, base_score 0.3, 10 % NaN",
         {{{"objective", "multi:softprob"}, {"num_class", "3"}, {"max_depth", "5"},
           {"base_score", "0.3"}, {"tree_method", "hist"}}, 30, Label::three, 0.1}},
        {"multi:softprob, 3 classes, depth 10, 40 rounds, eta 1",
         {{{"objective", "multi:softprob"}, {"num_class", "3"}, {"max_depth", "10"},
           {"eta", "1"}}, 40, Label::three, 0.05}},
        {"multi:softmax, 3 classes, depth 3, 20 rounds",
         {{{"objective", "multi:softmax"}, {"num_class", "3"}, {"max_depth", "3"}},
          20, Label::three, 0.1}},
        {"multi:softprob, 3 classes, num_parallel_tree 2",
         {{{"objective", "multi:softprob"}, {"num_class", "3"}, {"max_depth", "4"},
           {"num_parallel_tree", "2"}, {"subsample", "0.7"}}, 8, Label::three}},
    };
    uint64_t seed = 301;
    for (const Case& c : cases) expect_identical(train(c.spec, seed), kRows, seed, c.what), ++seed;
}

TEST_F(ForestTest, RefusesWhatItDoesNotCover) {
    struct Case {
        const char* what;
        Spec spec;
        const char* says;
    } cases[] = {
        {"dart", {{{"booster", "dart"}, {"rate_drop", "0.2"}}, 5}, "booster dart"},
        {"gblinear", {{{"booster", "gblinear"}}, 5}, "booster gblinear"},
        {"count:poisson", {{{"objective", "count:poisson"}}, 5, Label::positive},
         "objective \"count:poisson\""},
        {"reg:gamma", {{{"objective", "reg:gamma"}}, 5, Label::positive},
         "objective \"reg:gamma\""},
        {"binary:hinge", {{{"objective", "binary:hinge"}}, 5, Label::binary},
         "objective \"binary:hinge\""},
        {"reg:tweedie", {{{"objective", "reg:tweedie"}}, 5, Label::positive},
         "objective \"reg:tweedie\""},
    };
    uint64_t seed = 401;
    for (const Case& c : cases) {
        SCOPED_TRACE(c.what);
        auto ubj = train(c.spec, seed++);
        auto doc = ubjson::Document::parse(ubj.data(), ubj.size());
        ASSERT_TRUE(doc.has_value());
        auto size = forest::forest_size(*doc);
        ASSERT_FALSE(size.has_value());
        EXPECT_EQ(size.error().sqlstate, "0A000");
        EXPECT_NE(size.error().message.find("not compiled into a forest"), std::string::npos);
        EXPECT_NE(size.error().message.find(c.says), std::string::npos) << size.error().message;
        std::vector<uint64_t> mem(1 << 16);
        EXPECT_FALSE(forest::compile_forest(*doc, mem.data(), mem.size() * 8).has_value());
    }
    // Not a model (an empty object parses, fails check_document): its
    // error, unchanged.
    const uint8_t empty[] = {'{', '}'};
    auto doc = ubjson::Document::parse(empty, sizeof empty);
    ASSERT_TRUE(doc.has_value());
    auto size = forest::forest_size(*doc);
    ASSERT_FALSE(size.has_value());
    EXPECT_EQ(size.error().sqlstate, sqlstate::invalid_binary);
}

TEST_F(ForestTest, BufferChecks) {
    auto ubj = train({{{"max_depth", "3"}}, 4}, 501);
    auto doc = ubjson::Document::parse(ubj.data(), ubj.size());
    ASSERT_TRUE(doc.has_value());
    for (forest::Layout layout : {forest::Layout::general, forest::Layout::complete}) {
        SCOPED_TRACE(name(layout));
        auto size = forest::forest_size(*doc, layout);
        ASSERT_TRUE(size.has_value());
        std::vector<uint64_t> mem(*size / 8 + 2);
        EXPECT_FALSE(forest::compile_forest(*doc, mem.data(), *size - 1, layout).has_value());
        EXPECT_FALSE(forest::compile_forest(*doc, reinterpret_cast<char*>(mem.data()) + 4, *size, layout)
                         .has_value());
        auto f = forest::compile_forest(*doc, mem.data(), *size, layout);
        ASSERT_TRUE(f.has_value());
        EXPECT_EQ((*f)->size, *size);
        EXPECT_EQ((*f)->complete_depth, layout == forest::Layout::complete ? 3u : 0u);
        // open_forest: the block as compiled opens; short, misaligned or
        // damaged blocks do not.
        EXPECT_TRUE(forest::open_forest(mem.data(), *size).has_value());
        EXPECT_FALSE(forest::open_forest(mem.data(), *size - 1).has_value());
        EXPECT_FALSE(forest::open_forest(reinterpret_cast<char*>(mem.data()) + 4, *size).has_value());
        std::vector<uint64_t> bad = mem;
        auto* header = reinterpret_cast<forest::Forest*>(bad.data());
        if (layout == forest::Layout::general) {
            auto* nodes = const_cast<forest::Node*>(header->nodes());
            nodes[0].left = 0x7fffffffu;  // root's children out of its tree
            EXPECT_FALSE(forest::open_forest(bad.data(), *size).has_value());
            bad = mem;
            const_cast<forest::Node*>(header->nodes())[0].feature = 99;  // feature past num_feature
        } else {
            header->complete_depth = 4;  // trees larger than the block
            EXPECT_FALSE(forest::open_forest(bad.data(), *size).has_value());
            bad = mem;
            header->complete_depth = forest::kMaxCompleteDepth + 1;
            EXPECT_FALSE(forest::open_forest(bad.data(), *size).has_value());
            bad = mem;
            const_cast<forest::Split*>(header->splits())[6].feature = 99;  // the last split of tree 0
        }
        EXPECT_FALSE(forest::open_forest(bad.data(), *size).has_value());
    }
}

// The forest scores fewer than 8 rows one by one, 8 trees walked at once,
// and groups of 8 rows tree-major, 8 rows walked at once (a walk for
// blocks without NaN, another for blocks with), the rest of a call row by
// row again. Every row count from 1 to 20, and counts around the blocks,
// each one call compared bit for bit with XGBoost scoring exactly those
// rows, with NaN and without, on models whose tree counts leave trees over
// after groups of 8, several output groups, stumps, roots that are leaves,
// deep trees.
void expect_same_call(const forest::Forest& f, const xgb::Booster& b, const float* rows,
                      size_t n) {
    for (int type : {0, 1}) {
        SCOPED_TRACE(type == 0 ? "type 0 (value)" : "type 1 (margin)");
        std::vector<float> expected = xgboost_predict(b, rows, n, f.num_feature, type);
        const size_t per_row = type == 0 ? f.outputs_per_row() : f.num_groups;
        ASSERT_EQ(expected.size(), n * per_row);
        // One float past the end, to see that nothing is written there.
        std::vector<float> got(n * f.num_groups + 1, 1234.5f);
        if (type == 0)
            forest::predict(f, rows, n, got.data());
        else
            forest::predict_margin(f, rows, n, got.data());
        EXPECT_EQ(got.back(), 1234.5f) << "written past the last row";
        got.resize(n * per_row);
        long d = first_difference(expected, got);
        EXPECT_EQ(d, -1) << "row " << d / static_cast<long>(per_row) << " of " << n << ": XGBoost "
                         << hex(expected[d]) << ", forest " << hex(got[d]);
    }
}

// Adversarial rows (adversarial_rows), led by rows of one value throughout:
// NaN (every walk takes every default direction), +Inf, -Inf, -0, ±FLT_MAX,
// then rows of exact thresholds only (each split the row meets may tie).
std::vector<float> edge_rows(const forest::Forest& f, size_t n, uint64_t seed) {
    std::vector<float> rows = adversarial_rows(f, n, seed);
    const auto th = thresholds(f);
    const size_t w = f.num_feature;
    const float fills[] = {NAN, INFINITY, -INFINITY, -0.0f, FLT_MAX, -FLT_MAX};
    size_t r = 0;
    for (float v : fills)
        if (r < n) std::fill(rows.begin() + r * w, rows.begin() + (r + 1) * w, v), ++r;
    for (size_t k = 0; r < n && k < 6; ++r, ++k)
        for (size_t j = 0; j < w; ++j)
            if (!th[j].empty()) rows[r * w + j] = th[j][(k * 7 + j) % th[j].size()];
    return rows;
}

// Trees whose root is a leaf, and trees that split.
std::pair<size_t, size_t> leaf_roots(const forest::Forest& f) {
    std::vector<uint8_t> splits(f.num_trees, 0);
    forest::for_each_split(f, [&](uint32_t t, uint32_t, float) { splits[t] = 1; });
    const size_t split = static_cast<size_t>(std::count(splits.begin(), splits.end(), 1));
    return {f.num_trees - split, split};
}

TEST_F(ForestTest, EveryRowCountAgainstXGBoost) {
    struct Case {
        const char* what;
        Spec spec;
        uint32_t trees;      // expected, to be sure of the lanes' cases
        int leaf_roots;      // roots that are leaves: 0 none, 1 some, 2 all
        uint32_t depth = 0;  // expected depth of the complete layout (0: any)
    } cases[] = {
        {"1 tree, depth 6", {{{"max_depth", "6"}}, 1}, 1, 0},
        {"7 trees, depth 4, 10 % NaN", {{{"max_depth", "4"}}, 7, Label::regression, 0.1}, 7, 0},
        {"8 trees, depth 5", {{{"max_depth", "5"}}, 8}, 8, 0},
        {"9 trees, depth 3, base_score 2.5", {{{"max_depth", "3"}, {"base_score", "2.5"}}, 9}, 9, 0},
        {"stumps: 29 trees of depth 1", {{{"max_depth", "1"}, {"tree_method", "hist"}}, 29}, 29, 0},
        // One row walks tiles of 16, 8 and 4 trees, then single trees:
        // 37 = 16 + 16 + 4 + 1. Depth 8 has bands of 3, 3 and 2 levels,
        // depth 9 three full bands, depth 7 a last band of one level.
        {"37 trees of depth 8", {{{"max_depth", "8"}, {"tree_method", "hist"}}, 37, Label::regression, 0, 6, 4000},
         37, 0, 8},
        {"28 trees of depth 9, 5 % NaN",
         {{{"max_depth", "9"}, {"tree_method", "hist"}, {"max_bin", "512"}}, 28, Label::regression, 0.05, 8, 5000},
         28, 0, 9},
        {"12 trees of depth 7", {{{"max_depth", "7"}, {"tree_method", "hist"}}, 12, Label::regression, 0, 6, 4000},
         12, 0, 7},
        // The walks compiled for a fixed depth stop at depth 10: 10 and 11
        // on either side (forest.cpp's kMaxFixedDepth).
        {"multi:softprob, 3 classes x 5 rounds, depth 10",
         {{{"objective", "multi:softprob"}, {"num_class", "3"}, {"max_depth", "10"},
           {"tree_method", "hist"}, {"max_bin", "1024"}}, 5, Label::three, 0, 8, 6000}, 15, 0, 10},
        {"6 trees of depth 11",
         {{{"max_depth", "11"}, {"tree_method", "hist"}, {"max_bin", "1024"}}, 6,
          Label::regression, 0, 8, 6000}, 6, 0, 11},
        {"deep: 13 trees of depth 14, 20 % NaN",
         {{{"max_depth", "14"}, {"tree_method", "hist"}, {"max_bin", "1024"}}, 13,
          Label::regression, 0.2, 8, 6000}, 13, 0},
        {"roots that are leaves among splits (gamma 200, eta 1), 10 % NaN",
         {{{"max_depth", "4"}, {"eta", "1"}, {"gamma", "200"}}, 20, Label::regression, 0.1},
         20, 1},
        {"every root a leaf (gamma 1e9)", {{{"max_depth", "4"}, {"gamma", "1e9"}}, 11}, 11, 2},
        {"binary:logistic, 19 trees depth 6, 10 % NaN",
         {{{"objective", "binary:logistic"}, {"max_depth", "6"}, {"base_score", "0.3"}}, 19,
          Label::binary, 0.1}, 19, 0},
        {"multi:softprob, 3 classes x 7 rounds, 10 % NaN",
         {{{"objective", "multi:softprob"}, {"num_class", "3"}, {"max_depth", "5"}}, 7,
          Label::three, 0.1}, 21, 0},
        {"multi:softprob, 5 classes x 9 rounds, depth 8",
         {{{"objective", "multi:softprob"}, {"num_class", "5"}, {"max_depth", "8"},
           {"tree_method", "hist"}}, 9, Label::five, 0.05}, 45, 0},
        {"multi:softmax, 5 classes x 3 rounds x num_parallel_tree 3",
         {{{"objective", "multi:softmax"}, {"num_class", "5"}, {"max_depth", "4"},
           {"num_parallel_tree", "3"}, {"subsample", "0.7"}}, 3, Label::five, 0.1}, 45, 0},
    };
    const size_t counts[] = {1,  2,  3,  4,  5,  6,  7,  8,   9,   10,  11,   12,   13,  14,
                             15, 16, 17, 18, 19, 20, 63, 64,  65,  71,  1023, 1024, 1025, 2055};
    uint64_t seed = 801;
    for (const Case& c : cases) {
        SCOPED_TRACE(c.what);
        auto ubj = train(c.spec, seed);
        for (forest::Layout layout : layouts_of(ubj)) {
            SCOPED_TRACE(name(layout));
            auto compiled = compile(ubj, layout);
            ASSERT_TRUE(compiled.has_value()) << compiled.error().message;
            const forest::Forest& f = *compiled->f;
            ASSERT_EQ(f.num_trees, c.trees);
            if (c.depth != 0 && layout == forest::Layout::complete) {
                ASSERT_EQ(f.complete_depth, c.depth);
            }
            const auto [leaves, splits] = leaf_roots(f);
            switch (c.leaf_roots) {
                case 0: EXPECT_EQ(leaves, 0u); break;
                case 1: EXPECT_TRUE(leaves > 0 && splits > 0) << leaves << " roots are leaves"; break;
                case 2: EXPECT_EQ(splits, 0u); break;
            }
            auto booster = xgb::Booster::load(ubj.data(), ubj.size());
            ASSERT_TRUE(booster.has_value()) << booster.error().message;
            ASSERT_TRUE(booster->set_param("nthread", "1").has_value());
            const size_t pool = 2200, w = f.num_feature;
            const std::vector<float> rows = edge_rows(f, pool, seed * 7);
            // The same rows without NaN (the first row, all NaN, becomes all 0).
            std::vector<float> clean = rows;
            for (size_t i = 0; i < clean.size(); ++i)
                if (std::isnan(clean[i])) clean[i] = i < w ? 0.0f : clean[i - w];
            const std::vector<float>* pools[] = {&rows, &clean};
            for (const std::vector<float>* pool_rows : pools) {
                SCOPED_TRACE(pool_rows == &rows ? "rows with NaN" : "rows without NaN");
                std::mt19937_64 rng(seed);
                for (size_t n : counts) {
                    // From the first row (the rows of one value), and from two
                    // other places.
                    for (size_t at : {size_t{0}, static_cast<size_t>(rng() % (pool - n + 1)),
                                      static_cast<size_t>(rng() % (pool - n + 1))}) {
                        SCOPED_TRACE(std::to_string(n) + " rows from row " + std::to_string(at));
                        expect_same_call(f, *booster, pool_rows->data() + at * w, n);
                        if (HasFailure()) return;
                    }
                }
            }
            // One call whose first block of 1024 rows has no NaN and whose
            // second has, and the other way round.
            for (bool nan_first : {false, true}) {
                SCOPED_TRACE(nan_first ? "NaN in the first block only" : "NaN in the second block only");
                std::vector<float> mixed(2055 * w);
                const std::vector<float>& a = nan_first ? rows : clean;
                const std::vector<float>& b = nan_first ? clean : rows;
                std::copy(a.begin(), a.begin() + 1024 * w, mixed.begin());
                std::copy(b.begin() + 1024 * w, b.begin() + 2055 * w, mixed.begin() + 1024 * w);
                expect_same_call(f, *booster, mixed.data(), 2055);
            }
        }
        ++seed;
    }
}

// Compiled at one address, copied to another, the original destroyed: the
// copy scores exactly as before. This is what a reader mapping the block
// somewhere else will do.
TEST_F(ForestTest, PositionIndependent) {
    auto ubj = train({{{"objective", "multi:softprob"}, {"num_class", "3"}, {"max_depth", "6"}},
                      25, Label::three, 0.1}, 601);
    auto c = compile(ubj);
    ASSERT_TRUE(c.has_value()) << c.error().message;
    const forest::Forest& f = *c->f;
    const std::vector<float> rows = adversarial_rows(f, 2000, 602);
    std::vector<float> before(2000 * f.num_groups), after(before.size());
    forest::predict(f, rows.data(), 2000, before.data());

    const size_t size = f.size, groups = f.num_groups;
    std::vector<uint64_t> copy(c->mem.size() + 3);
    uint64_t* at = copy.data() + 3;
    std::memcpy(at, c->mem.data(), size);
    std::memset(c->mem.data(), 0xab, c->mem.size() * 8);
    ASSERT_EQ(groups, 3u);
    auto g = forest::open_forest(at, size);
    ASSERT_TRUE(g.has_value()) << g.error().message;
    forest::predict(**g, rows.data(), 2000, after.data());
    EXPECT_EQ(std::memcmp(before.data(), after.data(), before.size() * sizeof(float)), 0);
}

// The general layout takes 12 bytes a node; the complete one, blocks of
// three levels of the padded trees, 1152 bytes a tree of depth 6 (8 units
// for the first 7 splits, 8 blocks of 16 for the next 56 and 64 leaves),
// less than the general layout for XGBoost's near-complete depthwise
// trees, and is what the automatic choice then takes. Sparse deep trees
// keep the general layout.
TEST_F(ForestTest, LayoutSizes) {
    auto ubj = train({{{"max_depth", "6"}, {"tree_method", "hist"}}, 25}, 701);
    auto general = compile(ubj, forest::Layout::general);
    auto complete = compile(ubj, forest::Layout::complete);
    auto chosen = compile(ubj);
    ASSERT_TRUE(general.has_value() && complete.has_value() && chosen.has_value());
    const forest::Forest& g = *general->f;
    const forest::Forest& c = *complete->f;
    EXPECT_EQ(sizeof(forest::Node), 12u);
    EXPECT_EQ(g.size, sizeof(forest::Forest) + 16 * g.num_trees + 12 * g.num_nodes +
                          (12 * g.num_nodes) % 8 / 4 * 4);
    EXPECT_EQ(c.complete_depth, 6u);
    EXPECT_EQ(forest::complete_tree_units(6), 144u);
    EXPECT_EQ(c.size, (sizeof(forest::Forest) + 16 * c.num_trees + 63) / 64 * 64 + c.num_trees * 1152u);
    EXPECT_EQ(c.num_nodes, g.num_nodes);
    EXPECT_LE(c.size, g.size);
    EXPECT_EQ(chosen->f->complete_depth, 6u);
    std::printf("  25 trees depth 6: %llu nodes, %llu bytes general, %llu complete, %zu bytes UBJSON\n",
                static_cast<unsigned long long>(g.num_nodes), static_cast<unsigned long long>(g.size),
                static_cast<unsigned long long>(c.size), ubj.size());
    // A few deep trees with few leaves: padding them would take more.
    auto sparse = train({{{"max_depth", "14"}, {"tree_method", "hist"}, {"max_bin", "1024"}}, 13,
                         Label::regression, 0.2, 8, 6000}, 702);
    auto s = compile(sparse);
    auto s_general = compile(sparse, forest::Layout::general);
    ASSERT_TRUE(s.has_value() && s_general.has_value());
    EXPECT_EQ(s->f->complete_depth, 0u);
    EXPECT_EQ(s->f->size, s_general->f->size);
}

// The complete layout's geometry (forest.hpp) at every depth it takes:
// every split and leaf position has a unit of its own inside the tree;
// each block of three levels above the last band sits in one 64-byte
// line; and the walk's step (complete_step), from the root down any path,
// reaches exactly the unit complete_unit gives each node on it, trees of
// a tile included (offsets of whole trees).
TEST(ForestLayout, CompleteBlocksAndSteps) {
    for (uint32_t d = 1; d <= forest::kMaxCompleteDepth; ++d) {
        SCOPED_TRACE("depth " + std::to_string(d));
        const uint64_t units = forest::complete_tree_units(d);
        ASSERT_EQ(units % 16, 0u);
        if (d <= 14) {
            std::vector<uint8_t> used(units, 0);
            for (uint32_t level = 0; level <= d; ++level)
                for (uint64_t q = 0; q < (uint64_t{1} << level); ++q) {
                    const uint64_t u = forest::complete_unit(d, level, q);
                    ASSERT_LT(u, units);
                    ASSERT_EQ(used[u], 0) << "level " << level << ", position " << q;
                    used[u] = 1;
                    if (level / 3 + 1 < forest::complete_bands(d)) {
                        // same line as the block's first split
                        const uint64_t top = forest::complete_unit(d, level / 3 * 3, q >> (level % 3));
                        ASSERT_EQ(u / 8, top / 8);
                    }
                }
        }
        // Paths: all of them up to depth 12, then 4096 pseudo-random ones.
        const uint64_t paths = d <= 12 ? (uint64_t{1} << d) : 4096;
        std::mt19937_64 rng(d);
        for (uint64_t p = 0; p < paths; ++p) {
            const uint64_t bits = d <= 12 ? p : rng();
            for (uint64_t tree_offset : {uint64_t{0}, 3 * units}) {
                uint64_t at = tree_offset, q = 0;
                for (uint32_t level = 0; level < d; ++level) {
                    ASSERT_EQ(at - tree_offset, forest::complete_unit(d, level, q));
                    const uint32_t right = (bits >> level) & 1;
                    const forest::CompleteStep s = forest::complete_step(d, level);
                    at = s.mul * (at + (at & s.mask) + right) + s.add - (s.mul - 1) * tree_offset;
                    q = 2 * q + right;
                }
                ASSERT_EQ(at - tree_offset, forest::complete_unit(d, d, q));
            }
        }
    }
}

}  // namespace
}  // namespace pgml::unit
