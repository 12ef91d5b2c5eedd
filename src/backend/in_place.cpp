#include "backend/in_place.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "core/answer.hpp"
#include "core/forest.hpp"
#include "pg/region.hpp"
#include "shmem/clock.hpp"
#include "shmem/model_table.hpp"
#include "shmem/region.hpp"

extern "C" {
#include "miscadmin.h"
#include "storage/backendid.h"
}

namespace pgml::backend {

namespace {

// Rows and outputs up to these sizes are scored from the stack; wider ones
// from buffers this backend keeps (grown once, before any pin is taken).
constexpr size_t kStackFeatures = 256;
constexpr size_t kStackOutputs = 64;

// A pinned forest; released by its destructor. Lives only inside pure C++
// code (no Postgres call while it exists), so it is always released.
class Pinned {
public:
    Pinned(shm::Region* r, CachedModel& m) : r_(r) {
        for (int attempt = 0; attempt < 2 && !bytes_; ++attempt) {
            // First the entry found last time; then look again (the model
            // may have been reloaded into another entry since).
            if (attempt == 1 || m.forest.generation == 0) m.forest = shm::find_forest(r, MyDatabaseId, m.model_id);
            if (m.forest.generation == 0) return;
            bytes_ = shm::pin_forest(r, m.forest, &size_, &stat_);
        }
        if (!bytes_) return;
        ref_ = m.forest;
        // A pinned forest is never freed (its header would be poisoned, see
        // collect_forests): checked, because a failure of that rule must be
        // loud. A shape that disagrees with the catalog is not used.
        if (forest()->magic != forest::kForestMagic) {
            freed_ = true;
        } else if (forest()->num_feature == m.num_features &&
                   forest()->outputs_per_row() == answer::outputs_per_row(m.classes.size(), m.targets)) {
            return;
        }
        shm::unpin_forest(r_, ref_);
        bytes_ = nullptr;
    }
    ~Pinned() {
        if (bytes_) shm::unpin_forest(r_, ref_);
    }
    Pinned(const Pinned&) = delete;
    Pinned& operator=(const Pinned&) = delete;

    explicit operator bool() const { return bytes_ != nullptr; }
    bool freed() const { return freed_; }
    const forest::Forest* forest() const { return static_cast<const forest::Forest*>(bytes_); }
    // Adds n to the model's request count in pgml.worker_models() and to
    // this backend's in-place count.
    void count(uint64_t n) const {
        if (stat_ < r_->max_models) shm::model_stats(r_)[stat_].requests.fetch_add(n, std::memory_order_relaxed);
        shm::count_in_place(r_, MyBackendId, n);
    }

private:
    shm::Region* r_;
    shm::ForestRef ref_;
    const void* bytes_ = nullptr;
    uint64_t size_ = 0;
    uint32_t stat_ = shm::kNoForest;
    bool freed_ = false;
};

Error freed_under_reader(const CachedModel& m) {
    return Error{sqlstate::internal,
                 "the compiled forest of model " + std::to_string(m.model_id) + " was freed while pinned",
                 "", "This is a bug in pgml_worker; please report it.", nullptr};
}

// How long a walk of f may hold its token before the token may be taken
// over (forests.hpp, take_token): a quarter of a millisecond and a quarter
// of a microsecond a tree. A row of big (1000 trees of depth 8) walks in
// 5-8 us from the cache and about 45 us from memory, so this is ten times
// its slowest walk; a holder still walking after it has been descheduled
// (a scheduler slice is 0.75 ms or more).
uint64_t token_stale_ns(const forest::Forest& f) { return 250'000 + uint64_t{250} * f.num_trees; }

// One of the in-place tokens, when asked for, held for one row.
class Token {
public:
    Token(shm::Region* r, const forest::Forest* need_for) : r_(r) {
        if (need_for) held_ = shm::take_token(r, shm::steady_ns(), token_stale_ns(*need_for));
        ok_ = !need_for || held_;
    }
    ~Token() { shm::return_token(r_, held_); }
    Token(const Token&) = delete;
    Token& operator=(const Token&) = delete;
    bool ok() const { return ok_; }

private:
    shm::Region* r_;
    shm::TokenHeld held_;
    bool ok_ = true;
};

float* grown(std::vector<float>& v, size_t n) {
    if (v.size() < n) v.resize(n);
    return v.data();
}

}  // namespace

Result<bool> score_in_place(CachedModel& m, const FeatureRow& row, uint32_t kind, Answer& out, bool need_token) {
    shm::Region* r = pg::region();
    if (!r || r->arena_size == 0) return false;
    // The buffers first: nothing below may allocate once the pin is held.
    static std::vector<float> wide_row, wide_outputs;
    float stack_row[kStackFeatures];
    float stack_outputs[kStackOutputs];
    const float* values = static_cast<const float*>(row.data);
    if (row.type != ElemType::f4) {
        float* dst = row.count <= kStackFeatures ? stack_row : grown(wide_row, row.count);
        row.to_float(dst);
        values = dst;
    }
    // forest::predict wants room for every margin (classes, targets, or 1).
    const size_t outputs = std::max<size_t>(m.targets, m.classes.size());
    float* raw = outputs <= kStackOutputs ? stack_outputs : grown(wide_outputs, outputs);

    Pinned pinned(r, m);
    if (pinned.freed()) return tl::unexpected(freed_under_reader(m));
    if (!pinned) return false;
    // Only a forest whose walk is worth bounding takes a token.
    Token token(r, need_token && pinned.forest()->num_nodes > shm::kCheapForestNodes ? pinned.forest() : nullptr);
    if (!token.ok()) return false;
    forest::predict(*pinned.forest(), values, 1, raw);
    pinned.count(1);
    if (kind == shm::PROBA)
        answer::vector(m.classes.size(), m.targets, raw, out.proba);
    else
        out.value = answer::value(m.task, m.classes.data(), m.classes.size(), raw);
    return true;
}

Result<bool> score_rows_in_place(CachedModel& m, const float* rows, size_t n, double* out) {
    shm::Region* r = pg::region();
    if (!r || r->arena_size == 0) return false;
    const size_t k = answer::outputs_per_row(m.classes.size(), m.targets);
    std::vector<float> raw(n * std::max<size_t>(m.targets, m.classes.size()));
    Pinned pinned(r, m);
    if (pinned.freed()) return tl::unexpected(freed_under_reader(m));
    if (!pinned) return false;
    forest::predict(*pinned.forest(), rows, n, raw.data());
    pinned.count(n);
    for (size_t i = 0; i < n; ++i) out[i] = answer::value(m.task, m.classes.data(), m.classes.size(), raw.data() + i * k);
    return true;
}

}  // namespace pgml::backend
