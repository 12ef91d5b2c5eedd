#include "worker/pool/registry.hpp"

#include <iterator>
#include <mutex>
#include <string>

#include "shmem/clock.hpp"

namespace pgml::pool {

Registry::Registry(shm::Region* region) : region_(region) {
    // Entries still listed were left by a worker that exited on a FATAL,
    // which skips its registry's destructor.
    shm::ModelStat* table = shm::model_stats(region_);
    for (uint32_t i = 0; i < region_->max_models; ++i)
        if (table[i].in_use.load(std::memory_order_relaxed) != 0) shm::clear_model_stat(table[i]);
}

Registry::~Registry() {
    // No lock: taking one may throw, and no thread but ours is left.
    while (!models_.empty()) erase_locked(models_.begin());
}

Lease Registry::find(const ModelKey& key) {
    std::shared_lock lock(mu_);
    auto it = models_.find(key);
    if (it == models_.end()) return {};
    it->second->last_used.store(shm::steady_ns(), std::memory_order_relaxed);
    return Lease{it->second->model, it->second->stat};
}

bool Registry::contains(const ModelKey& key) {
    std::shared_lock lock(mu_);
    return models_.count(key) != 0;
}

void Registry::erase_locked(Map::iterator it) noexcept {
    bytes_ -= it->second->bytes;
    if (it->second->stat) shm::clear_model_stat(*it->second->stat);
    models_.erase(it);
}

Result<void> Registry::fits(const ModelKey& key, uint64_t bytes, uint64_t limit) {
    if (bytes <= limit) return {};
    return fail(sqlstate::limit_exceeded,
                "model " + std::to_string(key.id) + " needs " + std::to_string(bytes) +
                    " bytes, more than pgml_worker.model_memory allows (" + std::to_string(limit) + ")",
                "Raise pgml_worker.model_memory, or use pgml_worker.predict_path = 'backend'.");
}

Result<void> Registry::insert(const ModelKey& key, Model&& model, uint64_t bytes, uint64_t limit,
                              const char* engine_note) {
    if (auto ok = fits(key, bytes, limit); !ok) return ok;
    const shm::Engine engine = model.compiled() ? shm::ENGINE_FOREST : shm::ENGINE_XGBOOST;
    auto entry = std::make_unique<Entry>();
    entry->model = std::make_shared<const Model>(std::move(model));
    entry->bytes = bytes;
    entry->stat = nullptr;
    entry->forest_uses = 0;
    entry->last_used.store(shm::steady_ns(), std::memory_order_relaxed);

    std::unique_lock lock(mu_);
    if (auto it = models_.find(key); it != models_.end()) erase_locked(it);
    while (!models_.empty() && bytes_ + bytes > limit) {
        auto oldest = models_.begin();
        for (auto it = models_.begin(); it != models_.end(); ++it)
            if (it->second->last_used.load(std::memory_order_relaxed) <
                oldest->second->last_used.load(std::memory_order_relaxed))
                oldest = it;
        erase_locked(oldest);
    }
    // The one step that may throw (its node's memory), before anything
    // else changes.
    Entry& e = *models_.emplace(key, std::move(entry)).first->second;
    bytes_ += bytes;
    // A free entry of the shared table (this thread is its only writer);
    // when it is full the model still serves, it is only not listed.
    shm::ModelStat* table = shm::model_stats(region_);
    for (uint32_t i = 0; i < region_->max_models; ++i)
        if (table[i].in_use.load(std::memory_order_relaxed) == 0) {
            shm::set_model_stat(table[i], key.db, key.id, bytes, engine, engine_note);
            e.stat = &table[i];
            break;
        }
    return {};
}

size_t Registry::evict_unused_since(uint64_t before_ns) {
    std::unique_lock lock(mu_);
    size_t n = 0;
    for (auto it = models_.begin(); it != models_.end();) {
        auto next = std::next(it);
        if (it->second->last_used.load(std::memory_order_relaxed) < before_ns) {
            erase_locked(it);
            ++n;
        }
        it = next;
    }
    return n;
}

void Registry::note_in_place_use() {
    shm::ForestEntry* e = shm::forest_entries(region_);
    const uint64_t now = shm::steady_ns();
    std::shared_lock lock(mu_);
    for (uint32_t i = 0; i < region_->nforests; ++i) {
        if (e[i].state.load(std::memory_order_acquire) != shm::FOREST_READY) continue;
        auto it = models_.find(ModelKey{e[i].db.load(std::memory_order_relaxed),
                                        e[i].model_id.load(std::memory_order_relaxed)});
        if (it == models_.end()) continue;
        const uint64_t uses = e[i].uses.load(std::memory_order_relaxed);
        if (uses != it->second->forest_uses) {
            it->second->forest_uses = uses;  // only this thread writes it
            it->second->last_used.store(now, std::memory_order_relaxed);
        }
    }
}

uint32_t Registry::stat_index(const ModelKey& key) {
    std::shared_lock lock(mu_);
    auto it = models_.find(key);
    if (it == models_.end() || !it->second->stat) return shm::kNoForest;
    return static_cast<uint32_t>(it->second->stat - shm::model_stats(region_));
}

void Registry::retire(const ModelKey& key) {
    std::unique_lock lock(mu_);
    if (auto it = models_.find(key); it != models_.end()) erase_locked(it);
}

}  // namespace pgml::pool
