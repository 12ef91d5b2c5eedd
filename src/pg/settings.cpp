#include "pg/settings.hpp"

#include <climits>
#include <thread>

#include <sched.h>

extern "C" {
#include "postgres.h"
#include "utils/guc.h"
}

namespace pgml::settings {

int predict_path = static_cast<int>(PredictPath::worker);
int timeout_ms = 5000;
int threads = 0;
int max_batch = 64;
int max_wait_us = 0;
int queue_slots = 0;
int max_features = 256;
int max_models = 64;
int model_memory_kb = 1024 * 1024;
int spin_us = 200;
int model_idle_s = 3600;
int train_progress_s = 5;
int forest_memory_kb = 256 * 1024;
int wait_spin_us = 0;
int inject_fault = static_cast<int>(InjectFault::none);

// One per CPU this process may run on (its affinity, as taskset or a
// cpuset leave it), not per CPU of the machine.
int worker_threads() {
    if (threads > 0) return threads;
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) > 0) return CPU_COUNT(&cpus);
    unsigned n = std::thread::hardware_concurrency();
    return n > 0 ? static_cast<int>(n) : 1;
}

namespace {

const struct config_enum_entry predict_path_options[] = {
    {"worker", static_cast<int>(PredictPath::worker), false},
    {"backend", static_cast<int>(PredictPath::backend), false},
    {"auto", static_cast<int>(PredictPath::automatic), false},
    {"inplace", static_cast<int>(PredictPath::inplace), false},
    {"queued", static_cast<int>(PredictPath::queued), false},
    {nullptr, 0, false},
};

const struct config_enum_entry inject_fault_options[] = {
    {"none", static_cast<int>(InjectFault::none), false},
    {"score", static_cast<int>(InjectFault::score), false},
    {"load", static_cast<int>(InjectFault::load), false},
    {"handoff", static_cast<int>(InjectFault::handoff), false},
    {nullptr, 0, false},
};

}  // namespace

void define() {
    DefineCustomEnumVariable(
        "pgml_worker.predict_path", "Where pgml.predict scores a row.",
        "worker: the serving worker's shared models, scored in this connection from the "
        "model's shared compiled forest when one of pgml_worker.threads scoring tokens is free, "
        "else queued to the worker's pool; inplace: always in this connection when the model "
        "has a shared forest; queued: always the pool; backend: this connection loads the "
        "booster and calls XGBoost; auto: worker, or backend when the worker is not available.",
        &predict_path, static_cast<int>(PredictPath::worker), predict_path_options, PGC_USERSET, 0,
        nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "pgml_worker.timeout_ms", "How long pgml.predict waits for the worker's answer.",
        "Past it the prediction fails, or with predict_path = auto runs in this connection.",
        &timeout_ms, 5000, 1, 3600 * 1000, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "pgml_worker.max_batch", "Most requests one scoring thread scores in one XGBoost call.",
        nullptr, &max_batch, 64, 1, 4096, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "pgml_worker.max_wait_us", "How long a scoring thread waits for a batch to fill.",
        "0 scores at once whatever is queued.", &max_wait_us, 0, 0, 100000, PGC_SIGHUP, 0,
        nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "pgml_worker.model_memory", "Memory the worker's models may take (serialized size).",
        "The least recently used models are freed to stay below it.", &model_memory_kb,
        1024 * 1024, 16, INT_MAX, PGC_SIGHUP, GUC_UNIT_KB, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "pgml_worker.spin_us",
        "How long an idle scoring thread polls for the next request before it sleeps.",
        "One thread at a time polls, after a batch of one, and only while no other task wants "
        "its CPU; while it does, backends need not wake a sleeping one (tens of microseconds on "
        "virtual machines). 0 never polls.",
        &spin_us, 200, 0, 10000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "pgml_worker.wait_spin_us", "How long a backend polls for its answer before it sleeps.",
        "It yields the CPU at every look, so it only uses CPU nobody else wants. 0 sleeps at once.",
        &wait_spin_us, 0, 0, 10000, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "pgml_worker.train_progress", "How often pgml.train reports its progress.",
        "A NOTICE (building the matrix, search fit i of n, boosting round i of n, scoring) at "
        "most this often, the first one after this long: short trainings stay quiet. 0 reports "
        "nothing.",
        &train_progress_s, 5, 0, 3600, PGC_USERSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "pgml_worker.model_idle_timeout", "How long the worker keeps a model nobody asks for.",
        "Frees models of dropped databases, projects and extensions; a model asked for again is "
        "handed over again. 0 keeps models until evicted by model_memory.",
        &model_idle_s, 3600, 0, INT_MAX / 1000, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
    DefineCustomEnumVariable(
        "pgml_worker.debug_inject_fault", "Makes the serving worker fail on purpose (for tests).",
        "score: every scoring thread throws in the middle of each batch; load: the worker throws "
        "while it loads each model; handoff: a Postgres ERROR while the worker reads a model's "
        "hand-over segment. Requests so hit fail; every slot must still come back.",
        &inject_fault, static_cast<int>(InjectFault::none), inject_fault_options, PGC_SIGHUP,
        GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
}

void define_server_start() {
    DefineCustomIntVariable(
        "pgml_worker.threads", "Scoring threads of the serving worker (0: one per CPU).", nullptr,
        &threads, 0, 0, 256, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "pgml_worker.queue_slots", "Request slots in shared memory (0: one per possible backend).",
        "When all are in use, predicting backends wait for one.", &queue_slots, 0, 0, 1000000,
        PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "pgml_worker.max_features", "Widest feature row (and most classes) the worker path takes.",
        "Wider rows fail on the worker path and use the backend path under auto.", &max_features,
        256, 1, 65536, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "pgml_worker.max_models", "Models listed in pgml.worker_models().", nullptr, &max_models, 64,
        1, 100000, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "pgml_worker.forest_memory",
        "Shared memory for the models' compiled forests, which backends score in place.",
        "Reserved at server start; only what forests use is touched. A forest that does not fit "
        "is scored by the worker's pool alone. 0: no shared forests.",
        &forest_memory_kb, 256 * 1024, 0, INT_MAX, PGC_POSTMASTER, GUC_UNIT_KB, nullptr, nullptr, nullptr);
}

}  // namespace pgml::settings
