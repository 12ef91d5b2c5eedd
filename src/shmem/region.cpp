#include "shmem/region.hpp"

#include <algorithm>
#include <new>

namespace pgml::shm {

namespace {

constexpr size_t align64(size_t n) { return (n + 63) & ~size_t{63}; }

struct Layout {
    size_t rings, slots, models, forests, counters, arena, total;
    uint32_t slot_size;
};

Layout layout(uint32_t nslots, uint32_t max_features, uint32_t max_models, uint64_t forest_memory,
              uint32_t counters) noexcept {
    Layout l{};
    l.slot_size = static_cast<uint32_t>(align64(sizeof(Slot) + sizeof(float) * max_features));
    l.rings = align64(sizeof(Region));
    l.slots = l.rings + align64(3 * sizeof(uint32_t) * nslots);
    l.models = l.slots + static_cast<size_t>(l.slot_size) * nslots;
    l.forests = l.models + align64(sizeof(ModelStat) * max_models);
    l.counters = l.forests + align64(sizeof(ForestEntry) * 2 * size_t{max_models});
    l.arena = l.counters + align64(sizeof(BackendCounters) * size_t{counters});
    l.total = l.arena + align64(forest_memory);
    return l;
}

}  // namespace

size_t region_size(uint32_t nslots, uint32_t max_features, uint32_t max_models,
                   uint64_t forest_memory, uint32_t counters) noexcept {
    return layout(nslots, max_features, max_models, forest_memory, counters).total;
}

Region* init_region(void* memory, uint32_t nslots, uint32_t max_features, uint32_t max_models,
                    uint64_t forest_memory, uint32_t tokens, uint32_t counters) noexcept {
    Layout l = layout(nslots, max_features, max_models, forest_memory, counters);
    auto* r = new (memory) Region();
    r->nslots = nslots;
    r->max_features = max_features;
    r->slot_size = l.slot_size;
    r->slots_offset = l.slots;
    r->max_models = max_models;
    r->models_offset = l.models;
    r->nforests = 2 * max_models;
    r->forests_offset = l.forests;
    r->arena_offset = l.arena;
    r->arena_size = align64(forest_memory);
    r->ncounters = counters;
    r->counters_offset = l.counters;
    for (uint32_t i = 0; i < counters; ++i) new (&backend_counters(r)[i]) BackendCounters();
    Ring* rings[3] = {&r->free_slots, &r->requests, &r->control};
    for (int i = 0; i < 3; ++i)
        *rings[i] = Ring{0, 0, nslots, l.rings + i * sizeof(uint32_t) * nslots};
    for (uint32_t i = 0; i < nslots; ++i) {
        new (slot(r, i)) Slot();
        ring_array(r, r->free_slots)[i] = i;
    }
    r->free_slots.count = nslots;
    for (uint32_t i = 0; i < max_models; ++i) new (&model_stats(r)[i]) ModelStat();
    for (uint32_t i = 0; i < r->nforests; ++i) new (&forest_entries(r)[i]) ForestEntry();
    r->forest_counters.ntokens = std::min(tokens, kMaxTokens);
    for (auto& t : r->forest_counters.token_since) t.store(0, std::memory_order_relaxed);
    return r;
}

}  // namespace pgml::shm
