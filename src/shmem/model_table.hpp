// The table of models the worker holds, behind pgml.worker_models() and
// the model count and bytes of pgml.worker_stats(). One writer (the
// worker's main thread), many readers that must never wait for it.
//
// Which model an entry describes (in_use, db, model_id, bytes, loaded_ns)
// is written inside a sequence lock: `seq` is odd while it changes, and a
// reader that sees it odd, or changed after it copied the entry, drops the
// copy, so a row never shows one model's id with another's database or
// size. `requests` is added to by pool threads; one still holding a lease
// on a model freed meanwhile may add a batch to the entry's next model (a
// counter only).
//
// The fields under the sequence lock are atomics, accessed relaxed: a
// reader may copy them while the writer changes them (the copy is then
// thrown away), and with plain fields that overlap would be a data race,
// undefined behaviour in C++ (ThreadSanitizer reported it). Relaxed atomic
// loads and stores compile to the same plain moves on x86; the ordering
// comes from the fences around them (model_table.cpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace pgml::shm {

// Which engine scores a model, and (xgboost) why not a forest.
enum Engine : uint32_t { ENGINE_XGBOOST = 0, ENGINE_FOREST = 1 };
inline constexpr size_t kEngineNoteMax = 200;

struct ModelStat {
    std::atomic<uint32_t> in_use;  // 0 = empty entry
    std::atomic<uint32_t> seq;
    std::atomic<uint32_t> db;
    std::atomic<uint32_t> engine;  // Engine
    std::atomic<int64_t> model_id;
    std::atomic<uint64_t> bytes;
    std::atomic<uint64_t> loaded_ns;  // system clock, ns since the epoch
    std::atomic<uint64_t> requests;
    std::atomic<char> engine_note[kEngineNoteMax];  // NUL-terminated
};

// The writer's side: an entry now describes this model, or none.
void set_model_stat(ModelStat& m, uint32_t db, int64_t model_id, uint64_t bytes, Engine engine,
                    const char* engine_note) noexcept;
void clear_model_stat(ModelStat& m) noexcept;

// A reader's consistent copy of entry m: false if it is empty or changed
// while being copied.
struct ModelRow {
    uint32_t db;
    uint32_t engine;
    int64_t model_id;
    uint64_t bytes, requests, loaded_ns;
    char engine_note[kEngineNoteMax];
};
bool read_model_stat(const ModelStat& m, ModelRow& out) noexcept;

}  // namespace pgml::shm
