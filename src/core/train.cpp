#include "core/train.hpp"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <new>
#include <thread>

#include "core/search.hpp"
#include "core/xgb.hpp"

namespace pgml {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

constexpr size_t kBatchRows = 65536;
constexpr int kDefaultRounds = 100;   // XGBoost's scikit-learn default
constexpr size_t kMaxClasses = 1000;  // beyond this a "class" is surely a value

const std::string* find_param(const Params& p, const char* key) {
    const std::string* found = nullptr;
    for (const auto& [k, v] : p)
        if (k == key) found = &v;  // the last one wins, as in XGBoost
    return found;
}

Result<int> rounds_of(const Params& p) {
    const std::string* v = find_param(p, "n_estimators");
    if (!v) return kDefaultRounds;
    char* end = nullptr;
    long n = std::strtol(v->c_str(), &end, 10);
    if (end == v->c_str() || *end != '\0' || n < 1 || n > 1000000)
        return fail(sqlstate::invalid_parameter,
                    "hyperparameter \"n_estimators\" must be an integer between 1 and 1000000",
                    {}, "Given: " + *v + ".");
    return static_cast<int>(n);
}

// XGBoost starts nthread OpenMP threads per training call and crashes when
// it cannot create them (seen: 100000); more than a few per CPU only adds
// contention.
Result<void> check_threads(const Params& p) {
    const std::string* v = find_param(p, "nthread");
    if (!v) return {};
    const long most = std::max(16L, 4L * static_cast<long>(std::thread::hardware_concurrency()));
    char* end = nullptr;
    long n = std::strtol(v->c_str(), &end, 10);
    if (end == v->c_str() || *end != '\0' || n < 0 || n > most)
        return fail(sqlstate::invalid_parameter,
                    "hyperparameter \"nthread\" must be an integer between 0 and " + std::to_string(most),
                    "0 uses every CPU.", "Given: " + *v + ".");
    return {};
}

// Maps the label values of a classification data set to class indices
// 0..k-1 in ascending order of value, and returns the values.
Result<std::vector<double>> index_classes(Dataset& d) {
    std::vector<float> values;
    values.reserve(d.rows());
    for (size_t i = 0; i < d.rows(); ++i) values.push_back(d.label(i));
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    if (values.size() < 2)
        return fail(sqlstate::data_exception,
                    "classification needs at least two classes, the label has " +
                        std::to_string(values.size()),
                    "Use task => 'regression' for a continuous label.");
    if (values.size() > kMaxClasses)
        return fail(sqlstate::data_exception,
                    "the label has " + std::to_string(values.size()) +
                        " distinct values, more than the " + std::to_string(kMaxClasses) +
                        " classes classification supports",
                    "Use task => 'regression' for a continuous label.");
    for (size_t i = 0; i < d.rows(); ++i) {
        auto it = std::lower_bound(values.begin(), values.end(), d.label(i));
        d.set_label(i, static_cast<float>(it - values.begin()));
    }
    return std::vector<double>(values.begin(), values.end());
}

// Feeds the training rows to XGBoost batch by batch through its data
// iterator, so that QuantileDMatrix builds its compact histogram index from
// our chunks directly instead of from a second full float copy.
class TrainBatches {
public:
    TrainBatches(const Dataset& d, const Split& s, DMatrixHandle proxy)
        : d_(d), s_(s), proxy_(proxy),
          x_(std::min(kBatchRows, s.train_rows()) * d.cols()),
          y_(std::min(kBatchRows, s.train_rows()) * d.targets()) {}

    static void reset(DataIterHandle self) { static_cast<TrainBatches*>(self)->pos_ = 0; }

    // Called by XGBoost: 1 when a batch was handed over, 0 at the end.
    static int next(DataIterHandle self) {
        auto* it = static_cast<TrainBatches*>(self);
        size_t n = std::min(kBatchRows, it->s_.train_rows() - it->pos_);
        if (n == 0) return 0;
        gather(it->d_, [&](size_t i) { return it->s_.train_index(i); }, it->pos_, n,
               it->x_.data(), it->y_.data());
        char ai[160];
        std::snprintf(ai, sizeof ai,
                      "{\"data\":[%" PRIuPTR ",true],\"shape\":[%zu,%zu],"
                      "\"typestr\":\"<f4\",\"version\":3}",
                      reinterpret_cast<uintptr_t>(it->x_.data()), n, it->d_.cols());
        if (XGProxyDMatrixSetDataDense(it->proxy_, ai) != 0 ||
            !xgb::set_labels(it->proxy_, it->y_.data(), n, it->d_.targets())) {
            it->failed_ = true;
            return 0;
        }
        it->pos_ += n;
        return 1;
    }

