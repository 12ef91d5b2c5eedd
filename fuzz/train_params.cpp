// Fuzz target: hyperparameters and search settings as the SQL layer hands
// them to the core (sqlapi/hyperparams.cpp and search_args.cpp decode the
// jsonb with Postgres' own functions, which cannot be linked here; what
// they produce is strings, decoded here from the fuzz bytes):
//  - search::check, then for what it accepts search::candidates (bounded,
//    every index in range), params_of and the report, which must be JSON
//    that json::parse reads;
//  - pgml::train's validation of n_estimators, nthread and the search, on
//    a data set without rows, so it ends in an error before XGBoost trains;
//  - classifier_classes and model_targets on configuration text.
#include <string>
#include <vector>

#include "common.hpp"
#include "core/json.hpp"
#include "core/search.hpp"
#include "core/train.hpp"

using namespace pgml;

namespace {

const char* const kKeys[] = {"n_estimators", "nthread", "max_depth", "eta", "booster", "objective",
                             "num_class", "tree_method", "max_bin", "subsample"};
const char* const kValues[] = {"1", "0", "-1", "25", "1000000", "1000001", "2147483648", "99999999999999999999",
                               "0x10", " 5", "5 ", "1e3", "", "nan", "gblinear", "hist", "16", "17", "-0"};

std::string text(fuzz::Bytes& in, const char* const* pool, size_t n) {
    return in.below(4) ? pool[in.below(static_cast<uint32_t>(n))] : in.str(12);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Bytes in(data, size);
    TrainSpec spec;
    const uint32_t nparams = in.below(5);
    for (uint32_t i = 0; i < nparams; ++i)
        spec.params.emplace_back(text(in, kKeys, 10), text(in, kValues, sizeof kValues / sizeof kValues[0]));
    search::Options& o = spec.search;
    o.kind = static_cast<search::Kind>(in.below(3));
    const uint32_t naxes = in.below(24);
    for (uint32_t a = 0; a < naxes; ++a) {
        search::Axis axis;
        axis.name = text(in, kKeys, 10);
        const uint32_t nvalues = in.below(8);
        for (uint32_t v = 0; v < nvalues; ++v) {
            std::string value = text(in, kValues, sizeof kValues / sizeof kValues[0]);
            std::string j;
            json::write_string(j, value);  // as search_args.cpp's json_text writes a string
            axis.values.push_back(std::move(value));
            axis.json.push_back(std::move(j));
        }
        o.axes.push_back(std::move(axis));
    }
    o.n_iter = in.flag() ? in.u64() : in.below(40);
    o.cv = in.flag() ? in.u64() : in.below(12);
    spec.seed = in.u64();

    std::vector<std::string> fixed;
    for (const auto& kv : spec.params) fixed.push_back(kv.first);
    if (search::check(o, fixed) && o.kind != search::Kind::none) {
        const auto c = search::candidates(o, spec.seed);
        FUZZ_CHECK(!c.empty() && c.size() <= search::kMaxCandidates, "%zu candidates", c.size());
        if (o.kind == search::Kind::random) FUZZ_CHECK(c.size() <= o.n_iter, "more candidates than n_iter");
        for (const auto& cand : c) {
            FUZZ_CHECK(cand.size() == o.axes.size(), "a candidate of the wrong length");
            for (size_t a = 0; a < cand.size(); ++a)
                FUZZ_CHECK(cand[a] < o.axes[a].values.size(), "a value index out of range");
            (void)search::params_of(o, cand);
        }
        if (c.size() <= 64) {
            search::Scores s;
            for (auto* m : {&s.score, &s.fit_time, &s.score_time}) {
                m->assign(c.size(), std::vector<double>(o.cv, NAN));
                for (auto& row : *m)
                    for (double& x : row)
                        if (in.flag()) x = in.f64();
            }
            const size_t best = search::best(s);
            FUZZ_CHECK(best < c.size(), "best out of range");
            const std::string report = search::report(o, c, s, best);
            auto parsed = json::parse(report);
            FUZZ_CHECK(parsed.has_value(), "the search report is not JSON: %s\n%s",
                       parsed.error().message.c_str(), report.c_str());
        }
    }

    // The training driver's own checks, on no rows: whatever the settings,
    // an error, never XGBoost (there is nothing to train on).
    spec.task = in.flag() ? Task::classification : Task::regression;
    Dataset empty(1 + in.below(4));
    auto r = train(empty, spec, [](Phase, size_t, size_t) -> Result<void> { return {}; });
    FUZZ_CHECK(!r.has_value(), "train succeeded without rows");
    FUZZ_CHECK(!r.error().message.empty(), "an error without a message");

    // XGBoost's configuration text, as inspect_model and Model::load read it.
    const std::string config(in.rest());
    (void)classifier_classes(config);
    (void)model_targets(config);
    return 0;
}
