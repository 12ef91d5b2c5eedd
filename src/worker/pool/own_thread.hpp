// A model's parse on a thread of its own. Pure C++.
#pragma once

#include <exception>
#include <system_error>
#include <thread>

#include "core/xgb.hpp"

namespace pgml::pool {

// Runs f on a thread of its own and waits for it; what f throws is thrown
// here. The caller does nothing meanwhile, so f may do what only the
// caller may (the worker's main thread's shared-memory allocations). The
// thread takes no signal (they are the main thread's: xgb::SignalsBlocked)
// and starts no OpenMP team (xgb::use_one_thread_here).
//
// Why: a thread gets a malloc arena of its own. Parsing a model makes many
// small blocks (XGBoost's document of it, the booster: several times the
// serialized size) and frees nearly all of them; on the main heap the few
// that outlive the parse pin the pages around them, which malloc_trim
// cannot hand back (240 kB after each parse of a 15 MB model). Here those
// blocks share their arena with nothing long-lived of the worker's, its
// free pages go back as they are freed (given the worker's fixed trim
// threshold, worker/main.cpp), and the thread's thread-locals (XGBoost's)
// go when it ends. When no thread can be started, f runs on the caller.
template <class F>
void run_on_own_thread(F&& f) {
    std::exception_ptr thrown;
    auto body = [&]() noexcept {
        try {
            f();
        } catch (...) {
            thrown = std::current_exception();
        }
    };
    std::thread t;
    try {
        xgb::SignalsBlocked blocked;  // for the thread started here
        t = std::thread([&]() noexcept {
            xgb::use_one_thread_here();
            body();
            xgb::release_thread_state();
        });
    } catch (const std::system_error&) {
        body();
    }
    if (t.joinable()) t.join();
    if (thrown) std::rethrow_exception(thrown);
}

}  // namespace pgml::pool