    bool failed() const { return failed_; }

private:
    const Dataset& d_;
    const Split& s_;
    DMatrixHandle proxy_;
    std::vector<float> x_, y_;
    size_t pos_ = 0;
    bool failed_ = false;
};

bool is_count(const std::string& v) {
    if (v.empty() || v.size() > 9) return false;
    for (char c : v)
        if (c < '0' || c > '9') return false;
    return true;
}

Result<xgb::DMatrix> quantile_matrix(const Dataset& d, const Split& s, const Params& p) {
    DMatrixHandle proxy_h = nullptr;
    if (XGProxyDMatrixCreate(&proxy_h) != 0)
        return tl::unexpected(xgb::last_error(sqlstate::internal, "could not create proxy matrix"));
    xgb::DMatrix proxy(proxy_h);
    TrainBatches batches(d, s, proxy.get());
    std::string config = "{\"missing\":NaN";
    for (const char* key : {"max_bin", "nthread"}) {
        const std::string* v = find_param(p, key);
        if (!v) continue;
        if (!is_count(*v))
            return fail(sqlstate::invalid_parameter,
                        std::string("hyperparameter \"") + key + "\" must be a non-negative integer",
                        {}, "Given: " + *v + ".");
        config += std::string(",\"") + key + "\":" + *v;
    }
    config += "}";
    DMatrixHandle out = nullptr;
    xgb::SignalsBlocked blocked;
    int rc = XGQuantileDMatrixCreateFromCallback(&batches, proxy.get(), nullptr,
                                                 TrainBatches::reset, TrainBatches::next,
                                                 config.c_str(), &out);
    if (rc != 0 || batches.failed())
        return tl::unexpected(xgb::last_error(sqlstate::invalid_parameter,
                                              "could not build training matrix"));
    return xgb::DMatrix(out);
}

// Tree methods other than hist cannot use QuantileDMatrix: they get one
// dense copy of the training rows (documented as costing more memory).
Result<xgb::DMatrix> dense_matrix(const Dataset& d, const Split& s) {
    std::vector<float> x(s.train_rows() * d.cols()), y(s.train_rows() * d.targets());
    gather(d, [&](size_t i) { return s.train_index(i); }, 0, s.train_rows(), x.data(), y.data());
    auto m = xgb::DMatrix::from_dense(x.data(), s.train_rows(), d.cols());
    if (!m) return m;
    if (auto r = m->set_labels(y.data(), s.train_rows(), d.targets()); !r) return tl::unexpected(r.error());
    return m;
}

// XGBoost only warns about parameters it does not know; we refuse them,
// because a typo in a hyperparameter silently trains a different model.
Result<void> reject_unused_params() {
    std::string log = xgb::take_log();
    auto start = log.find("Parameters: {");
    if (start == std::string::npos) return {};
    auto end = log.find('}', start);
    std::string names = log.substr(start + 13, end == std::string::npos ? std::string::npos
                                                                        : end - start - 13);
    while (!names.empty() && names.front() == ' ') names.erase(0, 1);
    while (!names.empty() && names.back() == ' ') names.pop_back();
    return fail(sqlstate::invalid_parameter, "unknown hyperparameter " + names,
                "n_estimators and the parameters of XGBoost's learner and booster are accepted.",
                "XGBoost reported: " + log.substr(start, log.find('\n', start) - start));
}

const char* default_objective(Task task, size_t classes) {
    if (task == Task::regression) return "reg:squarederror";
    return classes == 2 ? "binary:logistic" : "multi:softprob";
}

// What every fit of one training shares.
struct Setup {
    Task task;
    size_t num_classes;  // 1 for regression
    Algorithm algorithm;
};

// PostgresML's measure of a model for search and deployment.
const char* target_metric(Task task) { return task == Task::regression ? "r2" : "f1"; }

// XGBoost's parameters for one fit, from the user's: ours first, so that
// the user's override them. validate_parameters makes XGBoost report
// unknown keys (the Python package turns it on too; the C API leaves it
// off). n_estimators is the number of boosting rounds, or for a random
// forest (XGBoost's XGBRF estimators' defaults) the trees of its one round.
Result<Params> booster_params(const Params& user, const Setup& s, int& rounds) {
    auto n = rounds_of(user);
    if (!n) return tl::unexpected(n.error());
    if (auto ok = check_threads(user); !ok) return tl::unexpected(ok.error());
    Params params = {{"objective", default_objective(s.task, s.num_classes)},
                     {"validate_parameters", "1"}};
    const std::string* kind = find_param(user, "booster");
    if (!(kind && *kind == "gblinear")) params.emplace_back("tree_method", "hist");
    if (s.num_classes > 2) params.emplace_back("num_class", std::to_string(s.num_classes));
    rounds = *n;
    if (s.algorithm == Algorithm::xgboost_random_forest) {
        for (const auto& kv : Params{{"eta", "1"}, {"subsample", "0.8"}, {"colsample_bynode", "0.8"},
                                     {"lambda", "1e-05"}, {"num_parallel_tree", std::to_string(*n)}})
            params.push_back(kv);
        rounds = 1;
    }
    for (const auto& kv : user)
        if (kv.first != "n_estimators") params.push_back(kv);
    return params;
}

struct Fitted {
    xgb::Booster booster;
    metrics::Named metrics;
    double fit_time = 0, score_time = 0;
};

// Trains on the split's training rows and scores on its test rows.
Result<Fitted> fit_and_score(const Dataset& data, const Split& split, const Params& user,
                             const Setup& setup, const ProgressHook& hook) {
    int rounds = 0;
    auto params = booster_params(user, setup, rounds);
    if (!params) return tl::unexpected(params.error());

    auto fit_start = Clock::now();
    const std::string* method = find_param(user, "tree_method");
    const std::string* kind = find_param(user, "booster");
    // gblinear has no trees (no tree_method) and cannot train from a
    // QuantileDMatrix; "auto" lets XGBoost choose, which QuantileDMatrix
    // does not allow either.
    const bool linear = kind && *kind == "gblinear";
    bool hist = !linear && (!method || *method == "hist");
    auto dtrain = hist ? quantile_matrix(data, split, user) : dense_matrix(data, split);
    if (!dtrain) return tl::unexpected(dtrain.error());

    auto booster = xgb::Booster::create(*dtrain);
    if (!booster) return tl::unexpected(booster.error());
    for (const auto& [k, v] : *params)
        if (auto r = booster->set_param(k, v); !r) return tl::unexpected(r.error());

    xgb::take_log();
    for (int round = 0; round < rounds; ++round) {
        if (auto r = booster->update(round, *dtrain); !r) return tl::unexpected(r.error());
        if (round == 0)
            if (auto r = reject_unused_params(); !r) return tl::unexpected(r.error());
        if (auto r = hook(Phase::boosting, round + 1, rounds); !r) return tl::unexpected(r.error());
    }
    dtrain = xgb::DMatrix();  // free the training matrix before scoring
    Fitted out;
    out.fit_time = seconds_since(fit_start);

    // Score the test rows batch by batch with in-place prediction.
    const size_t num_classes = setup.num_classes, targets = data.targets();
    auto score_start = Clock::now();
    std::vector<float> truth(split.test_rows() * targets), predicted;
    predicted.reserve(split.test_rows() * std::max(num_classes, targets));
    std::vector<float> x(std::min(kBatchRows, split.test_rows()) * data.cols());
    for (size_t pos = 0; pos < split.test_rows(); pos += kBatchRows) {
        size_t n = std::min(kBatchRows, split.test_rows() - pos);
        gather(data, [&](size_t i) { return split.test_index(i); }, pos, n, x.data(),
               truth.data() + pos * targets);
        auto p = [&] {
            xgb::SignalsBlocked blocked;  // only around XGBoost: the hook below must be cancellable
            return booster->predict_dense(x.data(), n, data.cols());
        }();
        if (!p) return tl::unexpected(p.error());
        for (size_t i = 0; i < p->count; ++i) {
            if (!std::isfinite(p->values[i]))
                return fail(sqlstate::data_exception,
                            "the trained model predicts non-finite values on the test set",
                            "Check the hyperparameters (eta, max_delta_step, ...) and the features.");
            // Binary classifiers output P(class 1); spell out both classes.
            if (num_classes == 2) predicted.push_back(1.0f - p->values[i]);
            predicted.push_back(p->values[i]);
        }
        if (auto r = hook(Phase::scoring, pos + n, split.test_rows()); !r)
            return tl::unexpected(r.error());
    }
    out.metrics = setup.task == Task::regression
                      ? metrics::regression(predicted, truth, targets)
                      : metrics::classification(predicted, truth, num_classes);
    out.score_time = seconds_since(score_start);
    out.booster = std::move(*booster);
    return out;
}

double metric_of(const metrics::Named& m, const char* key) {
    for (const auto& [k, v] : m)
        if (k == key) return v;
    return NAN;
}

// search => grid | random: every candidate scored on every fold of the
// training rows; the best one's hyperparameters are appended to params
// and the report goes to search_results.
Result<void> run_search(const Dataset& data, const Split& split, const TrainSpec& spec, const Setup& setup,
                        const ProgressHook& hook, Params& params, std::string& search_results) {
    const search::Options& o = spec.search;
    if (split.train_rows() / o.cv < 1)
        return fail(sqlstate::data_exception,
                    "cross-validation with " + std::to_string(o.cv) + " folds needs at least " +
                        std::to_string(o.cv) + " training rows, the split has " +
                        std::to_string(split.train_rows()),
                    "Lower search_args' cv, or train on more rows.");
    const auto candidates = search::candidates(o, spec.seed);
    search::Scores scores;
    for (auto* m : {&scores.score, &scores.fit_time, &scores.score_time})
        m->assign(candidates.size(), std::vector<double>(o.cv, NAN));
    const size_t fits = candidates.size() * o.cv;
    size_t done = 0;
    for (size_t k = 0; k < o.cv; ++k) {
        const Split fold = split.fold(k, o.cv);
        for (size_t c = 0; c < candidates.size(); ++c) {
            if (auto r = hook(Phase::searching, ++done, fits); !r) return tl::unexpected(r.error());
            Params p = spec.params;
            for (auto& kv : search::params_of(o, candidates[c])) p.push_back(std::move(kv));
            auto f = fit_and_score(data, fold, p, setup, hook);
            if (!f) {
                Error e = f.error();
                e.message = "search candidate " + std::to_string(c) + ": " + e.message;
                return tl::unexpected(std::move(e));
            }
            scores.score[c][k] = metric_of(f->metrics, target_metric(setup.task));
            scores.fit_time[c][k] = f->fit_time;
            scores.score_time[c][k] = f->score_time;
        }
    }
    if (auto r = hook(Phase::searching, 0, 0); !r) return tl::unexpected(r.error());  // the search is over
    const size_t best = search::best(scores);
    for (auto& kv : search::params_of(o, candidates[best])) params.push_back(std::move(kv));
    search_results = search::report(o, candidates, scores, best);
    return {};
}

}  // namespace

