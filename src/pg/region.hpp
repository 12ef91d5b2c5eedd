// Where the shared region lives: requested and built through Postgres'
// shared-memory hooks when the library is preloaded. Postgres-facing; used by
// backends and by the worker's main thread.
#pragma once

#include "shmem/region.hpp"

namespace pgml::pg {

// Installs the hooks; call from _PG_init while preloading.
void install_region_hooks();
// The region, or nullptr when the library was not preloaded.
shm::Region* region();

}  // namespace pgml::pg
