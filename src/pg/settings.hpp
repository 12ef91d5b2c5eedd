// The extension's settings (GUCs, prefix pgml_worker.), defined in
// settings.cpp and documented in the README. Read by backends and by the
// worker's main thread; pool threads get the values they need through
// atomics the main thread sets.
#pragma once

namespace pgml::settings {

enum class PredictPath { worker, backend, automatic, inplace, queued };
// pgml_worker.debug_inject_fault (worker/main.cpp maps it to pool::Fault).
enum class InjectFault { none, score, load, handoff };

extern int predict_path;      // a PredictPath
extern int timeout_ms;        // how long a backend waits for the worker
extern int threads;           // pool threads; 0 = one per CPU
extern int max_batch;         // rows one XGBoost call may score
extern int max_wait_us;       // how long a thread may wait for a batch to fill
extern int queue_slots;       // request slots; 0 = one per possible backend
extern int max_features;      // widest row the worker path takes
extern int max_models;        // entries of the shared model table
extern int model_memory_kb;   // bound of the worker's models
extern int spin_us;           // how long an idle pool thread polls before it sleeps
extern int wait_spin_us;      // how long a backend polls for its answer before it sleeps
extern int model_idle_s;      // a model unused this long is freed; 0 = never
extern int train_progress_s;  // seconds between pgml.train's progress notices; 0 = none
extern int forest_memory_kb;  // the shared arena of compiled forests
extern int inject_fault;      // an InjectFault, for the tests

int worker_threads();

// From _PG_init: the settings any process may change, then (only while
// preloading, as Postgres requires) those fixed at server start.
void define();
void define_server_start();

}  // namespace pgml::settings
