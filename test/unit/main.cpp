// The test binary's main: GoogleTest's, plus a watchdog. A test that hangs
// (a lost wake-up, a slot never answered) would otherwise block the run for
// good; past PGML_UNIT_TIMEOUT_S seconds (default 120) in one test the
// watchdog names the test and ends the process with a failure.
//
// GoogleTest deletes its listeners when the process exits: the watchdog's
// thread is stopped and joined in the destructor, never left running on a
// freed object (it once was detached, and ThreadSanitizer caught it reading
// the deleted watchdog's mutex and condition variable at exit).
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace {

class Watchdog : public ::testing::EmptyTestEventListener {
public:
    explicit Watchdog(int seconds) : limit_(seconds), thread_([this] { watch(); }) {}
    ~Watchdog() override {
        {
            std::lock_guard<std::mutex> g(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    void OnTestStart(const ::testing::TestInfo& t) override {
        std::lock_guard<std::mutex> g(mu_);
        name_ = std::string(t.test_suite_name()) + "." + t.name();
        started_ = std::chrono::steady_clock::now();
        running_ = true;
    }
    void OnTestEnd(const ::testing::TestInfo&) override {
        std::lock_guard<std::mutex> g(mu_);
        running_ = false;
    }

private:
    void watch() {
        std::unique_lock<std::mutex> g(mu_);
        while (!stop_) {
            cv_.wait_for(g, std::chrono::seconds(1));
            if (running_ && std::chrono::steady_clock::now() - started_ > std::chrono::seconds(limit_)) {
                std::fprintf(stdout, "\n[  TIMEOUT ] %s ran for more than %d s (hung?)\n", name_.c_str(), limit_);
                std::fprintf(stdout, "[  FAILED  ] %s\n", name_.c_str());
                std::fflush(stdout);
                std::_Exit(2);
            }
        }
    }
    const int limit_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::string name_;
    std::chrono::steady_clock::time_point started_;
    bool running_ = false;
    bool stop_ = false;
    // Last: started once every member above is constructed.
    std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    int seconds = 120;
    if (const char* s = std::getenv("PGML_UNIT_TIMEOUT_S")) seconds = std::max(1, std::atoi(s));
    ::testing::UnitTest::GetInstance()->listeners().Append(new Watchdog(seconds));
    return RUN_ALL_TESTS();
}
