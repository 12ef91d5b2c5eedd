// The memory shared by backends and the serving worker: request slots, the
// request queue, the worker's control queue, and statistics. Pure C++: pool
// threads use it, so nothing here calls Postgres. See README.md beside this
// file for why each synchronization primitive was chosen.
//
// The region lives in Postgres' main shared memory, which every process maps
// at the same address; still, everything refers to slots by index, never by
// pointer, so the layout does not depend on that.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <boost/interprocess/sync/interprocess_semaphore.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>

#include "shmem/deployed.hpp"

namespace pgml::shm {

namespace bip = boost::interprocess;

// Life of a slot. Every transition out of QUEUED or TAKEN is a CAS, so a
// backend abandoning its request and a pool thread finishing it agree on
// who frees the slot: whoever sees the other's mark last.
enum SlotState : uint32_t {
    FREE = 0,       // on the free list
    FILLING = 1,    // a backend owns it and writes the request
    QUEUED = 2,     // on a queue, waiting for the worker
    TAKEN = 3,      // a pool thread (or the worker's main thread) works on it
    DONE = 4,       // answered; the backend reads the answer and frees it
    ABANDONED = 5,  // the backend gave up (cancel, timeout); the worker frees it
};

enum Kind : uint32_t {
    PREDICT = 0,  // answer: value
    PROBA = 1,    // answer: nresult probabilities in data[]
    LOAD = 2,     // control: load a model handed over in a DSM segment
    RETIRE = 3,   // control: a model is no longer deployed; free it
};

enum Status : int32_t {
    OK = 0,
    NEED_MODEL = 1,   // the worker does not hold the model: hand it over
    FAILED = 2,       // message[] says why (an XGBoost error, a bad model)
    WORKER_GONE = 3,  // the worker stopped before answering
};

struct Slot {
    std::atomic<uint32_t> state;
    std::atomic<uint32_t> sleeping;  // the backend sleeps (or is about to) on `state`
    uint32_t generation;   // of the request in the slot (DESIGN.md invariant 4)
    uint32_t answered;     // the generation the worker took and answered
    uint32_t kind;         // Kind
    uint32_t db;           // database Oid: models are keyed by (db, model id)
    uint32_t nfeatures;
    int64_t model_id;
    uint64_t enqueued_ns;  // steady clock, for the enqueue-to-answer latency
    int32_t status;        // Status
    uint32_t nresult;
    double value;          // PREDICT: the answer
    uint32_t dsm_handle;   // LOAD: the segment holding the model
    char message[244];     // FAILED: why
    float data[];          // features in; PROBA: probabilities out
};

// A ring of slot indices guarded by a process-shared mutex. Capacity is the
// number of slots, and a slot is on at most one ring at a time, so a push
// never finds the ring full.
struct Ring {
    uint32_t head;  // next to pop
    uint32_t count;
    uint32_t capacity;
    uint32_t offset;  // of the uint32_t[capacity] array from the Region start
};

// Which model an entry describes (in_use, db, model_id, bytes, loaded_ns)
// is written only by the worker's main thread and read by any backend.
// `seq` is odd while that changes (a sequence lock): a reader that sees it
// odd, or changed after it copied the entry, drops the copy, so it never
// shows one model's id with another's database or size. `requests` is
// added to by pool threads; one still holding a lease on a model freed
// meanwhile may add a batch to the entry's next model (a counter only).
struct ModelStat {
    std::atomic<uint32_t> in_use;  // 0 = empty entry
    std::atomic<uint32_t> seq;
    uint32_t db;
    int64_t model_id;
    uint64_t bytes;
    uint64_t loaded_ns;            // system clock, ns since the epoch
    std::atomic<uint64_t> requests;
};

// Models being handed over right now: the first backend that needs a model
// claims its key and hands it over; the others wait for it, so a hundred
// connections asking at once do not send a hundred copies.
inline constexpr int kLoadClaims = 16;
struct LoadClaim {
    std::atomic<uint64_t> key;       // 0 = free; else (db << 40) ^ model id, never 0
    std::atomic<uint64_t> since_ns;  // steady clock, to expire a claim whose holder died
};

inline constexpr int kLatencyBuckets = 256;  // 4 per power of two of ns

struct Stats {
    std::atomic<uint64_t> requests;
    std::atomic<uint64_t> batches;
    std::atomic<uint64_t> batched_rows;
    std::atomic<uint64_t> max_batch;
    std::atomic<uint64_t> latency[kLatencyBuckets];
};

struct Region {
    Region() : work(0) {}

    // Sizing, fixed at server start.
    uint32_t nslots;
    uint32_t max_features;
    uint32_t slot_size;   // bytes, multiple of 64
    uint32_t slots_offset;
    uint32_t max_models;
    uint32_t models_offset;

    // The worker. ready is set once its pool runs and cleared before it
    // stops; backends enqueue only while it is set.
    std::atomic<uint32_t> ready;
    std::atomic<int32_t> worker_pid;
    std::atomic<uint32_t> worker_procno;
    std::atomic<uint64_t> worker_started_ns;  // system clock
    std::atomic<uint32_t> next_generation;

