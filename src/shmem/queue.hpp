// The queues of the shared region: rings of slot indices under one mutex.
// `free_slots` holds the slots nobody uses; `requests` the PREDICT and
// PROBA requests for the pool threads; `control` the LOAD and RETIRE
// requests for the worker's main thread. A slot is on at most one ring at
// a time and a ring holds as many entries as there are slots, so a push
// never finds a ring full.
//
// Pool threads sleep on a semaphore when the request ring is empty;
// enqueue posts it only when a thread sleeps that no earlier post will
// wake, and a thread looks at the ring under the lock before it sleeps: no
// request is left without a thread, and no thread is woken for nothing.
#pragma once

#include <cstdint>

namespace pgml::shm {

struct Region;

struct Ring {
    uint32_t head;  // next to pop
    uint32_t count;     // stored atomically: also read without the lock (queue.cpp)
    uint32_t capacity;
    uint64_t offset;  // of the uint32_t[capacity] array from the Region start
};

// Each takes the region's lock.
void push(Region* r, Ring& ring, uint32_t index) noexcept;
// Pops up to max indices into out; returns how many.
uint32_t pop_many(Region* r, Ring& ring, uint32_t* out, uint32_t max) noexcept;
uint32_t depth(Region* r, const Ring& ring) noexcept;

// The request queue of the pool.
void enqueue_request(Region* r, uint32_t index) noexcept;
// Blocks until requests are queued (returns up to max of them) or the pool
// is stopping (returns 0).
uint32_t take_requests(Region* r, uint32_t* out, uint32_t max) noexcept;
// Non-blocking: whatever is queued now, up to max.
uint32_t poll_requests(Region* r, uint32_t* out, uint32_t max) noexcept;
// Polls for up to spin_ns as the pool's one polling thread (returns 0 at
// once if another thread polls), and stops early as soon as a yield shows
// that another task wanted this CPU; then the caller blocks in
// take_requests. While a thread polls, enqueue does not post.
uint32_t spin_for_requests(Region* r, uint32_t* out, uint32_t max, uint64_t spin_ns) noexcept;
// Makes every pool thread return from take_requests, now and until
// start_requests.
void stop_requests(Region* r) noexcept;
// A new pool's start: no thread sleeps, none is stopping.
void start_requests(Region* r) noexcept;

// The same with r->lock already held (the slot state machine's sweep).
void push_locked(Region* r, Ring& ring, uint32_t index) noexcept;

}  // namespace pgml::shm
