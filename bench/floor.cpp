// bench/floor: the two costs that bound the serving path's throughput on a
// small machine, measured apart from Postgres.
//
//   1. A block and wake-up between two processes: what a backend pays when
//      it waits for the worker instead of computing itself. Two processes
//      hand a token back and forth through a futex in shared memory (as a
//      backend and a pool thread do), once on one CPU and once free to run
//      on any.
//   2. XGBoost's fixed cost per prediction call: XGBoosterPredictFromDense
//      on 1, 2, 8 and 64 rows of a real model (the file given), one thread,
//      the way the pool and the backend path call it.
//
// Usage: floor MODEL.ubj   (prints one line per figure, microseconds)
#include <xgboost/c_api.h>

#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <vector>

namespace {

double now_us() {
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void futex_wait(std::atomic<uint32_t>* w, uint32_t expected) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(w), FUTEX_WAIT, expected, nullptr, nullptr, 0);
}
void futex_wake(std::atomic<uint32_t>* w) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(w), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

// The first CPU this process may run on, or -1.
int first_cpu() {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set)) return c;
    return -1;
}

bool pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0;
}

// Whose turn it is: 0 the parent's, 1 the child's. Each side waits for its
// turn on the futex and passes the token on with one wake-up. On one CPU
// every round trip is two blocks and two wake-ups; across CPUs a side may
// see the token before it blocks, which only makes that figure smaller.
// Returns -1 when the processes cannot be set up.
double round_trip_us(bool same_cpu, int rounds) {
    cpu_set_t original;
    if (sched_getaffinity(0, sizeof original, &original) != 0) return -1;
    const int cpu = first_cpu();
    if (same_cpu && (cpu < 0 || !pin(cpu))) return -1;
    void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return -1;
    auto* turn = static_cast<std::atomic<uint32_t>*>(page);
    turn->store(0);
    pid_t child = fork();
    if (child < 0) {
        munmap(page, 4096);
        sched_setaffinity(0, sizeof original, &original);
        return -1;
    }
    if (child == 0) {  // inherits the parent's affinity
        for (int i = 0; i < rounds; ++i) {
            while (turn->load() != 1) futex_wait(turn, 0);
            turn->store(0);
            futex_wake(turn);
        }
        _exit(0);
    }
    double t0 = now_us();
    for (int i = 0; i < rounds; ++i) {
        turn->store(1);
        futex_wake(turn);
        while (turn->load() != 0) futex_wait(turn, 1);
    }
    double t = (now_us() - t0) / rounds;
    waitpid(child, nullptr, 0);
    sched_setaffinity(0, sizeof original, &original);
    munmap(page, 4096);
    return t;
}

int predict_costs(const char* path) {
    std::ifstream f(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(f)), {});
    BoosterHandle b;
    DMatrixHandle proxy;
    bst_ulong nfeatures = 0;
    if (XGBoosterCreate(nullptr, 0, &b) != 0 || XGBoosterLoadModelFromBuffer(b, bytes.data(), bytes.size()) != 0 ||
        XGBoosterSetParam(b, "nthread", "1") != 0 || XGBoosterGetNumFeature(b, &nfeatures) != 0 ||
        XGProxyDMatrixCreate(&proxy) != 0) {
        std::fprintf(stderr, "floor: %s\n", XGBGetLastError());
        return 1;
    }
    const char* config =
        "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,\"cache_id\":0,"
        "\"strict_shape\":false,\"missing\":NaN}";
    std::vector<float> rows(64 * nfeatures);
    std::srand(1);
    for (auto& v : rows) v = static_cast<float>(std::rand() % 1000);
    for (int n : {1, 2, 8, 64}) {
        char ai[256];
        std::snprintf(ai, sizeof ai,
                      "{\"data\":[%lu,true],\"shape\":[%d,%lu],\"strides\":null,\"typestr\":\"<f4\",\"version\":3}",
                      static_cast<unsigned long>(reinterpret_cast<uintptr_t>(rows.data())), n,
                      static_cast<unsigned long>(nfeatures));
        const bst_ulong* shape;
        bst_ulong dim;
        const float* out;
        auto call = [&] { return XGBoosterPredictFromDense(b, ai, config, proxy, &shape, &dim, &out); };
        for (int i = 0; i < 1000; ++i) call();
        const int calls = 20000;
        double t0 = now_us();
        for (int i = 0; i < calls; ++i)
            if (call() != 0) {
                std::fprintf(stderr, "floor: %s\n", XGBGetLastError());
                return 1;
            }
        double t = (now_us() - t0) / calls;
        std::printf("xgboost_call_%d_rows_us %.2f\n", n, t);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: floor MODEL.ubj\n");
        return 2;
    }
    // The best of three, so a burst of other work does not count.
    double same = 1e9, any = 1e9;
    for (int i = 0; i < 3; ++i) {
        double a = round_trip_us(true, 50000), b = round_trip_us(false, 50000);
        if (a < 0 || b < 0) {
            std::perror("floor: setting up the two processes");
            return 1;
        }
        same = std::min(same, a);
        any = std::min(any, b);
    }
    std::printf("block_wake_round_trip_same_cpu_us %.2f\n", same);
    std::printf("block_wake_round_trip_any_cpu_us %.2f\n", any);
    return predict_costs(argv[1]);
}
