#include "shmem/sync.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace pgml::shm {

// Not FUTEX_PRIVATE_FLAG: the words live in memory shared between processes.
void futex_wait(std::atomic<uint32_t>* word, uint32_t expected, int timeout_ms) noexcept {
    struct timespec ts;
    struct timespec* limit = nullptr;
    if (timeout_ms >= 0) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = static_cast<long>(timeout_ms % 1000) * 1000000L;
        limit = &ts;
    }
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, limit, nullptr, 0);
}

void futex_wake(std::atomic<uint32_t>* word, int n) noexcept {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, n, nullptr, nullptr, 0);
}

// Drepper's three-state mutex ("Futexes Are Tricky", mutex 2): a locker
// that finds it held marks it contended (2) before sleeping, so an unlock
// that sees 1 knows nobody sleeps.
void Mutex::lock() noexcept {
    uint32_t c = 0;
    if (word_.compare_exchange_strong(c, 1, std::memory_order_acquire)) return;
    if (c != 2) c = word_.exchange(2, std::memory_order_acquire);
    while (c != 0) {
        futex_wait(&word_, 2, -1);
        c = word_.exchange(2, std::memory_order_acquire);
    }
}

void Mutex::unlock() noexcept {
    if (word_.fetch_sub(1, std::memory_order_release) != 1) {
        word_.store(0, std::memory_order_release);
        futex_wake(&word_, 1);
    }
}

void Semaphore::post() noexcept {
    count_.fetch_add(1, std::memory_order_seq_cst);
    if (waiters_.load(std::memory_order_seq_cst) != 0) futex_wake(&count_, 1);
}

// waiters_ is raised before the count is looked at again, and post raises
// the count before it looks at waiters_ (both sequentially consistent): a
// post either sees the waiter and wakes it, or the waiter sees the count.
void Semaphore::wait() noexcept {
    for (;;) {
        uint32_t c = count_.load(std::memory_order_acquire);
        while (c > 0)
            if (count_.compare_exchange_weak(c, c - 1, std::memory_order_acquire)) return;
        waiters_.fetch_add(1, std::memory_order_seq_cst);
        if (count_.load(std::memory_order_seq_cst) == 0) futex_wait(&count_, 0, -1);
        waiters_.fetch_sub(1, std::memory_order_relaxed);
    }
}

}  // namespace pgml::shm
