// The blocking primitives of the shared region, built on Linux futexes in
// shared memory. None of them can fail or throw: they run inside PG_TRY
// blocks, PG_CATCH handlers and before_shmem_exit callbacks, where an
// exception would skip Postgres' own bookkeeping, and on pool threads,
// which must never stop. (Boost.Interprocess' mutex and semaphore report
// errors by throwing, which is why the region no longer uses them.)
//
// A process that dies holding the mutex is a crash either way (SIGKILL or
// a segfault makes the postmaster rebuild shared memory); nobody holds it
// across a Postgres call or a wait, so a cancel or a FATAL never leaves it
// held.
#pragma once

#include <atomic>
#include <cstdint>

namespace pgml::shm {

// Sleeps while *word == expected, at most timeout_ms (< 0: no limit).
// Returns on a wake-up, the timeout, a signal, or at once if the word no
// longer holds `expected`; callers look again in every case.
void futex_wait(std::atomic<uint32_t>* word, uint32_t expected, int timeout_ms) noexcept;
// Wakes up to n waiters of word.
void futex_wake(std::atomic<uint32_t>* word, int n) noexcept;

// A mutual-exclusion lock for memory shared between processes: 0 free,
// 1 held, 2 held with waiters (the waker skips the system call when
// nobody waits).
class Mutex {
public:
    void lock() noexcept;
    void unlock() noexcept;

private:
    std::atomic<uint32_t> word_{0};
};

class Guard {
public:
    explicit Guard(Mutex& m) noexcept : m_(&m) { m_->lock(); }
    ~Guard() { if (m_) m_->unlock(); }
    void unlock() noexcept {
        m_->unlock();
        m_ = nullptr;
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

private:
    Mutex* m_;
};

// A counting semaphore between processes: post adds one and wakes one
// waiter; wait takes one, sleeping while there is none.
class Semaphore {
public:
    void post() noexcept;
    void wait() noexcept;
    // Drops posts nobody took; only while nobody waits.
    void reset() noexcept { count_.store(0, std::memory_order_relaxed); }

private:
    std::atomic<uint32_t> count_{0};
    std::atomic<uint32_t> waiters_{0};
};

}  // namespace pgml::shm
