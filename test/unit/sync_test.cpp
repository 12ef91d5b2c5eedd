// The futex Mutex and Semaphore (src/shmem/sync.*), between threads and
// between processes.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <new>
#include <thread>

#include "common.hpp"
#include "shmem/clock.hpp"
#include "shmem/sync.hpp"

namespace pgml::unit {
namespace {

using namespace std::chrono_literals;

TEST(Mutex, ExactCountUnderContention) {
    constexpr int kThreads = 4, kEach = 250000;
    shm::Mutex m;
    uint64_t counter = 0;  // plain: only the mutex orders it
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
        ts.emplace_back([&] {
            for (int i = 0; i < kEach; ++i) {
                shm::Guard g(m);
                // A read-modify-write split wide open, so a broken lock shows.
                uint64_t v = counter;
                if (i % 64 == 0) std::this_thread::yield();
                counter = v + 1;
            }
        });
    for (auto& t : ts) t.join();
    EXPECT_EQ(counter, static_cast<uint64_t>(kThreads) * kEach);
}

TEST(Mutex, GuardUnlockEarlyAndRelock) {
    shm::Mutex m;
    {
        shm::Guard g(m);
        g.unlock();
        // Unlocked: another thread can take it now, and the destructor
        // does not unlock a second time.
        auto other = std::async(std::launch::async, [&] {
            shm::Guard g2(m);
            return true;
        });
        ASSERT_EQ(other.wait_for(10s), std::future_status::ready);
    }
    m.lock();
    auto blocked = std::async(std::launch::async, [&] {
        m.lock();
        m.unlock();
        return shm::steady_ns();
    });
    EXPECT_EQ(blocked.wait_for(50ms), std::future_status::timeout) << "lock() did not exclude";
    const uint64_t unlocked_at = shm::steady_ns();
    m.unlock();
    ASSERT_EQ(blocked.wait_for(10s), std::future_status::ready) << "unlock did not wake the waiter";
    EXPECT_GE(blocked.get(), unlocked_at);
}

// The region's words are shared between processes: the futexes must not be
// process-private.
TEST(Mutex, ExcludesAcrossProcesses) {
    struct Shared {
        shm::Mutex m;
        uint64_t counter;
    };
    void* mem = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem, MAP_FAILED);
    auto* sh = new (mem) Shared();
    constexpr int kEach = 200000;
    auto work = [sh] {
        for (int i = 0; i < kEach; ++i) {
            shm::Guard g(sh->m);
            uint64_t v = sh->counter;
            if (i % 64 == 0) sched_yield();
            sh->counter = v + 1;
        }
    };
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        work();
        _exit(0);
    }
    work();
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_EQ(sh->counter, 2u * kEach);
    munmap(mem, sizeof(Shared));
}

TEST(Semaphore, PostsBeforeWaitsAreKept) {
    shm::Semaphore s;
    for (int i = 0; i < 5; ++i) s.post();
    for (int i = 0; i < 5; ++i) s.wait();  // none blocks
    auto w = std::async(std::launch::async, [&] { s.wait(); });
    EXPECT_EQ(w.wait_for(50ms), std::future_status::timeout) << "a sixth wait did not block after five posts";
    s.post();
    EXPECT_EQ(w.wait_for(10s), std::future_status::ready);
}

TEST(Semaphore, KPostsReleaseExactlyKWaiters) {
    constexpr int kWaiters = 8, kPosts = 5;
    shm::Semaphore s;
    std::atomic<int> released{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < kWaiters; ++i)
        ts.emplace_back([&] {
            s.wait();
            released.fetch_add(1);
        });
    for (int i = 0; i < kPosts; ++i) s.post();
    EXPECT_TRUE(wait_until([&] { return released.load() >= kPosts; })) << "posts were lost";
    // Nothing more may come through: give a stray wake-up the chance to show.
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(released.load(), kPosts);
    for (int i = kPosts; i < kWaiters; ++i) s.post();
    for (auto& t : ts) t.join();
    EXPECT_EQ(released.load(), kWaiters);
}

TEST(Semaphore, ResetDropsPostsNobodyTook) {
    shm::Semaphore s;
    s.post();
    s.post();
    s.post();
    s.reset();
    auto w = std::async(std::launch::async, [&] { s.wait(); });
    EXPECT_EQ(w.wait_for(50ms), std::future_status::timeout) << "a post survived reset()";
    s.post();
    EXPECT_EQ(w.wait_for(10s), std::future_status::ready);
}

// Many posters and many waiters at once, each waiter waiting as often as
// posts are made for it: every wait returns (no wake-up is lost).
TEST(Semaphore, NoLostWakeupsUnderContention) {
    constexpr int kPosters = 2, kWaiters = 3, kPostsEach = 30000;
    shm::Semaphore s;
    std::atomic<int> taken{0};
    std::vector<std::thread> waiters;
    for (int w = 0; w < kWaiters; ++w)
        waiters.emplace_back([&] {
            for (int i = 0; i < kPosters * kPostsEach / kWaiters; ++i) {
                s.wait();
                taken.fetch_add(1, std::memory_order_relaxed);
            }
        });
    std::vector<std::thread> posters;
    for (int p = 0; p < kPosters; ++p)
        posters.emplace_back([&] {
            for (int i = 0; i < kPostsEach; ++i) {
                s.post();
                if (i % 16 == 0) std::this_thread::yield();
            }
        });
    for (auto& t : posters) t.join();
    bool done = wait_until([&] { return taken.load() == kPosters * kPostsEach; }, 20000ms);
    if (!done) {
        // Unblock the waiters so the test can end, then fail.
        for (int i = 0; i < kPosters * kPostsEach; ++i) s.post();
    }
    for (auto& t : waiters) t.join();
    EXPECT_TRUE(done) << "only " << taken.load() << " waits returned for " << kPosters * kPostsEach
                      << " posts";
    // Every post was consumed: one more wait blocks.
    auto w = std::async(std::launch::async, [&] { s.wait(); });
    EXPECT_EQ(w.wait_for(50ms), std::future_status::timeout);
    s.post();
    EXPECT_EQ(w.wait_for(10s), std::future_status::ready);
}

TEST(Semaphore, WakesAWaiterInAnotherProcess) {
    struct Shared {
        shm::Semaphore s;
        std::atomic<uint32_t> got;
    };
    void* mem = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem, MAP_FAILED);
    auto* sh = new (mem) Shared();
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        for (int i = 0; i < 1000; ++i) {
            sh->s.wait();
            sh->got.fetch_add(1);
        }
        _exit(0);
    }
    for (int i = 0; i < 1000; ++i) {
        sh->s.post();
        if (i % 10 == 0) wait_until([&] { return sh->got.load() >= static_cast<uint32_t>(i + 1); });
    }
    // Bounded: a lost cross-process wake-up would leave the child blocked.
    const bool done = wait_until([&] { return sh->got.load() == 1000; });
    if (!done) kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(done) << "the child took " << sh->got.load() << " of 1000 posts";
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    munmap(mem, sizeof(Shared));
}

TEST(Futex, WaitReturnsAtOnceWhenTheWordDiffers) {
    std::atomic<uint32_t> w{1};
    const uint64_t t0 = shm::steady_ns();
    shm::futex_wait(&w, 0, 5000);
    EXPECT_LT(shm::steady_ns() - t0, 1'000'000'000ull);
    // And times out when it does not.
    const uint64_t t1 = shm::steady_ns();
    shm::futex_wait(&w, 1, 20);
    EXPECT_GE(shm::steady_ns() - t1, 15'000'000ull);
}

}  // namespace
}  // namespace pgml::unit