Result<TrainedModel> train(Dataset& raw, preprocess::Plan& plan, const TrainSpec& spec, const ProgressHook& hook) {
    xgb::install_log_capture();
    TrainedModel out;
    if (auto n = rounds_of(spec.params); !n) return tl::unexpected(n.error());
    if (auto ok = check_threads(spec.params); !ok) return tl::unexpected(ok.error());
    if (auto ok = search::check(spec.search, [&] {
            std::vector<std::string> names;
            for (const auto& kv : spec.params) names.push_back(kv.first);
            return names;
        }());
        !ok)
        return tl::unexpected(ok.error());

    Dataset* in = &raw;
    size_t test_rows = spec.test_size >= 1.0
                           ? static_cast<size_t>(spec.test_size)
                           : static_cast<size_t>(std::llround(spec.test_size * raw.rows()));
    if (test_rows == 0 || test_rows >= raw.rows())
        return fail(sqlstate::data_exception,
                    "the split leaves an empty " +
                        std::string(test_rows == 0 ? "test" : "training") + " set",
                    "The relation has " + std::to_string(raw.rows()) +
                        " rows; choose test_size so both sets have rows.",
                    "test_size " + std::to_string(spec.test_size) + " selects " +
                        std::to_string(test_rows) + " test rows.");

    out.targets = raw.targets();
    if (out.targets > 1 && spec.task != Task::regression)
        return fail(sqlstate::feature_not_supported, "joint training is for regression",
                    "Train each label of a classification on its own.");
    size_t num_classes = 1;
    if (spec.task == Task::classification) {
        auto classes = index_classes(raw);
        if (!classes) return tl::unexpected(classes.error());
        out.classes = std::move(*classes);
        num_classes = out.classes.size();
        if (find_param(spec.params, "num_class"))
            return fail(sqlstate::invalid_parameter,
                        "hyperparameter \"num_class\" is set from the label",
                        "Leave num_class out: the label has " + std::to_string(num_classes) +
                            " classes.");
        if (auto* obj = find_param(spec.params, "objective");
            obj && *obj != default_objective(spec.task, num_classes))
            return fail(sqlstate::invalid_parameter,
                        "objective \"" + *obj + "\" does not give class probabilities",
                        std::string("Omit objective; this label needs \"") +
                            default_objective(spec.task, num_classes) + "\".");
    }
    const Setup setup{spec.task, num_classes, spec.algorithm};

    Split split = spec.sampling == Sampling::stratified
                      ? Split::stratified(raw, test_rows, spec.seed)
                      : Split(raw.rows(), test_rows, spec.sampling, spec.seed);
    // Categories encoded, values imputed and scaled, fitted on the
    // training rows; the raw rows are freed once encoded.
    Dataset encoded(0);
    if (plan.needed()) {
        auto e = preprocess::fit_transform(plan, raw, split);
        if (!e) return tl::unexpected(e.error());
        encoded = std::move(*e);
        raw = Dataset(0);
        in = &encoded;
    }
    Dataset& data = *in;
    out.feature_names = plan.feature_names();
    out.feature_types = plan.feature_types();
    out.preprocessing = preprocess::to_json(plan.columns);
    out.train_rows = split.train_rows();
    out.test_rows = split.test_rows();
    if (auto r = hook(Phase::preparing, 0, split.train_rows()); !r) return tl::unexpected(r.error());

    Params params = spec.params;
    if (spec.search.kind != search::Kind::none)
        if (auto r = run_search(data, split, spec, setup, hook, params, out.search_results); !r)
            return tl::unexpected(r.error());

    auto fitted = fit_and_score(data, split, params, setup, hook);
    if (!fitted) return tl::unexpected(fitted.error());
    if (auto p = booster_params(params, setup, out.rounds); !p) return tl::unexpected(p.error());
    out.metrics = std::move(fitted->metrics);
    out.metrics.emplace_back("fit_time", fitted->fit_time);
    out.metrics.emplace_back("score_time", fitted->score_time);

    auto bytes = fitted->booster.save_ubj();
    if (!bytes) return tl::unexpected(bytes.error());
    out.ubj = std::move(*bytes);
    return out;
}

