// The serving background worker's main thread: registered from _PG_init,
// started by the postmaster (on a primary and, once consistent, on a hot
// standby), restarted by it one second after it exits.
//
// This thread is the only one of the worker that calls Postgres. It handles
// signals and configuration reloads, loads the models backends hand over in
// DSM segments (LOAD) and frees retired ones (RETIRE). Scoring never passes
// through it: pool threads take requests from shared memory directly.
#include <malloc.h>

#include "core/xgb.hpp"
#include "pg/guard.hpp"
#include "pg/region.hpp"
#include "pg/settings.hpp"
#include "shmem/clock.hpp"
#include "worker/control.hpp"
#include "worker/pool/pool.hpp"
#include "shmem/forests.hpp"
#include "worker/pool/registry.hpp"

extern "C" {
#include "postgres.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/guc.h"

PGDLLEXPORT void pgml_worker_main(Datum);
}

namespace pgml::worker {

namespace {

// Stops the pool and answers what is queued on every way out of the
// process, including a FATAL or proc_exit from inside a Postgres call:
// threads must not outlive the main thread's exit, and no backend may wait
// for a worker that is gone. noexcept: Postgres calls it.
pool::Pool* running_pool = nullptr;

void on_exit(int, Datum) noexcept {
    shm::Region* r = pg::region();
    if (!r) return;
    r->ready.store(0, std::memory_order_release);
    if (running_pool) running_pool->stop();
    running_pool = nullptr;
    shm::fail_queued(r);
}

uint32_t fault_of(settings::InjectFault f) {
    switch (f) {
        case settings::InjectFault::score: return pool::fault_score;
        case settings::InjectFault::load: return pool::fault_load;
        case settings::InjectFault::handoff: return pool::fault_handoff;
        case settings::InjectFault::none: break;
    }
    return pool::no_fault;
}

void apply_settings(pool::Pool& p) {
    p.max_batch.store(static_cast<uint32_t>(settings::max_batch), std::memory_order_relaxed);
    p.max_wait_us.store(static_cast<uint32_t>(settings::max_wait_us), std::memory_order_relaxed);
    p.spin_us.store(static_cast<uint32_t>(settings::spin_us), std::memory_order_relaxed);
    p.fault.store(fault_of(static_cast<settings::InjectFault>(settings::inject_fault)), std::memory_order_relaxed);
}

Result<Datum> run(shm::Region* r) {
    pool::Registry registry(r);
    pool::Pool pool(r, registry);
    apply_settings(pool);
    // What a previous worker left: slots it had taken and never answered
    // (it failed mid-way, or exited on a FATAL) would otherwise stay taken.
    if (uint32_t n = shm::reclaim_orphans(r); n > 0) {
        auto logged = pg::call(
            [&] { ereport(LOG, (errmsg("pgml_worker: reclaimed %u request slots a previous worker left", n))); });
        if (!logged) return tl::unexpected(logged.error());
    }
    // Forests a previous worker left (one that exited on a FATAL, which
    // skips its registry's destructor); freed once no backend reads them.
    shm::retire_all_forests(r);
    shm::start_requests(r);
    // on_exit may stop the pool only while it exists.
    struct Published {
        ~Published() { running_pool = nullptr; }
    } published;
    pool.start(settings::worker_threads());
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
        // An ERROR here is not one of a request's: the worker stops (the
        // postmaster starts a new one), re-throwing it below.
        if (!step) break;
        if (reload) apply_settings(pool);
        serve_control(r, registry, static_cast<uint64_t>(settings::model_memory_kb) * 1024,
                      pool.fault.load(std::memory_order_relaxed));
        // Models scored in place are used without the pool seeing it.
        registry.note_in_place_use();
        if (settings::model_idle_s > 0) {
            const uint64_t idle_ns = static_cast<uint64_t>(settings::model_idle_s) * 1000000000ull;
            const uint64_t now = shm::steady_ns();
            if (now > idle_ns && registry.evict_unused_since(now - idle_ns) > 0) malloc_trim(0);
        }
        // Forests retired since (evicted, redeployed, replaced) and no longer
        // pinned by a reader go back to the arena.
        shm::collect_forests(r);
    }
    // Stop taking requests, let the threads finish what they hold, then
    // answer whatever is still queued so no backend waits for us.
    on_exit(0, 0);
    if (!step) return tl::unexpected(step.error());
    return Datum(0);
}

}  // namespace

}  // namespace pgml::worker

void pgml_worker_main(Datum) {
    using namespace pgml;
    pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    // The worker runs no statements: a cancel (pg_cancel_backend) must not
    // turn into an ERROR that stops it and drops every model it holds.
    pqsignal(SIGINT, SIG_IGN);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
    shm::Region* r = pg::region();
    if (!r) elog(FATAL, "pgml_worker: shared memory is not initialized");
    // No XGBoost call of this thread may start OpenMP threads: they would
    // take Postgres' signals, and the pool is the worker's parallelism.
    xgb::use_one_thread_here();
    // A fixed trim threshold: glibc otherwise raises it, past 32 MB, once a
    // model's large blocks are freed, and never gives back the free top of
    // a thread's arena below it. A model is parsed on a thread of its own
    // (worker/control.cpp), whose arena then keeps the whole parse
    // resident (23 MB after loading a 15 MB model); with the threshold
    // fixed, that arena shrinks as the parse frees its blocks, and blocks
    // of 128 kB or more are mapped and unmapped on their own.
    mallopt(M_TRIM_THRESHOLD, 128 * 1024);
    before_shmem_exit(worker::on_exit, 0);
    pgstat_report_appname("pgml_worker");
    pgstat_report_activity(STATE_IDLE, nullptr);
    ereport(LOG, (errmsg("pgml_worker: serving with %d scoring threads, %u request slots",
                         settings::worker_threads(), r->nslots)));
    (void) pg::sql_entry([&]() -> Result<Datum> { return worker::run(r); });
    // Exit code 1: the postmaster restarts us after bgw_restart_time unless
    // the server is shutting down.
    proc_exit(1);
}
