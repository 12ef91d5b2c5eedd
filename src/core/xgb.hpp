// A thin RAII layer over XGBoost's C API. Every call's return code is checked
// and turned into an Error carrying XGBGetLastError()'s text. Nothing here
// allocates through Postgres or keeps global state besides the log capture,
// so a Booster may live in a backend or in the worker; failures are Errors
// (only std::bad_alloc, building an Error's text or a copy, can throw). Calls that
// may start XGBoost's OpenMP threads block signals meanwhile, so those
// threads never take a signal meant for Postgres' main thread.
#pragma once

#include <atomic>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <xgboost/c_api.h>

#include "core/error.hpp"

namespace pgml::xgb {

// XGBoost starts OpenMP threads at its first parallel region and keeps
// them; they inherit the signal mask of the thread that starts them. In a
// Postgres process every signal must reach the main thread (its handlers
// set flags that thread acts on), so calls that may start threads run with
// the asynchronous signals blocked; whatever arrives meanwhile is handled
// once the call returns.
class SignalsBlocked {
public:
    SignalsBlocked() noexcept;
    ~SignalsBlocked();
    SignalsBlocked(const SignalsBlocked&) = delete;
    SignalsBlocked& operator=(const SignalsBlocked&) = delete;

private:
    sigset_t old_;
};

// Makes XGBoost on the calling thread use one OpenMP thread where a
// booster does not say otherwise: pool threads and the worker's main
// thread, which must not start thread teams of their own.
void use_one_thread_here() noexcept;

// Frees what this thread keeps for XGBoost (its proxy matrix), for a
// thread about to end while XGBoost itself lives on.
void release_thread_state() noexcept;

// Turns a non-zero XGBoost return code into an Error with its message.
Error last_error(const char* state, const char* what);

// XGBoost reports some problems (such as a hyperparameter it does not know)
// only as a logged warning. The log callback keeps what XGBoost logged on
// the current thread so callers can inspect it after a call.
void install_log_capture();
std::string take_log();

class DMatrix {
public:
    DMatrix() = default;
    explicit DMatrix(DMatrixHandle h) : handle_(h) {}
    DMatrix(DMatrix&& o) noexcept : handle_(std::exchange(o.handle_, nullptr)) {}
    DMatrix& operator=(DMatrix&& o) noexcept {
        std::swap(handle_, o.handle_);
        return *this;
    }
    ~DMatrix() {
        if (handle_) XGDMatrixFree(handle_);
    }
    DMatrixHandle get() const { return handle_; }

    // Copies a dense row-major float block (NaN = missing) into a DMatrix.
    static Result<DMatrix> from_dense(const float* data, size_t rows, size_t cols);
    // rows x targets labels, row-major.
    Result<void> set_labels(const float* labels, size_t rows, size_t targets = 1);

private:
    DMatrixHandle handle_ = nullptr;
};

// The same for any matrix handle (a proxy's batch): more than one target
// goes through XGBoost's array interface, which keeps the 2-D shape that
// multi-output regression needs (SetFloatInfo only takes a vector).
Result<void> set_labels(DMatrixHandle h, const float* labels, size_t rows, size_t targets);

class Booster {
public:
    Booster() = default;
    Booster(Booster&& o) noexcept
        : handle_(std::exchange(o.handle_, nullptr)), in_place_ok_(o.in_place_ok_.load()) {}
    Booster& operator=(Booster&& o) noexcept {
        std::swap(handle_, o.handle_);
        in_place_ok_.store(o.in_place_ok_.exchange(in_place_ok_.load()));
        return *this;
    }
    ~Booster() {
        if (handle_) XGBoosterFree(handle_);
    }
    BoosterHandle get() const { return handle_; }

    static Result<Booster> create(const DMatrix& train);
    // Loads a model saved by XGBoost in any of its formats (UBJSON, JSON,
    // legacy binary). Bytes that are not a model give an invalid_binary Error.
    static Result<Booster> load(const void* bytes, size_t len);

    Result<void> set_param(const std::string& key, const std::string& value);
    Result<void> update(int round, const DMatrix& train);
    Result<std::vector<uint8_t>> save_ubj() const;
    Result<std::string> json_config() const;
    Result<uint64_t> num_features() const;
    Result<int> boosted_rounds() const;

    // In-place prediction on a dense row-major block, without building a
    // DMatrix. The returned span points into XGBoost's per-thread buffer and
    // stays valid until this thread's next prediction with this booster.
    // Thread-safe: several threads may predict with one booster at once
    // (XGBoost documents it for tree boosters; gblinear's DMatrix path was
    // tested here with 8 threads, not promised by XGBoost). A gblinear
    // prediction copies the rows once more, into the DMatrix.
    struct Output {
        const float* values;
        size_t count;
    };
    Result<Output> predict_dense(const float* rows, size_t nrows, size_t ncols) const;
    // The same before the objective's transform (XGBoost's output type 1).
    Result<Output> predict_margin_dense(const float* rows, size_t nrows, size_t ncols) const;

private:
    // XGBoost 1.7 cannot predict gblinear models in place; those go
    // through a DMatrix (found on the first prediction, remembered).
    Result<Output> predict_through_dmatrix(const float* rows, size_t nrows, size_t ncols) const;

    BoosterHandle handle_ = nullptr;
    mutable std::atomic<bool> in_place_ok_{true};
};

}  // namespace pgml::xgb
