#include "shmem/model_table.hpp"

#include <cstdio>
#include <cstring>

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
    begin_change(m);
    m.db = db;
    m.engine = engine;
    std::snprintf(m.engine_note, sizeof m.engine_note, "%s", engine_note ? engine_note : "");
    m.model_id = model_id;
    m.bytes = bytes;
    m.loaded_ns = system_ns();
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
    // The plain fields may be torn while the writer changes them; the
    // sequence check below throws such a copy away.
    out.db = m.db;
    out.engine = m.engine;
    std::memcpy(out.engine_note, m.engine_note, sizeof out.engine_note);
    out.engine_note[sizeof out.engine_note - 1] = '\0';
    out.model_id = m.model_id;
    out.bytes = m.bytes;
    out.loaded_ns = m.loaded_ns;
    out.requests = m.requests.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    return m.seq.load(std::memory_order_relaxed) == before;
}

}  // namespace pgml::shm
