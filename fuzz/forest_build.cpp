// Fuzz target: the compiled-forest builder (core/forest.hpp) on models
// decoded from the fuzz bytes: trees grown split by split as XGBoost
// numbers them (children after their parent, right = left + 1), split
// features, thresholds, default directions, leaf values, output groups,
// objective and base_score chosen by the bytes, written as XGBoost 1.7's
// UBJSON. Whatever the checker accepts and the builder compiles, in either
// layout, must open (open_forest), and score rows exactly as
//  - a naive walk of the same trees (this file: base margin plus each
//    tree's leaf in tree order, in float), for the margins, and
//  - XGBoost itself, loaded from the same bytes (margins and values).
// And the compiled block with a few bits flipped must be refused by
// open_forest or score without reading outside it.
// Rows mix the trees' exact thresholds, their float neighbours, NaN, ±Inf
// and raw values from the input.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "common.hpp"
#include "core/forest.hpp"
#include "core/ubjson.hpp"
#include "core/xgb.hpp"

using namespace pgml;

namespace {

struct TreeSpec {
    std::vector<int32_t> left, right, parent, feature;
    std::vector<float> cond;
    std::vector<uint8_t> default_left;
    int group = 0;
};

struct ModelSpec {
    uint32_t num_feature = 1;
    std::string objective = "reg:squarederror";
    uint32_t num_class = 0;   // multi:*: classes; else 0
    uint32_t num_target = 1;  // several: joint regression
    std::string base_score = "5E-1";
    std::vector<TreeSpec> trees;
};

const char* const kObjectives[] = {"reg:squarederror", "binary:logistic", "multi:softprob", "multi:softmax",
                                   "reg:logistic",     "binary:logitraw", "reg:pseudohubererror",
                                   "reg:squaredlogerror", "reg:absoluteerror", "count:poisson"};
// base_score as XGBoost writes it, and spellings it never writes (strtof
// and XGBoost's own reader must agree on each, or refuse).
const char* const kBaseScores[] = {"5E-1", "0.5",   "1E0",  "-3.25E2", "2.5E-1", "1E-45", "9.9999994E-1",
                                   "0x1p-1", " 0.5", "5E-1 ", "+0.5",  "1e-50",  "inf",   "nan",
                                   "3.4028235E38", "3.5E38", ".5",  "5.",    "0",     "-0"};

float threshold(fuzz::Bytes& in) {
    static const float pool[] = {0.0f, -0.0f, 0.5f, -0.5f, 1.0f, -1.0f, 1e30f, -1e30f, FLT_MAX, -FLT_MAX,
                                 FLT_MIN, FLT_TRUE_MIN, -FLT_TRUE_MIN, 3.0f, 100.0f, 1e-7f};
    const uint8_t pick = in.u8();
    if (pick < 128) return pool[pick % (sizeof pool / sizeof pool[0])];
    const float f = in.f32();
    return std::isfinite(f) ? f : 2.0f;
}

float leaf(fuzz::Bytes& in) {
    const uint8_t pick = in.u8();
    if (pick < 64) return static_cast<float>(static_cast<int8_t>(in.u8())) / 16.0f;
    const float f = in.f32();
    // Non-finite values now and then: the checker must refuse them.
    if (!std::isfinite(f) && pick != 255) return 0.25f;
    return f;
}

TreeSpec grow(fuzz::Bytes& in, const ModelSpec& m, uint32_t groups) {
    TreeSpec t;
    auto add_leaf = [&](int32_t parent) {
        t.left.push_back(-1);
        t.right.push_back(-1);
        t.parent.push_back(parent);
        t.feature.push_back(0);
        t.cond.push_back(leaf(in));
        t.default_left.push_back(0);
    };
    add_leaf(0x7fffffff);  // XGBoost saves the root's parent masked to 31 bits
    const uint32_t splits = in.u8() % 48;
    for (uint32_t s = 0; s < splits && in.left() > 0; ++s) {
        // Split a leaf: its children become the next two nodes.
        std::vector<int32_t> leaves;
        for (size_t i = 0; i < t.left.size(); ++i)
            if (t.left[i] == -1) leaves.push_back(static_cast<int32_t>(i));
        const int32_t at = leaves[in.below(static_cast<uint32_t>(leaves.size()))];
        const int32_t l = static_cast<int32_t>(t.left.size());
        t.left[at] = l;
        t.right[at] = l + 1;
        t.feature[at] = static_cast<int32_t>(in.below(m.num_feature));
        t.cond[at] = threshold(in);
        t.default_left[at] = in.flag();
        add_leaf(at);
        add_leaf(at);
    }
    t.group = static_cast<int>(in.below(groups));
    return t;
}

ModelSpec decode(fuzz::Bytes& in) {
    ModelSpec m;
    m.num_feature = 1 + in.below(12);
    m.objective = kObjectives[in.below(sizeof kObjectives / sizeof kObjectives[0])];
    if (m.objective.rfind("multi:", 0) == 0) m.num_class = 2 + in.below(4);
    else if (m.objective == "reg:squarederror" && in.below(4) == 0) m.num_target = 2 + in.below(3);
    m.base_score = in.below(4) ? std::string("5E-1") : kBaseScores[in.below(sizeof kBaseScores / sizeof kBaseScores[0])];
    if (in.below(8) == 0) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(in.f32()));
        m.base_score = buf;
    }
    const uint32_t groups = std::max(m.num_class, m.num_target);
    const uint32_t num_trees = in.below(12);
    for (uint32_t i = 0; i < num_trees; ++i) m.trees.push_back(grow(in, m, groups));
    return m;
}