Result<TrainedModel> train(Dataset& data, const TrainSpec& spec, const ProgressHook& hook) {
    preprocess::Plan plan;
    try {
        plan.columns.resize(data.cols());
        plan.dictionaries.resize(data.cols());
        for (size_t i = 0; i < data.cols(); ++i) plan.columns[i].name = "f" + std::to_string(i + 1);
    } catch (const std::bad_alloc&) {
        return fail(sqlstate::out_of_memory, "out of memory");
    }
    return train(data, plan, spec, hook);
}

size_t model_targets(const std::string& config) {
    // XGBoost's configuration JSON is its own fixed output: "num_target":"3".
    const std::string key = "\"num_target\":\"";
    auto pos = config.find(key);
    if (pos == std::string::npos) return 1;
    long k = std::strtol(config.c_str() + pos + key.size(), nullptr, 10);
    return k > 1 ? static_cast<size_t>(k) : 1;
}

Result<size_t> classifier_classes(const std::string& config) {
    auto field = [&](const char* key) -> std::string {
        std::string k = std::string("\"") + key + "\":\"";
        auto pos = config.find(k);
        if (pos == std::string::npos) return {};
        pos += k.size();
        return config.substr(pos, config.find('"', pos) - pos);
    };
    // XGBoost's configuration JSON is its own fixed output: the objective
    // is {"name":"..."} and learner_model_param holds num_class.
    std::string objective = field("objective\":{\"name");
    if (objective == "binary:logistic") return 2;
    if (objective == "multi:softprob") {
        long k = std::strtol(field("num_class").c_str(), nullptr, 10);
        if (k >= 2) return static_cast<size_t>(k);
    }
    return fail(sqlstate::invalid_parameter,
                "model objective \"" + objective + "\" does not give class probabilities",
                "A classification model needs objective binary:logistic or multi:softprob.");
}

}  // namespace pgml
