// A request slot and the whole of its state machine: who may move a slot
// from one state to the next, and who frees it.
//
//   FREE --backend acquires--> FILLING --stamps, writes, publishes--> QUEUED
//   QUEUED --worker takes (CAS)--> TAKEN --worker answers (CAS)--> DONE
//   DONE --backend reads the answer, releases--> FREE
//   QUEUED or TAKEN --backend abandons (CAS: cancel, timeout, exit)--> ABANDONED
//   ABANDONED --whoever holds it next (the worker's take or finish)--> FREE
//
// Every move out of QUEUED or TAKEN is a CAS, so a backend abandoning its
// request and the worker finishing it agree on who frees the slot. A slot
// the worker has taken is finished on every path (answered, failed, or
// answered WORKER_GONE when the worker stops); a new worker reclaims any a
// vanished one left taken. Everything here is noexcept: it runs in PG_CATCH
// blocks, exit hooks and pool threads.
#pragma once

#include <atomic>
#include <cstdint>

namespace pgml::shm {

struct Region;

enum SlotState : uint32_t {
    FREE = 0,       // on the free list
    FILLING = 1,    // a backend owns it and writes the request
    QUEUED = 2,     // on a queue, waiting for the worker
    TAKEN = 3,      // a pool thread (or the worker's main thread) works on it
    DONE = 4,       // answered; the backend reads the answer and frees it
    ABANDONED = 5,  // the backend gave up; whoever holds it next frees it
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
    uint32_t queued_mark;  // reclaim_orphans' scratch, under the region's lock
    int64_t model_id;
    uint64_t enqueued_ns;  // steady clock, for the enqueue-to-answer latency
    int32_t status;        // Status
    uint32_t nresult;
    double value;          // PREDICT: the answer
    uint32_t dsm_handle;   // LOAD: the segment holding the model
    char message[244];     // FAILED: why
    float data[];          // features in; PROBA: probabilities out
};

// --- the backend's side

// A free slot, now FILLING and owned by the caller; false if none is free.
bool acquire_slot(Region* r, uint32_t& index) noexcept;
// Fills the common part of a request and stamps it with a new generation,
// which the worker echoes in `answered`.
uint32_t stamp(Region* r, Slot* s, Kind kind, uint32_t db, int64_t model_id) noexcept;
// FILLING -> QUEUED, onto the pool's requests or the main thread's control ring.
void publish_request(Region* r, uint32_t index) noexcept;
void publish_control(Region* r, uint32_t index) noexcept;
// Waits for DONE: first polls for up to spin_ns while the CPU is otherwise
// idle, then sleeps on the slot's futex for up to timeout_ms. The worker
// skips the wake-up system call for a backend still polling. Returns the
// state it saw last.
uint32_t wait_for_answer(Slot* s, uint64_t spin_ns, int timeout_ms) noexcept;
// Gives the request up: QUEUED or TAKEN become ABANDONED (the worker frees
// the slot); any other state is the caller's own and is freed now.
void abandon(Region* r, uint32_t index) noexcept;
// Marks a slot FREE and returns it to the free list.
void release(Region* r, uint32_t index) noexcept;

// --- the worker's side

// QUEUED -> TAKEN, noting the generation taken; false (and the slot freed)
// if its backend abandoned it.
bool take(Region* r, uint32_t index) noexcept;
// TAKEN -> DONE, waking the backend if it sleeps; or frees the slot if the
// backend abandoned it meanwhile.
void finish(Region* r, uint32_t index) noexcept;
// The answer of a request that could not be scored.
void set_failed(Slot* s, const char* message) noexcept;
// Answers every request still queued with WORKER_GONE (frees RETIREs): the
// worker is going away and nobody would take them.
void fail_queued(Region* r) noexcept;
// For a new worker, before its pool starts: slots the previous worker had
// taken and never finished are answered WORKER_GONE, and abandoned ones
// that are on no ring (so nobody would ever take them) are freed. Returns
// how many slots it handled.
uint32_t reclaim_orphans(Region* r) noexcept;

}  // namespace pgml::shm
