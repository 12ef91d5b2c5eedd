// Fuzz target: the bytes of pgml.import_model (and of every model load).
// They reach XGBoost only through ubjson::check_model; whatever it accepts
// must then load and predict in XGBoost without crashing, go through
// import's inspect_model, compile into a forest (or be refused cleanly),
// and where the worker would serve the forest (Model::use_forest accepted
// it after its probe rows) the forest must answer exactly XGBoost's bits
// on further rows too.
#include <algorithm>
#include <cfloat>
#include <vector>

#include "common.hpp"
#include "core/forest.hpp"
#include "core/forest_probe.hpp"
#include "core/inspect.hpp"
#include "core/model.hpp"
#include "core/ubjson.hpp"
#include "core/xgb.hpp"

using namespace pgml;

namespace {

// Rows scored here: no model the forest takes is wider (forest.cpp's
// kMaxFeatures); wider ones are scored by XGBoost only up to this width.
constexpr uint64_t kMaxWidth = 65536;

uint64_t hash(const uint8_t* p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

// Compiles in one layout, opens the block as another process would, and
// scores rows: no crash, and the same bits as the automatic layout.
void try_layout(const ubjson::Document& doc, forest::Layout layout, size_t general_size,
                const std::vector<float>& rows, size_t n, const std::vector<float>* expected) {
    auto size = forest::forest_size(doc, layout);
    if (!size) return;
    // A forced complete layout of a sparse deep tree can be far larger than
    // the model; the automatic choice never takes it then.
    if (*size > 4 * general_size + (1u << 20)) return;
    std::vector<uint64_t> mem((*size + 7) / 8);
    auto f = forest::compile_forest(doc, mem.data(), *size, layout);
    FUZZ_CHECK(f.has_value(), "forest_size accepted but compile_forest refused: %s", f.error().message.c_str());
    auto g = forest::open_forest(mem.data(), *size);
    FUZZ_CHECK(g.has_value(), "open_forest refused a block compile_forest built: %s", g.error().message.c_str());
    std::vector<float> out(n * (*g)->num_groups);
    forest::predict_margin(**g, rows.data(), n, out.data());
    if (expected)
        FUZZ_CHECK(fuzz::same_bits(out.data(), expected->data(), out.size()),
                   "the layouts' margins differ");
    forest::predict(**g, rows.data(), n, out.data());
}

// How far inputs got, printed at exit when FUZZ_STATS is set (to see
// what a corpus exercises: scripts/fuzz.sh does not need it).
struct Reached {
    size_t inputs = 0, accepted = 0, loaded = 0, compiled = 0, served = 0;
    ~Reached() {
        if (std::getenv("FUZZ_STATS"))
            std::fprintf(stderr, "model_import: %zu inputs, %zu accepted by check_model, %zu loaded by XGBoost, "
                         "%zu compiled into a forest, %zu served by the forest (compared with XGBoost)\n",
                         inputs, accepted, loaded, compiled, served);
    }
} reached;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    xgb::use_one_thread_here();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ++reached.inputs;
    // The checker first, as every load path calls it.
    if (!ubjson::check_model(data, size)) {
        // Refused bytes must never reach XGBoost. Booster::load calls
        // check_model itself before XGBoost sees the bytes, so today this
        // holds by construction and tests nothing more. It stays as a cheap
        // guard on load's own call: were it dropped, refused bytes that
        // XGBoost accepts would fail here (and any it crashes on, under the
        // sanitizers).
        FUZZ_CHECK(!xgb::Booster::load(data, size).has_value(), "Booster::load accepted what check_model refused");
        return 0;
    }
    // Accepted: XGBoost must load and predict it without crashing (it may
    // still refuse it with an error of its own).
    ++reached.accepted;
    auto booster = xgb::Booster::load(data, size);
    if (!booster) return 0;
    ++reached.loaded;
    (void)booster->set_param("nthread", "1");
    (void)booster->json_config();
    (void)booster->boosted_rounds();
    auto nf = booster->num_features();
    if (!nf) return 0;
    // pgml.import_model's own checks, as a regression or a classifier
    // (one of the two per input: each loads the model again).
    (void)inspect_model(data, size, (hash(data, size) & 1) != 0);

    const size_t width = static_cast<size_t>(std::min<uint64_t>(*nf, kMaxWidth));
    if (width == 0 || *nf > kMaxWidth) return 0;

    // Rows: the forest's probe rows under another seed when the model
    // compiles, else special values and a few of the input's own bytes.
    auto doc = ubjson::Document::parse(data, size);
    FUZZ_CHECK(doc.has_value(), "check_model accepted what Document::parse refuses");
    auto fsize = forest::forest_size(*doc);
    std::vector<uint64_t> mem;
    const forest::Forest* f = nullptr;
    if (fsize) {
        mem.resize((*fsize + 7) / 8);
        auto c = forest::compile_forest(*doc, mem.data(), *fsize);
        FUZZ_CHECK(c.has_value(), "forest_size accepted but compile_forest refused: %s", c.error().message.c_str());
        auto o = forest::open_forest(mem.data(), *fsize);
        FUZZ_CHECK(o.has_value(), "open_forest refused a block compile_forest built: %s", o.error().message.c_str());
        f = *o;
        ++reached.compiled;
    }
    const size_t n = std::clamp<size_t>((1u << 20) / (sizeof(float) * width), 1, 24);
    std::vector<float> rows;
    if (f && f->num_feature == width) {
        rows = forest::probe_rows(*f, n, hash(data, size));
    } else {
        static const float specials[] = {NAN, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 0.0f, -0.0f, 1.0f, -1.0f};
        rows.resize(n * width);
        const uint64_t h = hash(data, size);
        for (size_t i = 0; i < rows.size(); ++i) rows[i] = specials[(h >> (i % 50)) % 9];
    }
    // XGBoost must survive scoring whatever the checker let through.
    (void)booster->predict_dense(rows.data(), n, width);
    (void)booster->predict_margin_dense(rows.data(), n, width);
    if (!f) return 0;

    // Both layouts where they fit, the same margins as the automatic one.
    std::vector<float> margins(n * f->num_groups);
    forest::predict_margin(*f, rows.data(), n, margins.data());
    try_layout(*doc, forest::Layout::general, *fsize, rows, n, &margins);
    try_layout(*doc, forest::Layout::complete, *fsize, rows, n, &margins);

    // The worker's way: Model::load, then use_forest, which keeps the
    // forest only if it matched XGBoost on the probe rows. A forest it
    // keeps must match XGBoost on these rows too, margins and values.
    auto model = Model::load(data, size, Task::regression, {});
    if (!model || !model->use_forest(data, size)) return 0;
    const forest::Forest* used = model->compiled();
    ++reached.served;
    FUZZ_CHECK(used != nullptr, "use_forest succeeded without a forest");
    std::vector<float> ours(n * used->num_groups);
    forest::predict_margin(*used, rows.data(), n, ours.data());
    auto theirs = booster->predict_margin_dense(rows.data(), n, width);
    FUZZ_CHECK(theirs && theirs->count == ours.size() && fuzz::same_bits(ours.data(), theirs->values, ours.size()),
               "a forest in use differs from XGBoost's margins");
    forest::predict(*used, rows.data(), n, ours.data());
    auto values = booster->predict_dense(rows.data(), n, width);
    const size_t k = used->outputs_per_row();
    FUZZ_CHECK(values && values->count == n * k && fuzz::same_bits(ours.data(), values->values, n * k),
               "a forest in use differs from XGBoost's values");
    return 0;
}
