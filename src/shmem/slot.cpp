#include "shmem/slot.hpp"

#include <cstdio>

#include "shmem/clock.hpp"
#include "shmem/region.hpp"
#include "shmem/spin.hpp"

namespace pgml::shm {

bool acquire_slot(Region* r, uint32_t& index) noexcept {
    if (pop_many(r, r->free_slots, &index, 1) != 1) return false;
    slot(r, index)->state.store(FILLING, std::memory_order_relaxed);
    return true;
}

uint32_t stamp(Region* r, Slot* s, Kind kind, uint32_t db, int64_t model_id) noexcept {
    uint32_t gen = r->next_generation.fetch_add(1, std::memory_order_relaxed) + 1;
    s->generation = gen;
    s->kind = kind;
    s->db = db;
    s->model_id = model_id;
    s->status = OK;
    s->nresult = 0;
    s->message[0] = '\0';
    s->enqueued_ns = steady_ns();
    return gen;
}

void publish_request(Region* r, uint32_t index) noexcept {
    slot(r, index)->state.store(QUEUED, std::memory_order_release);
    enqueue_request(r, index);
}

void publish_control(Region* r, uint32_t index) noexcept {
    slot(r, index)->state.store(QUEUED, std::memory_order_release);
    push(r, r->control, index);
}

// `sleeping` and `state` follow the store-then-load pattern on both sides,
// all sequentially consistent: the backend stores sleeping = 1 and then
// loads state; the worker stores DONE and then loads sleeping. At least one
// of them sees the other's store, so a sleeping backend is always woken.
uint32_t wait_for_answer(Slot* s, uint64_t spin_ns, int timeout_ms) noexcept {
    uint32_t state = s->state.load();
    if (state == DONE) return state;
    if (spin_ns > 0) {
        const uint64_t until = steady_ns() + spin_ns;
        do {
            const bool idle = yield_while_idle();
            if ((state = s->state.load()) == DONE) return state;
            if (!idle) break;
        } while (steady_ns() < until);
    }
    s->sleeping.store(1);
    state = s->state.load();
    if (state != DONE) {
        futex_wait(&s->state, state, timeout_ms);
        state = s->state.load();
    }
    s->sleeping.store(0, std::memory_order_relaxed);
    return state;
}

void abandon(Region* r, uint32_t index) noexcept {
    Slot* s = slot(r, index);
    uint32_t cur = s->state.load(std::memory_order_acquire);
    while (cur == QUEUED || cur == TAKEN)
        if (s->state.compare_exchange_weak(cur, ABANDONED, std::memory_order_acq_rel)) return;
    release(r, index);  // DONE, or never published: nobody else will free it
}

void release(Region* r, uint32_t index) noexcept {
    slot(r, index)->state.store(FREE, std::memory_order_release);
    push(r, r->free_slots, index);
}

bool take(Region* r, uint32_t index) noexcept {
    Slot* s = slot(r, index);
    uint32_t expected = QUEUED;
    if (!s->state.compare_exchange_strong(expected, TAKEN, std::memory_order_acq_rel)) {
        release(r, index);  // ABANDONED while queued: ours to free
        return false;
    }
    // Echoed with the answer: the backend checks it is its own request's.
    s->answered = s->generation;
    return true;
}

void finish(Region* r, uint32_t index) noexcept {
    Slot* s = slot(r, index);
    uint32_t expected = TAKEN;
    if (!s->state.compare_exchange_strong(expected, DONE)) {
        release(r, index);  // abandoned while we worked: ours to free
        return;
    }
    if (s->sleeping.load()) futex_wake(&s->state, 1);
}

void set_failed(Slot* s, const char* message) noexcept {
    s->status = FAILED;
    std::snprintf(s->message, sizeof s->message, "%s", message ? message : "");
}

void fail_queued(Region* r) noexcept {
    uint32_t idx[64];
    for (Ring* ring : {&r->requests, &r->control}) {
        uint32_t n;
        while ((n = pop_many(r, *ring, idx, 64)) > 0) {
            for (uint32_t i = 0; i < n; ++i) {
                if (!take(r, idx[i])) continue;
                Slot* s = slot(r, idx[i]);
                if (s->kind == RETIRE) {
                    release(r, idx[i]);  // nobody waits for a retire
                    continue;
                }
                s->status = WORKER_GONE;
                finish(r, idx[i]);
            }
        }
    }
}

uint32_t reclaim_orphans(Region* r) noexcept {
    // Under the lock no index enters or leaves a ring, so "on no ring" is
    // exact; each sweep marks with a new value, so no mark is left over
    // from an earlier one.
    uint32_t handled = 0;
    Guard g(r->lock);
    const uint32_t mark = ++r->sweeps;
    for (const Ring* ring : {&r->requests, &r->control}) {
        const uint32_t* a = ring_array(r, *ring);
        for (uint32_t i = 0; i < ring->count; ++i) slot(r, a[(ring->head + i) % ring->capacity])->queued_mark = mark;
    }
    for (uint32_t i = 0; i < r->nslots; ++i) {
        Slot* s = slot(r, i);
        uint32_t cur = s->state.load(std::memory_order_acquire);
        // Only the worker takes slots, and the previous worker is gone: a
        // TAKEN slot is nobody's work any more. Its backend gets an answer
        // (and frees the slot), unless it abandons it meanwhile.
        if (cur == TAKEN && s->kind == RETIRE) {  // nobody waits for a retire
            s->state.store(FREE, std::memory_order_release);
            push_locked(r, r->free_slots, i);
            ++handled;
            continue;
        }
        if (cur == TAKEN) {
            s->status = WORKER_GONE;
            if (s->state.compare_exchange_strong(cur, DONE)) {
                if (s->sleeping.load()) futex_wake(&s->state, 1);
                ++handled;
                continue;
            }
        }
        if (cur == ABANDONED && s->queued_mark != mark) {
            s->state.store(FREE, std::memory_order_release);
            push_locked(r, r->free_slots, i);
            ++handled;
        }
    }
    return handled;
}

}  // namespace pgml::shm
