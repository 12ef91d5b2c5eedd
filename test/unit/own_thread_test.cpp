// The thread a model is parsed on (src/worker/pool/own_thread.hpp): it is
// another thread, the caller waits for it, what it throws comes back to
// the caller, and it takes no signal meant for Postgres' main thread.
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "worker/pool/own_thread.hpp"

namespace pgml::unit {
namespace {

TEST(OwnThread, RunsElsewhereAndIsWaitedFor) {
    const std::thread::id caller = std::this_thread::get_id();
    std::thread::id ran_on;
    int steps = 0;
    pool::run_on_own_thread([&] {
        ran_on = std::this_thread::get_id();
        // Long enough that a caller that did not wait would read too early.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        steps = 1;
    });
    EXPECT_NE(ran_on, caller);
    EXPECT_NE(ran_on, std::thread::id());
    EXPECT_EQ(steps, 1);
}

TEST(OwnThread, WhatItThrowsComesBack) {
    try {
        pool::run_on_own_thread([] { throw std::runtime_error("parse failed"); });
        FAIL() << "nothing was thrown";
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string(e.what()), "parse failed");
    }
}

TEST(OwnThread, BlocksSignalsThereAndLeavesTheCallersMask) {
    sigset_t before, inside, after;
    pthread_sigmask(SIG_SETMASK, nullptr, &before);
    ASSERT_FALSE(sigismember(&before, SIGTERM));
    pool::run_on_own_thread([&] { pthread_sigmask(SIG_SETMASK, nullptr, &inside); });
    pthread_sigmask(SIG_SETMASK, nullptr, &after);
    for (int sig : {SIGTERM, SIGHUP, SIGINT, SIGUSR1, SIGUSR2, SIGALRM}) {
        EXPECT_TRUE(sigismember(&inside, sig)) << "signal " << sig;
        EXPECT_EQ(sigismember(&after, sig), sigismember(&before, sig)) << "signal " << sig;
    }
}

}  // namespace
}  // namespace pgml::unit