std::vector<uint8_t> write(const ModelSpec& m) {
    fuzz::Ubj w;
    const std::string nf = std::to_string(m.num_feature);
    w.begin_object();
    w.begin_object("learner");
    w.begin_object("attributes");
    w.end_object();
    w.empty_array("feature_names");
    w.empty_array("feature_types");
    w.begin_object("gradient_booster");
    w.begin_object("model");
    w.begin_object("gbtree_model_param");
    w.member("num_parallel_tree", "1");
    w.member("num_trees", std::to_string(m.trees.size()));
    w.member("size_leaf_vector", "0");
    w.end_object();
    std::vector<int> info;
    for (const TreeSpec& t : m.trees) info.push_back(t.group);
    w.int8_array("tree_info", info);
    w.key("trees");
    w.raw('[');
    for (size_t i = 0; i < m.trees.size(); ++i) {
        const TreeSpec& t = m.trees[i];
        const size_t n = t.left.size();
        w.raw('{');
        w.typed_f32("base_weights", t.cond);
        w.typed_i32("categories", {});
        w.typed_i32("categories_nodes", {});
        w.typed_i64("categories_segments", {});
        w.typed_i64("categories_sizes", {});
        w.typed_u8("default_left", t.default_left);
        w.key("id");
        w.raw('l');
        w.be(static_cast<uint32_t>(i), 4);
        w.typed_i32("left_children", t.left);
        w.typed_f32("loss_changes", std::vector<float>(n, 0.0f));
        w.typed_i32("parents", t.parent);
        w.typed_i32("right_children", t.right);
        w.typed_f32("split_conditions", t.cond);
        w.typed_i32("split_indices", t.feature);
        w.typed_u8("split_type", std::vector<uint8_t>(n, 0));
        w.typed_f32("sum_hessian", std::vector<float>(n, 1.0f));
        w.begin_object("tree_param");
        w.member("num_deleted", "0");
        w.member("num_feature", nf);
        w.member("num_nodes", std::to_string(n));
        w.member("size_leaf_vector", "0");
        w.end_object();
        w.raw('}');
    }
    w.raw(']');
    w.end_object();  // model
    w.member("name", "gbtree");
    w.end_object();  // gradient_booster
    w.begin_object("learner_model_param");
    w.member("base_score", m.base_score);
    w.member("boost_from_average", "1");
    w.member("num_class", std::to_string(m.num_class));
    w.member("num_feature", nf);
    w.member("num_target", std::to_string(m.num_target));
    w.end_object();
    w.begin_object("objective");
    w.member("name", m.objective);
    if (m.num_class) {
        w.begin_object("softmax_multiclass_param");
        w.member("num_class", std::to_string(m.num_class));
        w.end_object();
    } else if (m.objective == "reg:pseudohubererror") {
        w.begin_object("pseudo_huber_param");
        w.member("huber_slope", "1");
        w.end_object();
    } else if (m.objective == "count:poisson") {
        w.begin_object("poisson_regression_param");
        w.member("max_delta_step", "0.7");
        w.end_object();
    } else if (m.objective != "reg:absoluteerror") {
        w.begin_object("reg_loss_param");
        w.member("scale_pos_weight", "1");
        w.end_object();
    }
    w.end_object();  // objective
    w.end_object();  // learner
    w.int8_array("version", {1, 7, 4});
    w.end_object();
    return w.bytes;
}

