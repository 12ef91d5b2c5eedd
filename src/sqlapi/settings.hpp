// The extension's settings (GUCs, prefix pgml_worker.), defined in module.cpp
// and documented in the README. Read by backends and by the worker's main
// thread; pool threads get the values they need through atomics.
#pragma once

namespace pgml::sqlapi {

enum class PredictPath { worker, backend, automatic };

extern int predict_path;      // a PredictPath
extern int timeout_ms;        // how long a backend waits for the worker
extern int threads;           // pool threads; 0 = one per CPU
extern int max_batch;         // rows one XGBoost call may score
extern int max_wait_us;       // how long a thread may wait for a batch to fill
extern int queue_slots;       // request slots; 0 = max_connections and friends
extern int max_features;      // widest row the worker path takes
extern int max_models;        // entries of the shared model table
extern int model_memory_kb;   // bound of the worker's models
extern int spin_us;           // how long an idle pool thread polls before it sleeps
extern int wait_spin_us;      // how long a backend polls for its answer before it sleeps
extern int model_idle_s;      // a model unused this long is freed; 0 = never

int worker_threads();

}  // namespace pgml::sqlapi
