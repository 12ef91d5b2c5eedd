// What backends call inside PG_TRY blocks, PG_CATCH handlers and
// before_shmem_exit callbacks, and what the worker calls on its way out,
// must not be able to throw: an exception there skips Postgres' own
// bookkeeping (PG_END_TRY, the exception stack). Checked at compile time.
#include <gtest/gtest.h>

#include "shmem/claims.hpp"
#include "shmem/region.hpp"
#include "worker/pool/pool.hpp"

namespace pgml::shm {
namespace {

Region* r = nullptr;
Slot* s = nullptr;
uint32_t i = 0;
uint64_t key = 0;

// The backend's side of a request (worker_client.cpp, inside PG_TRY and its exit hook).
static_assert(noexcept(acquire_slot(r, i)));
static_assert(noexcept(stamp(r, s, PREDICT, 0, 0)));
static_assert(noexcept(publish_request(r, i)));
static_assert(noexcept(publish_control(r, i)));
static_assert(noexcept(wait_for_answer(s, 0, 0)));
static_assert(noexcept(abandon(r, i)));
static_assert(noexcept(release(r, i)));
static_assert(noexcept(claim_load(r->claims, key, 0)));
static_assert(noexcept(release_load(r->claims, Claim{0, 0})));
static_assert(noexcept(load_claimed(r->claims, key, 0)));
// Resolving a miss (model_cache.cpp: the claim's destructor and exit hook).
static_assert(noexcept(claim_resolving(r->deployed, 0, "p", 0)));
static_assert(noexcept(release_resolving(r->deployed, Claim{0, 0})));
static_assert(noexcept(await_resolved(r->deployed, 0, 0, "p", 0, std::declval<DeployedFacts&>())));
// The worker's way out and way in (its exit hook, its start).
static_assert(noexcept(fail_queued(r)));
static_assert(noexcept(reclaim_orphans(r)));
static_assert(noexcept(stop_requests(r)));
static_assert(noexcept(start_requests(r)));
static_assert(noexcept(std::declval<pool::Pool&>().stop()));
// The primitives under all of it.
static_assert(noexcept(std::declval<Mutex&>().lock()));
static_assert(noexcept(std::declval<Mutex&>().unlock()));
static_assert(noexcept(std::declval<Semaphore&>().post()));
static_assert(noexcept(std::declval<Semaphore&>().wait()));

TEST(Noexcept, CheckedAtCompileTime) { SUCCEED(); }

}  // namespace
}  // namespace pgml::shm
