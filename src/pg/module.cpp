// Library entry: module magic, settings, shared memory and the background
// worker. _PG_init may run in the postmaster (shared_preload_libraries): it
// must not call XGBoost there (DESIGN.md invariant 9), only register things
// and bind a few of libstdc++'s slots (bind_libstdcxx_slots, below).
// What backends need registered (invalidation and transaction callbacks)
// they register on first use, in backend/.
#include <chrono>
#include <cstdint>
#include <unordered_map>

#include "pg/region.hpp"
#include "pg/settings.hpp"

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void _PG_init(void);
}

namespace {

void register_worker() {
    BackgroundWorker w{};
    // A "connection" to no particular database (as the logical replication
    // launcher has) puts the worker in the proc array: it shows in
    // pg_stat_activity and pg_terminate_backend() can stop it.
    w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    // On a hot standby too: it reads no catalog, only shared memory.
    w.bgw_start_time = BgWorkerStart_ConsistentState;
    // A worker that exits (terminated, or after an ERROR) is started again
    // a second later; its models are handed over again on demand.
    w.bgw_restart_time = 1;
    snprintf(w.bgw_library_name, BGW_MAXLEN, "pgml_worker");
    snprintf(w.bgw_function_name, BGW_MAXLEN, "pgml_worker_main");
    snprintf(w.bgw_name, BGW_MAXLEN, "pgml_worker");
    snprintf(w.bgw_type, BGW_MAXLEN, "pgml_worker");
    RegisterBackgroundWorker(&w);
}

// libstdc++ comes into the server with ICU, before this library, and so is
// bound lazily: the first call through one of its own PLT slots resolves
// the slot and writes it. Done in a backend, that write copies libstdc++'s
// page of slots: 4 kB of private memory per connection. Comparing that page
// in a predicting backend with the postmaster's found two such slots on the
// predict paths: _Prime_rehash_policy::_M_next_bkt (the model cache's hash
// tables) and clock_gettime (std::chrono's clocks). Making the same calls
// here, in the postmaster before any fork, binds them once for every
// backend, which then keeps sharing the page.
void bind_libstdcxx_slots() noexcept {
    (void) std::chrono::steady_clock::now();
    (void) std::chrono::system_clock::now();
    try {
        std::unordered_map<int64_t, int> m;
        m.emplace(1, 1);
        m.rehash(64);
    } catch (...) {
        // Out of memory in the postmaster: the slots are bound on first use instead.
    }
}

}  // namespace

void _PG_init(void) {
    pgml::settings::define();
    if (process_shared_preload_libraries_in_progress) {
        pgml::settings::define_server_start();
        pgml::pg::install_region_hooks();
        register_worker();
        bind_libstdcxx_slots();
    } else {
        ereport(WARNING,
                (errmsg("pgml_worker is not in shared_preload_libraries: the serving worker is "
                        "not running"),
                 errhint("Predictions need pgml_worker.predict_path = 'backend' (or 'auto'). Add "
                         "pgml_worker to shared_preload_libraries and restart for the worker.")));
    }
    MarkGUCPrefixReserved("pgml_worker");
}
