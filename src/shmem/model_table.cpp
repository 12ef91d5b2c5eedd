#include "shmem/model_table.hpp"

#include <cstdio>

#include "shmem/clock.hpp"

namespace pgml::shm {

namespace {
// The fence keeps the entry's stores after the odd count; the release on
// the even count keeps them before it.
void begin_change(ModelStat& m) noexcept {
    m.seq.fetch_add(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
}
void end_change(ModelStat& m) noexcept { m.seq.fetch_add(1, std::memory_order_release); }
}  // namespace

void set_model_stat(ModelStat& m, uint32_t db, int64_t model_id, uint64_t bytes, Engine engine,
                    const char* engine_note) noexcept {
    char note[kEngineNoteMax] = {};
    std::snprintf(note, sizeof note, "%s", engine_note ? engine_note : "");
    const uint64_t now = system_ns();
    begin_change(m);
    m.db.store(db, std::memory_order_relaxed);
    m.engine.store(engine, std::memory_order_relaxed);
    // Up to its NUL only: what follows is never read.
    for (size_t i = 0; i < kEngineNoteMax; ++i) {
        m.engine_note[i].store(note[i], std::memory_order_relaxed);
        if (note[i] == '\0') break;
    }
    m.model_id.store(model_id, std::memory_order_relaxed);
    m.bytes.store(bytes, std::memory_order_relaxed);
    m.loaded_ns.store(now, std::memory_order_relaxed);
    m.requests.store(0, std::memory_order_relaxed);
    m.in_use.store(1, std::memory_order_relaxed);
    end_change(m);
}

void clear_model_stat(ModelStat& m) noexcept {
    begin_change(m);
    m.in_use.store(0, std::memory_order_relaxed);
    end_change(m);
}

bool read_model_stat(const ModelStat& m, ModelRow& out) noexcept {
    const uint32_t before = m.seq.load(std::memory_order_acquire);
    if (before % 2 != 0 || m.in_use.load(std::memory_order_acquire) != 1) return false;
    // The copy may mix old and new values while the writer changes the
    // entry; the sequence check below throws such a copy away.
    out.db = m.db.load(std::memory_order_relaxed);
    out.engine = m.engine.load(std::memory_order_relaxed);
    for (size_t i = 0; i < kEngineNoteMax; ++i)
        if ((out.engine_note[i] = m.engine_note[i].load(std::memory_order_relaxed)) == '\0') break;
    out.engine_note[sizeof out.engine_note - 1] = '\0';
    out.model_id = m.model_id.load(std::memory_order_relaxed);
    out.bytes = m.bytes.load(std::memory_order_relaxed);
    out.loaded_ns = m.loaded_ns.load(std::memory_order_relaxed);
    out.requests = m.requests.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    return m.seq.load(std::memory_order_relaxed) == before;
}

}  // namespace pgml::shm