// The naive walk: XGBoost's rule for a numerical split (predict_fn.h):
// missing goes the default way, else left when value < threshold.
float walk(const TreeSpec& t, const float* row) {
    int32_t i = 0;
    while (t.left[i] != -1) {
        const float v = row[t.feature[i]];
        if (std::isnan(v)) i = t.default_left[i] ? t.left[i] : t.right[i];
        else i = v < t.cond[i] ? t.left[i] : t.right[i];
    }
    return t.cond[i];
}

std::vector<float> make_rows(fuzz::Bytes& in, const ModelSpec& m, size_t n) {
    std::vector<std::vector<float>> cuts(m.num_feature);
    for (const TreeSpec& t : m.trees)
        for (size_t i = 0; i < t.left.size(); ++i)
            if (t.left[i] != -1) cuts[t.feature[i]].push_back(t.cond[i]);
    std::vector<float> rows(n * m.num_feature);
    for (size_t r = 0; r < n; ++r)
        for (uint32_t j = 0; j < m.num_feature; ++j) {
            float& v = rows[r * m.num_feature + j];
            const uint8_t pick = in.u8() % 8;
            const float t = cuts[j].empty() ? 0.0f : cuts[j][in.below(static_cast<uint32_t>(cuts[j].size()))];
            switch (pick) {
                case 0: v = NAN; break;
                case 1: case 2: v = t; break;
                case 3: v = std::nextafterf(t, -INFINITY); break;
                case 4: v = std::nextafterf(t, INFINITY); break;
                case 5: v = in.flag() ? INFINITY : -INFINITY; break;
                case 6: v = in.f32(); break;
                default: v = static_cast<float>(static_cast<int8_t>(in.u8())) / 8.0f;
            }
        }
    return rows;
}

std::string show(const float* v, size_t n) {
    std::string s;
    for (size_t i = 0; i < n && i < 16; ++i) {
        char b[48];
        std::snprintf(b, sizeof b, "%s%.9g", i ? " " : "", static_cast<double>(v[i]));
        s += b;
    }
    return s;
}

