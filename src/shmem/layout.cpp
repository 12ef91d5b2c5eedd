#include "shmem/layout.hpp"

#include <chrono>
#include <cmath>
#include <new>

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace pgml::shm {

namespace {

constexpr size_t align64(size_t n) { return (n + 63) & ~size_t{63}; }

uint32_t* ring_array(Region* r, const Ring& ring) {
    return reinterpret_cast<uint32_t*>(reinterpret_cast<char*>(r) + ring.offset);
}

struct Layout {
    size_t rings, slots, models, total;
    uint32_t slot_size;
};

Layout layout(uint32_t nslots, uint32_t max_features, uint32_t max_models) {
    Layout l{};
    l.slot_size = static_cast<uint32_t>(align64(sizeof(Slot) + sizeof(float) * max_features));
    l.rings = align64(sizeof(Region));
    l.slots = l.rings + align64(3 * sizeof(uint32_t) * nslots);
    l.models = l.slots + static_cast<size_t>(l.slot_size) * nslots;
    l.total = l.models + align64(sizeof(ModelStat) * max_models);
    return l;
}

}  // namespace

size_t region_size(uint32_t nslots, uint32_t max_features, uint32_t max_models) {
    return layout(nslots, max_features, max_models).total;
}

Region* init_region(void* memory, uint32_t nslots, uint32_t max_features, uint32_t max_models) {
    Layout l = layout(nslots, max_features, max_models);
    auto* r = new (memory) Region();  // constructs the mutex and semaphore
    r->nslots = nslots;
    r->max_features = max_features;
    r->slot_size = l.slot_size;
    r->slots_offset = static_cast<uint32_t>(l.slots);
    r->max_models = max_models;
    r->models_offset = static_cast<uint32_t>(l.models);
    Ring* rings[3] = {&r->free_slots, &r->requests, &r->control};
    for (int i = 0; i < 3; ++i)
        *rings[i] = Ring{0, 0, nslots, static_cast<uint32_t>(l.rings + i * sizeof(uint32_t) * nslots)};
    for (uint32_t i = 0; i < nslots; ++i) {
        new (slot(r, i)) Slot();
        ring_array(r, r->free_slots)[i] = i;
    }
    r->free_slots.count = nslots;
    for (uint32_t i = 0; i < max_models; ++i) new (&model_stats(r)[i]) ModelStat();
    return r;
}

bool pop_free(Region* r, uint32_t& index) {
    return pop_many(r, r->free_slots, &index, 1) == 1;
}

void push_free(Region* r, uint32_t index) { push(r, r->free_slots, index); }

namespace {
// The ring operations proper; the caller holds r->lock.
void push_locked(Region* r, Ring& ring, uint32_t index) {
    ring_array(r, ring)[(ring.head + ring.count) % ring.capacity] = index;
    ++ring.count;
}

uint32_t pop_locked(Region* r, Ring& ring, uint32_t* out, uint32_t max) {
    uint32_t n = ring.count < max ? ring.count : max;
    const uint32_t* a = ring_array(r, ring);
    for (uint32_t i = 0; i < n; ++i) out[i] = a[(ring.head + i) % ring.capacity];
    ring.head = (ring.head + n) % ring.capacity;
    ring.count -= n;
    return n;
}
}  // namespace

void push(Region* r, Ring& ring, uint32_t index) {
    bip::scoped_lock<bip::interprocess_mutex> guard(r->lock);
    push_locked(r, ring, index);
}

uint32_t pop_many(Region* r, Ring& ring, uint32_t* out, uint32_t max) {
    bip::scoped_lock<bip::interprocess_mutex> guard(r->lock);
    return pop_locked(r, ring, out, max);
}

uint32_t depth(Region* r, const Ring& ring) {
    bip::scoped_lock<bip::interprocess_mutex> guard(r->lock);
    return ring.count;
}

void enqueue_request(Region* r, uint32_t index) {
    bool wake = false;
    {
        bip::scoped_lock<bip::interprocess_mutex> guard(r->lock);
        push_locked(r, r->requests, index);
        if (r->spinning.load(std::memory_order_acquire) == 0 && r->sleepers > r->wakeups) {
            ++r->wakeups;
            wake = true;
        }
    }
    if (wake) r->work.post();
}

uint32_t take_requests(Region* r, uint32_t* out, uint32_t max) {
    bip::scoped_lock<bip::interprocess_mutex> guard(r->lock);
    for (;;) {
        if (r->stopping) return 0;
        if (r->requests.count > 0) return pop_locked(r, r->requests, out, max);
        ++r->sleepers;
        guard.unlock();
        r->work.wait();
        guard.lock();
        --r->sleepers;
        --r->wakeups;
    }
}

uint32_t poll_requests(Region* r, uint32_t* out, uint32_t max) {
    return pop_many(r, r->requests, out, max);
}

// A yield that takes longer than this ran another task.
constexpr uint64_t kBusyYieldNs = 5000;
// Looks at the ring between two yields: a few microseconds.
constexpr unsigned kLooksPerYield = 128;

uint32_t spin_for_requests(Region* r, uint32_t* out, uint32_t max, uint64_t spin_ns) {
    uint32_t expected = 0;
    if (!r->spinning.compare_exchange_strong(expected, 1)) return 0;
    const uint64_t until = steady_ns() + spin_ns;
    uint32_t n = 0;
    bool marked = true;  // `spinning` is ours
    for (unsigned i = 1;; ++i) {
        // Reading the count without the lock is only a hint; the pop takes it.
        if (reinterpret_cast<std::atomic<uint32_t>*>(&r->requests.count)->load(std::memory_order_relaxed) > 0 &&
            (n = pop_many(r, r->requests, out, max)) > 0)
            break;
        if (r->stopping) break;
        if (i % kLooksPerYield != 0) {
            __builtin_ia32_pause();
            continue;
        }
        if (steady_ns() >= until) break;
        // Poll only CPU nobody else wants: a yield that returns late ran
        // another task, so this CPU is needed elsewhere. The mark is off
        // while we yield, since that other task may keep the CPU for a
        // whole time slice: meanwhile backends wake a sleeping thread. Every
        // way on looks at the ring again (the loop, or the caller's locked
        // look in take_requests).
        r->spinning.store(0, std::memory_order_release);
        const uint64_t before = steady_ns();
        sched_yield();
        expected = 0;
        if (steady_ns() - before > kBusyYieldNs || r->stopping ||
            !r->spinning.compare_exchange_strong(expected, 1)) {
            marked = false;  // given up, or another thread polls now
            break;
        }
    }
    // Stop spinning under the lock: a request enqueued while we spun (and
    // did not post, seeing us spin) is either taken by the caller's locked
    // look in take_requests, or, if we return with a batch and more remain
    // queued, handed to a sleeping thread here.
    bool wake = false;
    {
        bip::scoped_lock<bip::interprocess_mutex> guard(r->lock);
        if (marked) r->spinning.store(0, std::memory_order_release);
        if (n > 0 && r->requests.count > 0 && r->sleepers > r->wakeups) {
            ++r->wakeups;
            wake = true;
        }
    }
    if (wake) r->work.post();
    return n;
}

void stop_requests(Region* r) {
    uint32_t posts;
    {
        bip::scoped_lock<bip::interprocess_mutex> guard(r->lock);
        r->stopping = true;
        posts = r->sleepers - r->wakeups;
        r->wakeups = r->sleepers;
    }
    for (uint32_t i = 0; i < posts; ++i) r->work.post();
}

int claim_load(Region* r, uint64_t key) {
    const uint64_t now = steady_ns();
    if (load_claimed(r, key)) return -1;
    for (int i = 0; i < kLoadClaims; ++i) {
        LoadClaim& c = r->claims[i];
        uint64_t cur = c.key.load(std::memory_order_acquire);
        bool stale = cur != 0 && now - c.since_ns.load(std::memory_order_acquire) > kClaimStaleNs;
        if (cur != 0 && !stale) continue;
        // Stamp the time first, so nobody judges the new claim by the old one's.
        c.since_ns.store(now, std::memory_order_release);
        if (c.key.compare_exchange_strong(cur, key, std::memory_order_acq_rel)) return i;
    }
    return -2;
}

void release_load(Region* r, int claim, uint64_t key) {
    if (claim < 0) return;
    uint64_t expected = key;
    r->claims[claim].key.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
}

bool load_claimed(Region* r, uint64_t key) {
    const uint64_t now = steady_ns();
    for (int i = 0; i < kLoadClaims; ++i) {
        LoadClaim& c = r->claims[i];
        if (c.key.load(std::memory_order_acquire) == key &&
            now - c.since_ns.load(std::memory_order_acquire) <= kClaimStaleNs)
            return true;
    }
    return false;
}

namespace {
// The fence keeps the entry's stores after the odd count; the release on
// the even count keeps them before it.
void begin_change(ModelStat& m) {
    m.seq.fetch_add(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
}
void end_change(ModelStat& m) { m.seq.fetch_add(1, std::memory_order_release); }
}  // namespace

void set_model_stat(ModelStat& m, uint32_t db, int64_t model_id, uint64_t bytes) {
    begin_change(m);
    m.db = db;
    m.model_id = model_id;
    m.bytes = bytes;
    m.loaded_ns = system_ns();
    m.requests.store(0, std::memory_order_relaxed);
    m.in_use.store(1, std::memory_order_relaxed);
    end_change(m);
}

void clear_model_stat(ModelStat& m) {
    begin_change(m);
    m.in_use.store(0, std::memory_order_relaxed);
    end_change(m);
}

bool read_model_stat(const ModelStat& m, ModelRow& out) {
    const uint32_t before = m.seq.load(std::memory_order_acquire);
    if (before % 2 != 0 || m.in_use.load(std::memory_order_acquire) != 1) return false;
    // The plain fields may be torn while the writer changes them; the
    // sequence check below throws such a copy away.
    out.db = m.db;
    out.model_id = m.model_id;
    out.bytes = m.bytes;
    out.loaded_ns = m.loaded_ns;
    out.requests = m.requests.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    return m.seq.load(std::memory_order_relaxed) == before;
}

namespace {
// Bucket b covers [2^(b/4 + ...)]: 4 buckets per power of two of ns.
int bucket_of(uint64_t ns) {
    if (ns < 1) ns = 1;
    double b = std::log2(static_cast<double>(ns)) * 4.0;
    int i = static_cast<int>(b);
    return i < 0 ? 0 : (i >= kLatencyBuckets ? kLatencyBuckets - 1 : i);
}
uint64_t bucket_upper(int b) { return static_cast<uint64_t>(std::exp2((b + 1) / 4.0)); }
}  // namespace

void record_latency(Stats& s, uint64_t ns) {
    s.latency[bucket_of(ns)].fetch_add(1, std::memory_order_relaxed);
}

uint64_t latency_quantile(const Stats& s, double q) {
    uint64_t total = 0;
    for (int b = 0; b < kLatencyBuckets; ++b) total += s.latency[b].load(std::memory_order_relaxed);
    if (total == 0) return 0;
    uint64_t target = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
    uint64_t seen = 0;
    for (int b = 0; b < kLatencyBuckets; ++b) {
        seen += s.latency[b].load(std::memory_order_relaxed);
        if (seen >= target) return bucket_upper(b);
    }
    return bucket_upper(kLatencyBuckets - 1);
}

// Not FUTEX_PRIVATE_FLAG: the word is in memory shared between processes.
void futex_wait(std::atomic<uint32_t>* word, uint32_t expected, int timeout_ms) {
    struct timespec ts;
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = static_cast<long>(timeout_ms % 1000) * 1000000L;
    // Returns on a wake-up, the timeout, a signal, or at once if the word
    // no longer holds `expected`; the caller looks again in every case.
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void futex_wake(std::atomic<uint32_t>* word) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

// `sleeping` and `state` follow the store-then-load pattern on both sides,
// all sequentially consistent: the backend stores sleeping = 1 and then
// loads state; the pool stores DONE and then loads sleeping. At least one
// of them sees the other's store, so a sleeping backend is always woken.
uint32_t wait_for_answer(Slot* s, uint64_t spin_ns, int timeout_ms) {
    uint32_t state = s->state.load();
    if (state == DONE) return state;
    if (spin_ns > 0) {
        // Poll only while the CPU is otherwise idle: a yield that took long
        // means something else ran, which needed this CPU more.
        uint64_t now = steady_ns();
        const uint64_t until = now + spin_ns;
        do {
            sched_yield();
            const uint64_t after = steady_ns();
            if ((state = s->state.load()) == DONE) return state;
            if (after - now > kBusyYieldNs) break;
            now = after;
        } while (now < until);
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

bool answer(Slot* s) {
    uint32_t expected = TAKEN;
    if (!s->state.compare_exchange_strong(expected, DONE)) return false;
    if (s->sleeping.load()) futex_wake(&s->state);
    return true;
}

uint64_t steady_ns() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

uint64_t system_ns() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
}

}  // namespace pgml::shm
