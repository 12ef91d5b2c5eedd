#include "core/xgb.hpp"

#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <mutex>

#include <omp.h>
#include <pthread.h>

#include "core/ubjson.hpp"

namespace pgml::xgb {

namespace {

thread_local std::string captured_log;

void log_callback(const char* msg) noexcept {
    try {
        captured_log.append(msg);
        captured_log.push_back('\n');
    } catch (...) {
        // Losing a log line is better than letting an exception into XGBoost.
    }
}

// The array-interface description XGBoost wants for a dense float32 block.
// It is short and built on the stack: no allocation on the predict path.
struct ArrayInterface {
    char text[160];
    ArrayInterface(const float* data, size_t rows, size_t cols) {
        std::snprintf(text, sizeof text,
                      "{\"data\":[%" PRIuPTR ",true],\"shape\":[%zu,%zu],"
                      "\"typestr\":\"<f4\",\"version\":3}",
                      reinterpret_cast<uintptr_t>(data), rows, cols);
    }
};

// XGBoost 1.7 builds a new proxy matrix on every in-place prediction that
// is given none, which costs three times the prediction of a small model.
// A proxy is not thread-safe, so each thread keeps its own. It is not freed
// at thread or process exit (XGBoost's own state may be gone first), only
// by release_thread_state.
thread_local DMatrixHandle proxy = nullptr;

DMatrixHandle thread_proxy() {
    if (!proxy && XGProxyDMatrixCreate(&proxy) != 0) proxy = nullptr;
    return proxy;
}

// type 0 = plain prediction (probabilities for classifiers), all trees.
constexpr const char* kPredictConfig =
    "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,\"cache_id\":0,"
    "\"strict_shape\":false,\"missing\":NaN}";

// XGBoost 1.7's model loader runs a parallel loop sized by the calling
// thread's OpenMP setting, before any booster parameter (nthread) applies.
// Loading needs no threads; this keeps it from starting a team.
class OneOpenMPThread {
public:
    OneOpenMPThread() noexcept : old_(omp_get_max_threads()) { omp_set_num_threads(1); }
    ~OneOpenMPThread() { omp_set_num_threads(old_); }

private:
    int old_;
};

// type 1: the margin, before the objective's transform.
constexpr const char* kMarginConfig =
    "{\"type\":1,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,\"cache_id\":0,"
    "\"strict_shape\":false,\"missing\":NaN}";

}  // namespace

SignalsBlocked::SignalsBlocked() noexcept {
    sigset_t all;
    sigfillset(&all);
    for (int sync : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) sigdelset(&all, sync);
    pthread_sigmask(SIG_BLOCK, &all, &old_);
}

SignalsBlocked::~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

void use_one_thread_here() noexcept { omp_set_num_threads(1); }

void release_thread_state() noexcept {
    if (proxy) XGDMatrixFree(proxy);
    proxy = nullptr;
}

Error last_error(const char* state, const char* what) {
    std::string text = XGBGetLastError();
    // XGBoost prefixes "[hh:mm:ss] path/file.cc:123: ", which is noise to a
    // SQL user and makes messages differ from run to run.
    if (!text.empty() && text[0] == '[')
        if (auto end = text.find("] "); end != std::string::npos) text.erase(0, end + 2);
    if (auto colon = text.find(": "); colon != std::string::npos) {
        auto dot = text.rfind('.', colon);
        auto space = text.find(' ');
        if (dot != std::string::npos && space >= colon) text.erase(0, colon + 2);
    }
    // Drop the stack trace, which only helps XGBoost's developers.
    if (auto pos = text.find("\nStack trace:"); pos != std::string::npos) text.resize(pos);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    Error e;
    e.sqlstate = state;
    // The first line is the message; any further lines (lists of valid
    // values, parameter docs) go to the detail.
    auto nl = text.find('\n');
    e.message = std::string(what) + ": " + text.substr(0, nl);
    if (nl != std::string::npos) e.detail = text.substr(nl + 1);
    return e;
}

void install_log_capture() {
    static std::once_flag once;
    std::call_once(once, [] { XGBRegisterLogCallback(log_callback); });
}

std::string take_log() {
    std::string out;
    out.swap(captured_log);
    return out;
}

Result<DMatrix> DMatrix::from_dense(const float* data, size_t rows, size_t cols) {
    ArrayInterface ai(data, rows, cols);
    DMatrixHandle h = nullptr;
    SignalsBlocked blocked;
    if (XGDMatrixCreateFromDense(ai.text, "{\"missing\":NaN,\"nthread\":0}", &h) != 0)
        return tl::unexpected(last_error(sqlstate::internal, "could not build training matrix"));
    return DMatrix(h);
}

Result<void> set_labels(DMatrixHandle h, const float* labels, size_t rows, size_t targets) {
    int rc;
    if (targets == 1) {
        rc = XGDMatrixSetDenseInfo(h, "label", labels, rows, 1);
    } else {
        char ai[192];
        std::snprintf(ai, sizeof ai,
                      "{\"data\":[%" PRIuPTR ",true],\"shape\":[%zu,%zu],\"typestr\":\"<f4\",\"version\":3}",
                      reinterpret_cast<uintptr_t>(labels), rows, targets);
        rc = XGDMatrixSetInfoFromInterface(h, "label", ai);
    }
    if (rc != 0) return tl::unexpected(last_error(sqlstate::internal, "could not set labels"));
    return {};
}

Result<void> DMatrix::set_labels(const float* labels, size_t rows, size_t targets) {
    return xgb::set_labels(handle_, labels, rows, targets);
}

Result<Booster> Booster::create(const DMatrix& train) {
    Booster b;
    DMatrixHandle cache[1] = {train.get()};
    if (XGBoosterCreate(cache, 1, &b.handle_) != 0)
        return tl::unexpected(last_error(sqlstate::internal, "could not create booster"));
    return b;
}

Result<Booster> Booster::load(const void* bytes, size_t len) {
    Booster b;
    if (auto ok = ubjson::check_model(static_cast<const uint8_t*>(bytes), len); !ok)
        return tl::unexpected(ok.error());
    if (XGBoosterCreate(nullptr, 0, &b.handle_) != 0)
        return tl::unexpected(last_error(sqlstate::internal, "could not create booster"));
    SignalsBlocked blocked;
    OneOpenMPThread one;
    if (XGBoosterLoadModelFromBuffer(b.handle_, bytes, len) != 0)
        return tl::unexpected(last_error(sqlstate::invalid_binary, "not a valid XGBoost model"));
    return b;
}

Result<void> Booster::set_param(const std::string& key, const std::string& value) {
    if (XGBoosterSetParam(handle_, key.c_str(), value.c_str()) != 0)
        return tl::unexpected(last_error(sqlstate::invalid_parameter,
                                         ("invalid hyperparameter \"" + key + "\"").c_str()));
    return {};
}

Result<void> Booster::update(int round, const DMatrix& train) {
    SignalsBlocked blocked;
    if (XGBoosterUpdateOneIter(handle_, round, train.get()) != 0)
        return tl::unexpected(last_error(sqlstate::invalid_parameter, "XGBoost training failed"));
    return {};
}

Result<std::vector<uint8_t>> Booster::save_ubj() const {
    bst_ulong len = 0;
    const char* raw = nullptr;
    if (XGBoosterSaveModelToBuffer(handle_, "{\"format\":\"ubj\"}", &len, &raw) != 0)
        return tl::unexpected(last_error(sqlstate::internal, "could not serialize model"));
    return std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(raw),
                                reinterpret_cast<const uint8_t*>(raw) + len);
}