// How far inputs got, printed at exit when FUZZ_STATS is set.
struct Reached {
    size_t inputs = 0, accepted = 0, compiled = 0;
    ~Reached() {
        if (std::getenv("FUZZ_STATS"))
            std::fprintf(stderr, "forest_build: %zu inputs, %zu accepted by check_model, %zu forests compiled (every layout) and compared "
                         "with the naive walk and XGBoost\n", inputs, accepted, compiled);
    }
} reached;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    xgb::use_one_thread_here();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ++reached.inputs;
    fuzz::Bytes in(data, size);
    const ModelSpec m = decode(in);
    const std::vector<uint8_t> ubj = write(m);
    auto checked = ubjson::check_model(ubj.data(), ubj.size());
    bool finite = true;
    for (const TreeSpec& t : m.trees)
        for (float c : t.cond) finite = finite && std::isfinite(c);
    // Every tree written here is one XGBoost could have saved, unless a
    // value is not finite: the checker must take exactly those.
    FUZZ_CHECK(checked.has_value() == finite, "check_model %s a %s model: %s", checked ? "accepted" : "refused",
               finite ? "well-formed" : "non-finite", checked ? "" : checked.error().message.c_str());
    if (!checked) return 0;
    ++reached.accepted;
    auto doc = ubjson::Document::parse(ubj.data(), ubj.size());
    FUZZ_CHECK(doc.has_value(), "Document::parse refused what check_model accepted");

    const size_t n = 1 + in.below(20);  // fewer than 8 rows and more: both scoring paths
    const std::vector<float> rows = make_rows(in, m, n);
    const uint32_t groups = std::max({m.num_class, m.num_target, 1u});

    // The naive margins: base margin, then each tree's leaf, in tree order.
    // Only where the base margin is base_score itself (no sigmoid).
    const bool plain_base = m.objective != "binary:logistic" && m.objective != "reg:logistic";

    auto booster = xgb::Booster::load(ubj.data(), ubj.size());
    if (booster) (void)booster->set_param("nthread", "1");

    for (forest::Layout layout : {forest::Layout::automatic, forest::Layout::general, forest::Layout::complete}) {
        auto fsize = forest::forest_size(*doc, layout);
        if (!fsize) continue;
        if (*fsize > (64u << 20)) continue;  // a forced complete layout of a deep chain
        std::vector<uint64_t> mem((*fsize + 7) / 8);
        auto c = forest::compile_forest(*doc, mem.data(), *fsize, layout);
        FUZZ_CHECK(c.has_value(), "forest_size accepted, compile_forest refused: %s", c.error().message.c_str());
        // A copy elsewhere, as another process maps it, opens and scores.
        std::vector<uint64_t> copy(mem);
        auto o = forest::open_forest(copy.data(), *fsize);
        FUZZ_CHECK(o.has_value(), "open_forest refused a compiled block: %s", o.error().message.c_str());
        // The same block with a few bytes changed (a stray write into the
        // shared region): open_forest refuses it, or it scores inside the
        // block and ends (ASan watches the reads; -timeout the walks).
        {
            std::vector<uint64_t> bad(mem);
            auto* b = reinterpret_cast<uint8_t*>(bad.data());
            const uint32_t changes = 1 + in.below(3);
            for (uint32_t i = 0; i < changes; ++i) b[in.below(static_cast<uint32_t>(*fsize))] ^= 1u << in.below(8);
            if (auto g = forest::open_forest(bad.data(), *fsize)) {
                const size_t width = (*g)->num_feature, outs = (*g)->num_groups;
                if (width <= 64 && outs <= 64) {
                    std::vector<float> r(width * 9, 0.5f), out(9 * outs);
                    for (size_t i = 0; i < r.size(); i += 3) r[i] = NAN;
                    forest::predict(**g, r.data(), 9, out.data());
                    forest::predict(**g, r.data(), 1, out.data());
                }
            }
        }
        const forest::Forest& f = **o;
        ++reached.compiled;
        FUZZ_CHECK(f.num_groups == groups && f.num_feature == m.num_feature && f.num_trees == m.trees.size(),
                   "the forest's header does not match the model");

        std::vector<float> margins(n * groups), values(n * groups);
        forest::predict_margin(f, rows.data(), n, margins.data());
        forest::predict(f, rows.data(), n, values.data());
        // Scoring one row at a time gives the same bits as the batch.
        for (size_t r = 0; r < n; ++r) {
            std::vector<float> one(groups);
            forest::predict_margin(f, rows.data() + r * m.num_feature, 1, one.data());
            FUZZ_CHECK(fuzz::same_bits(one.data(), margins.data() + r * groups, groups), "row %zu alone differs", r);
        }
        if (plain_base) {
            std::vector<float> naive(n * groups, f.base_margin);
            for (size_t r = 0; r < n; ++r)
                for (const TreeSpec& t : m.trees) naive[r * groups + t.group] += walk(t, rows.data() + r * m.num_feature);
            FUZZ_CHECK(fuzz::same_bits(naive.data(), margins.data(), naive.size()),
                       "forest margins differ from the naive walk\n forest %s\n naive  %s",
                       show(margins.data(), margins.size()).c_str(), show(naive.data(), naive.size()).c_str());
        }
        // XGBoost on the same bytes: a forest the builder compiles must
        // be XGBoost's bits (forest.hpp's promise; the worker's probe rows
        // are only its second line of defence).
        FUZZ_CHECK(booster.has_value(), "the forest compiled a model XGBoost refuses: %s",
                   booster.error().message.c_str());
        auto theirs = booster->predict_margin_dense(rows.data(), n, m.num_feature);
        FUZZ_CHECK(theirs && theirs->count == margins.size() && fuzz::same_bits(margins.data(), theirs->values, margins.size()),
                   "forest margins differ from XGBoost's (base_score %s, objective %s)\n forest  %s\n xgboost %s",
                   m.base_score.c_str(), m.objective.c_str(), show(margins.data(), margins.size()).c_str(),
                   theirs ? show(theirs->values, theirs->count).c_str() : theirs.error().message.c_str());
        auto v = booster->predict_dense(rows.data(), n, m.num_feature);
        const size_t k = n * f.outputs_per_row();
        FUZZ_CHECK(v && v->count == k && fuzz::same_bits(values.data(), v->values, k),
                   "forest values differ from XGBoost's (base_score %s, objective %s)\n forest  %s\n xgboost %s",
                   m.base_score.c_str(), m.objective.c_str(), show(values.data(), k).c_str(),
                   v ? show(v->values, v->count).c_str() : v.error().message.c_str());
    }
    return 0;
}