    bip::interprocess_mutex lock;      // guards the rings and the two counters below
    bip::interprocess_semaphore work;  // wakes sleeping pool threads
    uint32_t sleepers;                 // pool threads waiting on `work`
    uint32_t wakeups;                  // posts to `work` not yet consumed
    // A pool thread polling the ring instead of sleeping: while one does,
    // enqueue need not post `work` (a futex wake-up, which on a VM costs
    // tens of microseconds). Cleared before the poller's locked re-check,
    // and while it yields the CPU.
    std::atomic<uint32_t> spinning;

    bool stopping;                     // pool threads return from take_requests
    Ring free_slots;
    Ring requests;   // PREDICT / PROBA, for the pool threads
    Ring control;    // LOAD / RETIRE, for the worker's main thread

    LoadClaim claims[kLoadClaims];
    Stats stats;
    DeployedTable deployed;  // backends only; see deployed.hpp
};

// Size of the region for these settings.
size_t region_size(uint32_t nslots, uint32_t max_features, uint32_t max_models);
// Builds the region in zeroed memory of region_size() bytes.
Region* init_region(void* memory, uint32_t nslots, uint32_t max_features, uint32_t max_models);

inline Slot* slot(Region* r, uint32_t i) {
    return reinterpret_cast<Slot*>(reinterpret_cast<char*>(r) + r->slots_offset +
                                   static_cast<size_t>(i) * r->slot_size);
}
inline ModelStat* model_stats(Region* r) {
    return reinterpret_cast<ModelStat*>(reinterpret_cast<char*>(r) + r->models_offset);
}

// The worker's main thread's side: an entry now describes this model, or
// none (each inside the sequence lock).
void set_model_stat(ModelStat& m, uint32_t db, int64_t model_id, uint64_t bytes);
void clear_model_stat(ModelStat& m);

// A reader's consistent copy of entry m: false if it is empty or changed
// while being copied.
struct ModelRow {
    uint32_t db;
    int64_t model_id;
    uint64_t bytes, requests, loaded_ns;
};
bool read_model_stat(const ModelStat& m, ModelRow& out);

// Ring operations; each takes the region's lock.
bool pop_free(Region* r, uint32_t& index);
void push_free(Region* r, uint32_t index);
void push(Region* r, Ring& ring, uint32_t index);
// Pops up to max indices into out; returns how many.
uint32_t pop_many(Region* r, Ring& ring, uint32_t* out, uint32_t max);
uint32_t depth(Region* r, const Ring& ring);

// The request queue of the pool. enqueue posts `work` only when a thread
// sleeps that no earlier post will wake, and a thread looks at the ring
// under the lock before it sleeps: no request is left without a thread,
// and no thread is woken for nothing.
void enqueue_request(Region* r, uint32_t index);
// Blocks until requests are queued (returns up to max of them) or the pool
// is stopping (returns 0).
uint32_t take_requests(Region* r, uint32_t* out, uint32_t max);
// Non-blocking: whatever is queued now, up to max.
uint32_t poll_requests(Region* r, uint32_t* out, uint32_t max);
// Polls for up to spin_ns as the pool's one spinning thread (returns 0 at
// once if another thread spins), and stops early as soon as a yield shows
// that another task wanted this CPU; then the caller blocks in take_requests.
uint32_t spin_for_requests(Region* r, uint32_t* out, uint32_t max, uint64_t spin_ns);
// Makes every pool thread return from take_requests.
void stop_requests(Region* r);

// Marks a slot FREE and returns it to the free list.
inline void release(Region* r, uint32_t i) {
    slot(r, i)->state.store(FREE, std::memory_order_release);
    push_free(r, i);
}

inline uint64_t claim_key(uint32_t db, int64_t model_id) {
    return ((static_cast<uint64_t>(db) << 40) ^ static_cast<uint64_t>(model_id)) | (uint64_t{1} << 63);
}
// A claim's holder releases it when done, also on error or exit; a claim
// older than this is taken to belong to a holder that vanished anyway.
inline constexpr uint64_t kClaimStaleNs = 60ull * 1000 * 1000 * 1000;
// Claims the hand-over of a model: the claim's index, or -1 when another
// process holds a live claim on it, or -2 when none is free.
int claim_load(Region* r, uint64_t key);
// Releases claim `claim` if it still holds `key`.
void release_load(Region* r, int claim, uint64_t key);
// Whether some process is handing this model over now.
bool load_claimed(Region* r, uint64_t key);

void record_latency(Stats& s, uint64_t ns);
// The latency below which a fraction q of the recorded answers fell.
uint64_t latency_quantile(const Stats& s, double q);

// Waiting on a slot's state word across processes (Linux futexes on shared
// memory): a pool thread wakes the one backend waiting for that slot with a
// single system call, and the backend sleeps at most timeout_ms per call so
// it can look at its interrupts in between.
void futex_wait(std::atomic<uint32_t>* word, uint32_t expected, int timeout_ms);
void futex_wake(std::atomic<uint32_t>* word);

// A backend's wait for its answer: first polls for up to spin_ns, yielding
// the CPU to anything else runnable on it at every look, then sleeps on the
// slot's futex for up to timeout_ms. The pool skips the wake-up system call
// for a backend that is still polling. Returns the state it saw last.
uint32_t wait_for_answer(Slot* s, uint64_t spin_ns, int timeout_ms);
// The pool's side: marks a TAKEN request DONE and wakes its backend if it
// sleeps. False if the backend abandoned the request meanwhile.
bool answer(Slot* s);

uint64_t steady_ns();
uint64_t system_ns();

}  // namespace pgml::shm