Result<std::string> Booster::json_config() const {
    bst_ulong len = 0;
    const char* raw = nullptr;
    if (XGBoosterSaveJsonConfig(handle_, &len, &raw) != 0)
        return tl::unexpected(last_error(sqlstate::internal, "could not read model configuration"));
    return std::string(raw, len);
}

Result<uint64_t> Booster::num_features() const {
    bst_ulong n = 0;
    if (XGBoosterGetNumFeature(handle_, &n) != 0)
        return tl::unexpected(last_error(sqlstate::internal, "could not read number of features"));
    return n;
}

Result<int> Booster::boosted_rounds() const {
    int n = 0;
    if (XGBoosterBoostedRounds(handle_, &n) != 0)
        return tl::unexpected(last_error(sqlstate::internal, "could not read number of rounds"));
    return n;
}

namespace {
size_t count_of(const bst_ulong* shape, bst_ulong dim) {
    size_t count = 1;
    for (bst_ulong i = 0; i < dim; ++i) count *= shape[i];
    return count;
}
}  // namespace

Result<Booster::Output> Booster::predict_dense(const float* rows, size_t nrows,
                                               size_t ncols) const {
    if (!in_place_ok_.load(std::memory_order_relaxed)) return predict_through_dmatrix(rows, nrows, ncols);
    ArrayInterface ai(rows, nrows, ncols);
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* out = nullptr;
    if (XGBoosterPredictFromDense(handle_, ai.text, kPredictConfig, thread_proxy(), &shape, &dim,
                                  &out) != 0) {
        if (std::strstr(XGBGetLastError(), "Inplace predict is not supported") == nullptr)
            return tl::unexpected(last_error(sqlstate::internal, "XGBoost prediction failed"));
        in_place_ok_.store(false, std::memory_order_relaxed);
        return predict_through_dmatrix(rows, nrows, ncols);
    }
    return Output{out, count_of(shape, dim)};
}

Result<Booster::Output> Booster::predict_margin_dense(const float* rows, size_t nrows,
                                                      size_t ncols) const {
    ArrayInterface ai(rows, nrows, ncols);
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* out = nullptr;
    if (XGBoosterPredictFromDense(handle_, ai.text, kMarginConfig, thread_proxy(), &shape, &dim,
                                  &out) != 0)
        return tl::unexpected(last_error(sqlstate::internal, "XGBoost prediction failed"));
    return Output{out, count_of(shape, dim)};
}

Result<Booster::Output> Booster::predict_through_dmatrix(const float* rows, size_t nrows,
                                                         size_t ncols) const {
    ArrayInterface ai(rows, nrows, ncols);
    DMatrixHandle m = nullptr;
    if (XGDMatrixCreateFromDense(ai.text, "{\"missing\":NaN,\"nthread\":1}", &m) != 0)
        return tl::unexpected(last_error(sqlstate::internal, "XGBoost prediction failed"));
    DMatrix matrix(m);
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* out = nullptr;
    if (XGBoosterPredictFromDMatrix(handle_, matrix.get(), kPredictConfig, &shape, &dim, &out) != 0)
        return tl::unexpected(last_error(sqlstate::internal, "XGBoost prediction failed"));
    // The output lives in the booster's per-thread buffer, not the matrix.
    return Output{out, count_of(shape, dim)};
}

}  // namespace pgml::xgb
