#include "shmem/queue.hpp"

#include <atomic>

#include "shmem/region.hpp"
#include "shmem/spin.hpp"

namespace pgml::shm {

namespace {

// A ring's count changes only under the lock, but a polling pool thread
// reads the request ring's count without it (a hint; the pop takes the
// lock). A plain store racing that read is a data race in C++ (found by
// ThreadSanitizer), so every store to a count is atomic. Relaxed is enough:
// the lock orders the ring's contents, and the unlocked read only decides
// whether to take the lock. Reads under the lock stay plain (stores happen
// only under it).
void set_count(Ring& ring, uint32_t count) noexcept {
    std::atomic_ref<uint32_t>(ring.count).store(count, std::memory_order_relaxed);
}
uint32_t count_hint(const Ring& ring) noexcept {
    // (atomic_ref<const T> is C++26; the load writes nothing.)
    return std::atomic_ref<uint32_t>(const_cast<uint32_t&>(ring.count)).load(std::memory_order_relaxed);
}

}  // namespace

void push_locked(Region* r, Ring& ring, uint32_t index) noexcept {
    ring_array(r, ring)[(ring.head + ring.count) % ring.capacity] = index;
    set_count(ring, ring.count + 1);
}

namespace {

uint32_t pop_locked(Region* r, Ring& ring, uint32_t* out, uint32_t max) noexcept {
    uint32_t n = ring.count < max ? ring.count : max;
    const uint32_t* a = ring_array(r, ring);
    for (uint32_t i = 0; i < n; ++i) out[i] = a[(ring.head + i) % ring.capacity];
    ring.head = (ring.head + n) % ring.capacity;
    set_count(ring, ring.count - n);
    return n;
}

// Whether to post `work` for a request just queued: only when a thread
// sleeps that no earlier post will wake, and none polls. Caller holds the lock.
bool needs_wakeup_locked(Region* r) noexcept {
    if (r->spinning.load(std::memory_order_acquire) != 0 || r->sleepers <= r->wakeups) return false;
    ++r->wakeups;
    return true;
}

}  // namespace

void push(Region* r, Ring& ring, uint32_t index) noexcept {
    Guard g(r->lock);
    push_locked(r, ring, index);
}

uint32_t pop_many(Region* r, Ring& ring, uint32_t* out, uint32_t max) noexcept {
    Guard g(r->lock);
    return pop_locked(r, ring, out, max);
}

uint32_t depth(Region* r, const Ring& ring) noexcept {
    Guard g(r->lock);
    return ring.count;
}

void enqueue_request(Region* r, uint32_t index) noexcept {
    bool wake;
    {
        Guard g(r->lock);
        push_locked(r, r->requests, index);
        wake = needs_wakeup_locked(r);
    }
    if (wake) r->work.post();
}

uint32_t take_requests(Region* r, uint32_t* out, uint32_t max) noexcept {
    r->lock.lock();
    for (;;) {
        if (r->stopping.load(std::memory_order_relaxed)) {
            r->lock.unlock();
            return 0;
        }
        if (r->requests.count > 0) {
            uint32_t n = pop_locked(r, r->requests, out, max);
            r->lock.unlock();
            return n;
        }
        ++r->sleepers;
        r->lock.unlock();
        r->work.wait();
        r->lock.lock();
        --r->sleepers;
        --r->wakeups;
    }
}

uint32_t poll_requests(Region* r, uint32_t* out, uint32_t max) noexcept {
    return pop_many(r, r->requests, out, max);
}

uint32_t spin_for_requests(Region* r, uint32_t* out, uint32_t max, uint64_t spin_ns) noexcept {
    uint32_t expected = 0;
    if (!r->spinning.compare_exchange_strong(expected, 1)) return 0;
    const uint64_t until = steady_ns() + spin_ns;
    uint32_t n = 0;
    bool marked = true;  // `spinning` is ours
    for (unsigned i = 1;; ++i) {
        // Reading the count without the lock is only a hint; the pop takes it.
        if (count_hint(r->requests) > 0 &&
            (n = pop_many(r, r->requests, out, max)) > 0)
            break;
        if (r->stopping.load(std::memory_order_relaxed)) break;
        if (i % kLooksPerYield != 0) {
            __builtin_ia32_pause();
            continue;
        }
        if (steady_ns() >= until) break;
        // The mark is off while we yield, since another task may keep the
        // CPU for a whole time slice: meanwhile backends wake a sleeping
        // thread. Every way on looks at the ring again (the loop, or the
        // caller's locked look in take_requests).
        r->spinning.store(0, std::memory_order_release);
        const bool idle = yield_while_idle();
        expected = 0;
        if (!idle || r->stopping.load(std::memory_order_relaxed) ||
            !r->spinning.compare_exchange_strong(expected, 1)) {
            marked = false;  // given up, or another thread polls now
            break;
        }
    }
    // Stop polling under the lock: a request enqueued while we polled (and
    // did not post, seeing us poll) is either taken by the caller's locked
    // look in take_requests, or, if we return with a batch and more remain
    // queued, handed to a sleeping thread here.
    bool wake = false;
    {
        Guard g(r->lock);
        if (marked) r->spinning.store(0, std::memory_order_release);
        if (n > 0 && r->requests.count > 0) wake = needs_wakeup_locked(r);
    }
    if (wake) r->work.post();
    return n;
}

void stop_requests(Region* r) noexcept {
    uint32_t posts;
    {
        Guard g(r->lock);
        r->stopping.store(true, std::memory_order_relaxed);
        posts = r->sleepers - r->wakeups;
        r->wakeups = r->sleepers;
    }
    for (uint32_t i = 0; i < posts; ++i) r->work.post();
}

void start_requests(Region* r) noexcept {
    Guard g(r->lock);
    r->stopping.store(false, std::memory_order_relaxed);
    r->sleepers = 0;
    r->wakeups = 0;
    r->spinning.store(0, std::memory_order_relaxed);
    // Posts a stopped pool's threads never took would wake the new ones
    // for nothing and upset the count of wake-ups owed.
    r->work.reset();
}

}  // namespace pgml::shm
