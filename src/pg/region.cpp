#include "pg/region.hpp"

#include "pg/settings.hpp"

extern "C" {
#include "postgres.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
}

namespace pgml::pg {

namespace {

shmem_request_hook_type prev_request_hook = nullptr;
shmem_startup_hook_type prev_startup_hook = nullptr;
shm::Region* the_region = nullptr;

uint32_t slots() {
    // Default: one slot per possible backend, so no backend ever waits for
    // a slot unless the operator chose fewer.
    return settings::queue_slots > 0 ? static_cast<uint32_t>(settings::queue_slots)
                                   : static_cast<uint32_t>(MaxBackends);
}

uint64_t forest_memory() { return static_cast<uint64_t>(settings::forest_memory_kb) * 1024; }

// A counter per BackendId (1 .. MaxBackends).
uint32_t counters() { return static_cast<uint32_t>(MaxBackends) + 1; }

size_t size() {
    return shm::region_size(slots(), static_cast<uint32_t>(settings::max_features),
                            static_cast<uint32_t>(settings::max_models), forest_memory(), counters());
}

void request_hook() {
    if (prev_request_hook) prev_request_hook();
    RequestAddinShmemSpace(size());
}

void startup_hook() {
    if (prev_startup_hook) prev_startup_hook();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    void* mem = ShmemInitStruct("pgml_worker", size(), &found);
    if (!found) {
        // Everything but the forests' arena, which is last and needs no
        // zeroing: touching it would make its pages resident for nothing.
        memset(mem, 0, shm::region_size(slots(), static_cast<uint32_t>(settings::max_features),
                                        static_cast<uint32_t>(settings::max_models), 0, counters()));
        // Futex-based primitives need no initialization that could fail.
        the_region = shm::init_region(mem, slots(), static_cast<uint32_t>(settings::max_features),
                                      static_cast<uint32_t>(settings::max_models), forest_memory(),
                                      static_cast<uint32_t>(settings::worker_threads()), counters());
    } else {
        the_region = static_cast<shm::Region*>(mem);
    }
    LWLockRelease(AddinShmemInitLock);
}

}  // namespace

void install_region_hooks() {
    prev_request_hook = shmem_request_hook;
    shmem_request_hook = request_hook;
    prev_startup_hook = shmem_startup_hook;
    shmem_startup_hook = startup_hook;
}

shm::Region* region() { return the_region; }

}  // namespace pgml::pg
