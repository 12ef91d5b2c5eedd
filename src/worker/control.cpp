#include "worker/control.hpp"

#include <malloc.h>

#include <exception>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>

#include "core/model.hpp"
#include "pg/guard.hpp"
#include "shmem/forests.hpp"
#include "worker/handoff_reader.hpp"
#include "worker/pool/own_thread.hpp"
#include "worker/pool/pool.hpp"

namespace pgml::worker {

namespace {

// Puts a model's forest into the shared arena (shmem/forests.hpp), for
// backends to score in place; the entry is retired when the model goes.
ForestPlacer shared_arena(shm::Region* r, const pool::ModelKey& key, uint32_t& entry) {
    return [r, key, &entry](size_t size) -> ForestPlace {
        entry = shm::reserve_forest(r, key.db, key.id, size);
        if (entry == shm::kNoForest) return {};
        void* data = shm::forest_bytes(r, entry);
        const uint32_t i = entry;
        // Should allocating the control block throw, the deleter runs.
        return ForestPlace{data, std::shared_ptr<void>(data, [r, i](void*) { shm::retire_forest(r, i); })};
    };
}

// LOAD: copy the handed-over model out of its DSM segment and hold it.
// The slot's status says how it went; may throw (memory).
void load(shm::Region* r, pool::Registry& registry, shm::Slot* s, uint64_t limit, uint32_t fault) {
    pool::ModelKey key{s->db, s->model_id};
    if (registry.contains(key)) {
        s->status = shm::OK;
        return;
    }
    struct Release {
        ~Release() { release_handoff(); }
    } release;
    auto h = read_handoff(s->dsm_handle, limit, (fault & pool::fault_handoff) != 0);
    if (!h) return shm::set_failed(s, h.error().message.c_str());
    if (auto fits = pool::Registry::fits(key, h->nbytes, limit); !fits)
        return shm::set_failed(s, fits.error().message.c_str());
    if (fault & pool::fault_load) throw std::runtime_error("injected fault: loading a model failed");
    // The model is scored by its compiled forest when it matched XGBoost on
    // every probe row; otherwise by XGBoost in the pool, as before. The
    // forest goes to shared memory, where backends score it in place; when
    // the arena has no room, to the worker's memory, for the pool only.
    // The log says which, and why not. Parsed, compiled and checked on a
    // thread of its own, whose malloc arena takes the parse's garbage
    // (pool/own_thread.hpp); this thread waits, so the arena's allocator is
    // still one thread at a time.
    std::optional<Result<Model>> model;
    uint32_t entry = shm::kNoForest;
    Result<void> forest;
    pool::run_on_own_thread([&] {
        model.emplace(Model::load(h->bytes, h->nbytes,
                                  h->classification ? Task::classification : Task::regression,
                                  std::vector<double>(h->classes, h->classes + h->nclasses)));
        if (!*model) return;
        try {
            forest = (*model)->use_forest(h->bytes, h->nbytes, shared_arena(r, key, entry));
        } catch (const std::bad_alloc&) {  // the check's copies: XGBoost serves it
            forest = fail(sqlstate::out_of_memory, "not compiled into a forest: out of memory");
        }
    });
    if (!*model) return shm::set_failed(s, model->error().message.c_str());
    auto& m = **model;
    std::string note = forest ? "" : forest.error().message;
    if (forest && !m.placed())
        note = "in the worker's memory only, for the pool: pgml_worker.forest_memory has no room for its " +
               std::to_string(m.compiled()->size) + " bytes";
    const std::string engine =
        !forest ? "XGBoost (" + note + ")"
                : m.placed() ? "its compiled forest, in shared memory (" + std::to_string(m.compiled()->size) + " bytes)"
                             : "its compiled forest (" + note + ")";
    auto logged = pg::call([&] {
        ereport(LOG, (errmsg("pgml_worker: model %lld of database %u is served by %s",
                             static_cast<long long>(key.id), key.db, engine.c_str())));
    });
    if (!logged) {
        shm::set_failed(s, logged.error().message.c_str());
        if (logged.error().pg_error) FreeErrorData(static_cast<ErrorData*>(logged.error().pg_error));
        return;
    }
    const bool shared = m.placed();
    auto ok = registry.insert(key, std::move(m), h->nbytes, limit, note.c_str());
    if (!ok) return shm::set_failed(s, ok.error().message.c_str());
    // Only now may backends score it in place: the worker holds it.
    if (shared) shm::publish_forest(r, entry, registry.stat_index(key));
    s->status = shm::OK;
}

}  // namespace

void serve_control(shm::Region* r, pool::Registry& registry, uint64_t limit, uint32_t fault) noexcept {
    uint32_t index;
    bool loaded = false;
    // One at a time: a request popped is taken at once, so none is ever
    // off the ring and not yet ours should anything below fail.
    while (shm::pop_many(r, r->control, &index, 1) == 1) {
        if (!shm::take(r, index)) continue;
        shm::Slot* s = shm::slot(r, index);
        try {
            if (s->kind == shm::RETIRE) {
                registry.retire(pool::ModelKey{s->db, s->model_id});
            } else {
                load(r, registry, s, limit, fault);
                loaded = true;
            }
        } catch (const std::exception& e) {
            shm::set_failed(s, e.what());
        } catch (...) {
            shm::set_failed(s, "unexpected C++ exception in the serving worker");
        }
        if (s->kind == shm::RETIRE)
            shm::release(r, index);  // nobody waits for a retire
        else
            shm::finish(r, index);
    }
    // Parsing a model builds XGBoost's JSON document of it, many small
    // blocks that glibc keeps after they are freed; hand them back, or the
    // worker would hold several copies' worth of a large model.
    if (loaded) malloc_trim(0);
}

}  // namespace pgml::worker
