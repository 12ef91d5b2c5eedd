// The serving background worker's main thread: registered from _PG_init,
// started by the postmaster (on a primary and, once consistent, on a hot
// standby), restarted by it one second after it exits.
//
// This thread is the only one of the worker that calls Postgres. It handles
// signals and configuration reloads, loads the models backends hand over in
// DSM segments (LOAD) and frees retired ones (RETIRE). Scoring never passes
// through it: pool threads take requests from shared memory directly.
#include <malloc.h>
#include <memory>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "pg/guard.hpp"
#include "pg/region.hpp"
#include "shmem/handoff.hpp"
#include "sqlapi/settings.hpp"
#include "worker/pool/pool.hpp"
#include "worker/pool/registry.hpp"

extern "C" {
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/guc.h"

PGDLLEXPORT void pgml_worker_main(Datum);
}

namespace pgml::worker {

namespace {

// Stops the pool on every way out of the process, including proc_exit from
// inside a Postgres call: threads must not outlive the main thread's exit.
pool::Pool* running_pool = nullptr;

void on_exit(int, Datum) {
    shm::Region* r = pg::region();
    if (r) r->ready.store(0, std::memory_order_release);
    if (running_pool) running_pool->stop();
}

// Answers every request still queued: the worker is going away.
void fail_queued(shm::Region* r) {
    uint32_t idx[64];
    for (shm::Ring* ring : {&r->requests, &r->control}) {
        uint32_t n;
        while ((n = shm::pop_many(r, *ring, idx, 64)) > 0) {
            for (uint32_t i = 0; i < n; ++i) {
                shm::Slot* s = shm::slot(r, idx[i]);
                if (!pool::Pool::take(r, idx[i])) continue;
                if (s->kind == shm::RETIRE) {
                    shm::release(r, idx[i]);
                    continue;
                }
                s->status = shm::WORKER_GONE;
                pool::Pool::finish(r, idx[i]);
            }
        }
    }
}

void set_failed(shm::Slot* s, const std::string& message) {
    s->status = shm::FAILED;
    snprintf(s->message, sizeof s->message, "%s", message.c_str());
}

// LOAD: copy the handed-over model out of its DSM segment and load it.
void load(shm::Region* r, pool::Registry& registry, shm::Slot* s) {
    pool::ModelKey key{s->db, s->model_id};
    if (registry.contains(key)) {
        s->status = shm::OK;
        return;
    }
    const auto limit = static_cast<uint64_t>(sqlapi::model_memory_kb) * 1024;
    std::vector<uint8_t> bytes;
    std::vector<double> classes;
    bool classification = false;
    bool attached = false;
    uint64_t nbytes = 0;
    auto copied = pg::call([&] {
        dsm_segment* seg = dsm_attach(s->dsm_handle);
        if (!seg) return;  // the backend gave up and the segment is gone
        attached = true;
        auto* h = static_cast<shm::Handoff*>(dsm_segment_address(seg));
        nbytes = h->nbytes;
        if (nbytes <= limit) {  // a model too large is refused unparsed, below
            classification = h->classification != 0;
            classes.assign(shm::handoff_classes(h), shm::handoff_classes(h) + h->nclasses);
            bytes.assign(shm::handoff_bytes(h), shm::handoff_bytes(h) + h->nbytes);
        }
        dsm_detach(seg);
    });
    if (!copied) {
        set_failed(s, copied.error().message);
        return;
    }
    if (!attached) {
        set_failed(s, "the model's shared memory segment was gone");
        return;
    }
    if (auto fits = pool::Registry::fits(key, nbytes, limit); !fits) {
        set_failed(s, fits.error().message);
        return;
    }
    auto model = Model::load(bytes.data(), bytes.size(),
                             classification ? Task::classification : Task::regression,
                             std::move(classes));
    if (!model) {
        set_failed(s, model.error().message);
        return;
    }
    auto ok = registry.insert(key, std::move(*model), bytes.size(), limit);
    bytes = std::vector<uint8_t>();
    // Parsing a model builds XGBoost's JSON document of it, many small
    // blocks that glibc keeps after they are freed; hand them back, or the
    // worker would hold several copies' worth of a large model.
    malloc_trim(0);
    if (!ok) {
        set_failed(s, ok.error().message);
        return;
    }
    s->status = shm::OK;
}

void serve_control(shm::Region* r, pool::Registry& registry) {
    uint32_t idx[32];
    uint32_t n;
    while ((n = shm::pop_many(r, r->control, idx, 32)) > 0) {
        for (uint32_t i = 0; i < n; ++i) {
            shm::Slot* s = shm::slot(r, idx[i]);
            if (!pool::Pool::take(r, idx[i])) continue;
            if (s->kind == shm::RETIRE) {
                registry.retire(pool::ModelKey{s->db, s->model_id});
                shm::release(r, idx[i]);  // nobody waits for a retire
                continue;
            }
            load(r, registry, s);
            pool::Pool::finish(r, idx[i]);
        }
    }
}

void apply_settings(pool::Pool& p) {
    p.max_batch.store(static_cast<uint32_t>(sqlapi::max_batch), std::memory_order_relaxed);
    p.max_wait_us.store(static_cast<uint32_t>(sqlapi::max_wait_us), std::memory_order_relaxed);
    p.spin_us.store(static_cast<uint32_t>(sqlapi::spin_us), std::memory_order_relaxed);
}

Result<Datum> run(shm::Region* r) {
    pool::Registry registry(r);
    pool::Pool pool(r, registry);
    apply_settings(pool);
    {
        shm::bip::scoped_lock<shm::bip::interprocess_mutex> guard(r->lock);
        r->stopping = false;
        r->sleepers = 0;
        r->wakeups = 0;
    }
    // on_exit may stop the pool only while it exists.
    struct Published {
        ~Published() { running_pool = nullptr; }
    } published;
    pool.start(sqlapi::worker_threads());
    running_pool = &pool;
    r->worker_pid.store(MyProcPid);
    r->worker_procno.store(static_cast<uint32_t>(MyProc->pgprocno));
    r->worker_started_ns.store(shm::system_ns());
    r->ready.store(1, std::memory_order_release);

    Result<void> step;
    while (!ShutdownRequestPending) {
        bool reload = false;
        step = pg::call([&] {
            (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000,
                             PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
            CHECK_FOR_INTERRUPTS();
            if (ConfigReloadPending) {
                ConfigReloadPending = false;
                ProcessConfigFile(PGC_SIGHUP);
                reload = true;
            }
        });
        if (!step) break;
        if (reload) apply_settings(pool);
        serve_control(r, registry);
        if (sqlapi::model_idle_s > 0) {
            const uint64_t idle_ns = static_cast<uint64_t>(sqlapi::model_idle_s) * 1000000000ull;
            const uint64_t now = shm::steady_ns();
            if (now > idle_ns && registry.evict_unused_since(now - idle_ns) > 0) malloc_trim(0);
        }
    }
    // Stop taking requests, let the threads finish what they hold, then
    // answer whatever is still queued so no backend waits for us.
    r->ready.store(0, std::memory_order_release);
    pool.stop();
    running_pool = nullptr;
    fail_queued(r);
    if (!step) return tl::unexpected(step.error());
    return Datum(0);
}

}  // namespace

}  // namespace pgml::worker

void pgml_worker_main(Datum) {
    using namespace pgml;
    pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
    shm::Region* r = pg::region();
    if (!r) elog(FATAL, "pgml_worker: shared memory is not initialized");
    before_shmem_exit(worker::on_exit, 0);
    pgstat_report_appname("pgml_worker");
    pgstat_report_activity(STATE_IDLE, nullptr);
    ereport(LOG, (errmsg("pgml_worker: serving with %d scoring threads, %u request slots",
                         sqlapi::worker_threads(), r->nslots)));
    (void) pg::sql_entry([&]() -> Result<Datum> { return worker::run(r); });
    // Exit code 1: the postmaster restarts us after bgw_restart_time unless
    // the server is shutting down.
    proc_exit(1);
}
