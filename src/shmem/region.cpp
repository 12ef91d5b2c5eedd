#include "shmem/region.hpp"

#include <new>

namespace pgml::shm {

namespace {

constexpr size_t align64(size_t n) { return (n + 63) & ~size_t{63}; }

struct Layout {
    size_t rings, slots, models, total;
    uint32_t slot_size;
};

Layout layout(uint32_t nslots, uint32_t max_features, uint32_t max_models) noexcept {
    Layout l{};
    l.slot_size = static_cast<uint32_t>(align64(sizeof(Slot) + sizeof(float) * max_features));
    l.rings = align64(sizeof(Region));
    l.slots = l.rings + align64(3 * sizeof(uint32_t) * nslots);
    l.models = l.slots + static_cast<size_t>(l.slot_size) * nslots;
    l.total = l.models + align64(sizeof(ModelStat) * max_models);
    return l;
}

}  // namespace

size_t region_size(uint32_t nslots, uint32_t max_features, uint32_t max_models) noexcept {
    return layout(nslots, max_features, max_models).total;
}

Region* init_region(void* memory, uint32_t nslots, uint32_t max_features, uint32_t max_models) noexcept {
    Layout l = layout(nslots, max_features, max_models);
    auto* r = new (memory) Region();
    r->nslots = nslots;
    r->max_features = max_features;
    r->slot_size = l.slot_size;
    r->slots_offset = l.slots;
    r->max_models = max_models;
    r->models_offset = l.models;
    Ring* rings[3] = {&r->free_slots, &r->requests, &r->control};
    for (int i = 0; i < 3; ++i)
        *rings[i] = Ring{0, 0, nslots, l.rings + i * sizeof(uint32_t) * nslots};
    for (uint32_t i = 0; i < nslots; ++i) {
        new (slot(r, i)) Slot();
        ring_array(r, r->free_slots)[i] = i;
    }
    r->free_slots.count = nslots;
    for (uint32_t i = 0; i < max_models; ++i) new (&model_stats(r)[i]) ModelStat();
    return r;
}

}  // namespace pgml::shm
