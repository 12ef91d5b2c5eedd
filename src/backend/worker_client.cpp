#include "backend/worker_client.hpp"

#include "backend/model_bytes.hpp"
#include "backend/model_cache.hpp"
#include "pg/region.hpp"
#include "pg/settings.hpp"
#include "shmem/clock.hpp"
#include "shmem/handoff.hpp"

extern "C" {
#include "postgres.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/dsm.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/ipc.h"
#include "utils/timestamp.h"
}

namespace pgml::backend {

int64_t request_deadline() { return TimestampTzPlusMilliseconds(GetCurrentTimestamp(), settings::timeout_ms); }

namespace {

long ms_left(TimestampTz until) {
    return TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until);
}

void wait_a_little(long ms) {
    (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, ms,
                     PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
}

// The slot and hand-over claim this backend holds right now, so that they
// are given back even when the backend exits in the middle of a wait (a
// FATAL from pg_terminate_backend skips PG_CATCH).
int64_t held_slot = -1;
shm::Claim held_claim{-1, 0};

// Postgres calls it at exit; everything it does is noexcept.
void give_back(int, Datum) noexcept {
    shm::Region* r = pg::region();
    if (!r) return;
    if (held_slot >= 0) shm::abandon(r, static_cast<uint32_t>(held_slot));
    if (held_claim.index >= 0) shm::release_load(r->claims, held_claim);
    held_slot = -1;
    held_claim = shm::Claim{-1, 0};
}

void hold(int64_t slot) {
    static bool hooked = false;
    if (!hooked) {
        before_shmem_exit(give_back, 0);
        hooked = true;
    }
    held_slot = slot;
}

// A free slot, waiting (cancellably) while all are taken. False when the
// worker stops or the deadline passes first.
bool acquire(shm::Region* r, uint32_t* index, TimestampTz until) {
    for (;;) {
        if (shm::acquire_slot(r, *index)) {
            hold(*index);
            return true;
        }
        if (!r->ready.load(std::memory_order_acquire) || ms_left(until) <= 0) return false;
        wait_a_little(1);
    }
}

void wake_worker(shm::Region* r) {
    SetLatch(&ProcGlobal->allProcs[r->worker_procno.load()].procLatch);
}

// Frees a slot whose answer was read.
void done_with(shm::Region* r, uint32_t index) {
    shm::release(r, index);
    held_slot = -1;
}

// The answer must be to this request: the worker echoes the generation it
// took (DESIGN.md invariant 4).
void check_answer(shm::Region* r, uint32_t index, uint32_t gen) {
    uint32_t answered = shm::slot(r, index)->answered;
    if (answered == gen) return;
    done_with(r, index);
    elog(ERROR, "pgml_worker: slot %u answered request %u, expected %u", index, answered, gen);
}

enum class Waited { done, gone, timed_out };

// Waits until the slot is answered: on a futex on its state word, which the
// pool thread wakes with one system call (cheaper than setting a latch,
// which takes a signal and an epoll wake-up). Each wait is bounded so that
// cancel and statement_timeout are seen within milliseconds. Backends poll
// first only if pgml_worker.wait_spin_us says so (off by default: measured on
// 2 cores, a polling backend takes the CPU that queries and scoring need as
// soon as two clients are active), and only once per request.
Waited await_inner(shm::Region* r, shm::Slot* s, TimestampTz until) {
    uint64_t spin_ns = static_cast<uint64_t>(settings::wait_spin_us) * 1000;
    for (;;) {
        if (s->state.load(std::memory_order_acquire) == shm::DONE) return Waited::done;
        if (!r->ready.load(std::memory_order_acquire)) return Waited::gone;
        long left = ms_left(until);
        if (left <= 0) return Waited::timed_out;
        if (shm::wait_for_answer(s, spin_ns, left < 10 ? static_cast<int>(left) : 10) == shm::DONE)
            return Waited::done;
        spin_ns = 0;  // polled once already
        CHECK_FOR_INTERRUPTS();
    }
}

// Waits for the slot's answer. On any way out but DONE (cancel, timeout,
// the worker gone) the request is abandoned first.
Waited await(shm::Region* r, uint32_t index, TimestampTz until) {
    shm::Slot* s = shm::slot(r, index);
    Waited w = Waited::done;
    PG_TRY();
    {
        w = await_inner(r, s, until);
    }
    PG_CATCH();
    {
        shm::abandon(r, index);
        held_slot = -1;
        PG_RE_THROW();
    }
    PG_END_TRY();
    if (w != Waited::done) {
        // The worker may still answer between our look and the abandon.
        shm::abandon(r, index);
        held_slot = -1;
    }
    return w;
}

Asked outcome_of(shm::Slot* s, char* message, size_t message_size) {
    switch (s->status) {
        case shm::OK: return Asked::answered;
        case shm::NEED_MODEL: return Asked::need_model;
        case shm::WORKER_GONE: return Asked::unavailable;
        default:
            snprintf(message, message_size, "%s", s->message);
            return Asked::failed;
    }
}

}  // namespace

bool worker_available(uint32_t nfeatures) {
    shm::Region* r = pg::region();
    return r && r->ready.load(std::memory_order_acquire) && nfeatures <= r->max_features;
}

Asked ask_worker(Ask* ask) {
    shm::Region* r = pg::region();
    TimestampTz until = ask->deadline;
    uint32_t index;
    if (!acquire(r, &index, until))
        return r->ready.load() ? Asked::timed_out : Asked::unavailable;
    shm::Slot* s = shm::slot(r, index);
    uint32_t gen = shm::stamp(r, s, static_cast<shm::Kind>(ask->kind), MyDatabaseId, ask->model_id);
    s->nfeatures = ask->row.count;
    ask->row.to_float(s->data);
    shm::publish_request(r, index);

    Waited w = await(r, index, until);
    if (w == Waited::gone) return Asked::unavailable;
    if (w == Waited::timed_out) return Asked::timed_out;
    check_answer(r, index, gen);
    Asked a = outcome_of(s, ask->message, sizeof ask->message);
    if (a == Asked::answered) {
        if (ask->kind == shm::PREDICT) {
            ask->value = s->value;
        } else {
            uint32_t n = s->nresult < ask->nproba ? s->nresult : ask->nproba;
            memcpy(ask->proba, s->data, sizeof(float) * n);
        }
    }
    done_with(r, index);
    return a;
}

namespace {

Asked hand_over_claimed(shm::Region* r, int64_t model_id, bool classification, const double* classes,
                        uint32_t nclasses, TimestampTz until, char* message, size_t message_size) {
    bytea* data = fetch_model_data(model_id);
    size_t nbytes = VARSIZE(data) - VARHDRSZ;
    dsm_segment* seg = dsm_create(shm::handoff_size(nclasses, nbytes), 0);
    auto* h = static_cast<shm::Handoff*>(dsm_segment_address(seg));
    h->classification = classification ? 1 : 0;
    h->nclasses = nclasses;
    h->nbytes = nbytes;
    // A regression has no classes, and its `classes` may be null: memcpy
    // from a null pointer is undefined even for 0 bytes (UBSan reports it).
    if (nclasses > 0) memcpy(shm::handoff_classes(h), classes, sizeof(double) * nclasses);
    memcpy(shm::handoff_bytes(h), VARDATA(data), nbytes);
    pfree(data);

    uint32_t index;
    if (!acquire(r, &index, until)) {
        dsm_detach(seg);
        return r->ready.load() ? Asked::timed_out : Asked::unavailable;
    }
    shm::Slot* s = shm::slot(r, index);
    uint32_t gen = shm::stamp(r, s, shm::LOAD, MyDatabaseId, model_id);
    s->dsm_handle = dsm_segment_handle(seg);
    shm::publish_control(r, index);
    wake_worker(r);

    // The segment is ours until the worker answers (or we give up; then the
    // worker finds it gone and says so).
    Waited w = await(r, index, until);
    dsm_detach(seg);
    if (w == Waited::gone) return Asked::unavailable;
    if (w == Waited::timed_out) return Asked::timed_out;
    check_answer(r, index, gen);
    Asked a = outcome_of(s, message, message_size);
    done_with(r, index);
    return a;
}

}  // namespace

Asked hand_over_model(int64_t model_id, bool classification, const double* classes,
                      uint32_t nclasses, int64_t until, char* message, size_t message_size) {
    shm::Region* r = pg::region();
    const uint64_t key = shm::claim_key(MyDatabaseId, model_id);
    const shm::Claim claim = shm::claim_load(r->claims, key, shm::steady_ns());
    if (claim.index == -1) {
        while (shm::load_claimed(r->claims, key, shm::steady_ns())) {
            if (!r->ready.load(std::memory_order_acquire)) return Asked::unavailable;
            if (ms_left(until) <= 0) return Asked::timed_out;
            wait_a_little(1);
        }
        return Asked::answered;
    }
    // With every entry held (-2) the hand-over goes ahead unclaimed.
    held_claim = claim;
    Asked a = Asked::failed;
    PG_TRY();
    {
        a = hand_over_claimed(r, model_id, classification, classes, nclasses, until, message, message_size);
    }
    PG_CATCH();
    {
        shm::release_load(r->claims, claim);
        held_claim = shm::Claim{-1, 0};
        PG_RE_THROW();
    }
    PG_END_TRY();
    shm::release_load(r->claims, claim);
    held_claim = shm::Claim{-1, 0};
    return a;
}

void retire_model(int64_t model_id) {
    shm::Region* r = pg::region();
    uint32_t index;
    if (!r || !r->ready.load() || !shm::acquire_slot(r, index)) return;
    (void) shm::stamp(r, shm::slot(r, index), shm::RETIRE, MyDatabaseId, model_id);
    shm::publish_control(r, index);
    wake_worker(r);
}

}  // namespace pgml::backend
