// Standalone harness for pgml::ubjson::check_model (src/core/ubjson.hpp).
//
//   model_check_test --valid PATH...    every model must pass and predict
//   model_check_test --invalid PATH...  every model must be refused
//   model_check_test --sweep PATH...    refused, or accepted and XGBoost
//                                       loads and predicts it in a child
//                                       process without crashing or hanging
//   model_check_test --predict FILE     (child) load with XGBoost, predict
//   model_check_test --time FILE        check time vs XGBoost load time
//
// A PATH is a model file or a folder of them. Exit status 0 when every
// expectation holds. See run.sh.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xgboost/c_api.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/ubjson.hpp"

namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> expand(char** args, int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
        if (fs::is_directory(args[i])) {
            std::vector<std::string> files;
            for (const auto& e : fs::directory_iterator(args[i]))
                if (e.is_regular_file()) files.push_back(e.path().string());
            std::sort(files.begin(), files.end());
            out.insert(out.end(), files.begin(), files.end());
        } else {
            out.emplace_back(args[i]);
        }
    }
    return out;
}

std::string check(const std::vector<uint8_t>& bytes) {
    auto ok = pgml::ubjson::check_model(bytes.data(), bytes.size());
    return ok ? std::string() : ok.error().message;
}

// Loads the bytes straight into XGBoost (no check) and predicts a few rows
// the way the extension does (in-place dense prediction). Returns 0 when
// XGBoost predicted or refused cleanly; a crash or hang never returns.
int predict(const std::string& path) {
    auto bytes = read_file(path);
    BoosterHandle b = nullptr;
    if (XGBoosterCreate(nullptr, 0, &b) != 0) return 2;
    if (XGBoosterLoadModelFromBuffer(b, bytes.data(), bytes.size()) != 0) {
        std::printf("xgboost refused: %.200s\n", XGBGetLastError());
        return 0;
    }
    bst_ulong nf = 0;
    if (XGBoosterGetNumFeature(b, &nf) != 0 || nf == 0) {
        std::printf("no features\n");
        return 0;
    }
    size_t cols = std::min<size_t>(nf, 4096), rows = 64;
    std::vector<float> x(rows * cols);
    std::mt19937 rng(42);
    std::normal_distribution<float> dist;
    for (size_t i = 0; i < x.size(); ++i) x[i] = (i % 7 == 3) ? NAN : dist(rng);
    char ai[200];
    std::snprintf(ai, sizeof ai,
                  "{\"data\":[%" PRIuPTR ",true],\"shape\":[%zu,%zu],\"typestr\":\"<f4\","
                  "\"version\":3}",
                  reinterpret_cast<uintptr_t>(x.data()), rows, cols);
    const char* config =
        "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"
        "\"cache_id\":0,\"strict_shape\":false,\"missing\":NaN}";
    DMatrixHandle proxy = nullptr;
    XGProxyDMatrixCreate(&proxy);
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* out = nullptr;
    int rounds = 0;
    XGBoosterBoostedRounds(b, &rounds);
    if (XGBoosterPredictFromDense(b, ai, config, proxy, &shape, &dim, &out) != 0) {
        std::printf("xgboost prediction refused: %.200s\n", XGBGetLastError());
        return 0;
    }
    std::printf("predicted %" PRIu64 " dims, first %g\n", static_cast<uint64_t>(dim),
                dim ? static_cast<double>(out[0]) : 0.0);
    XGDMatrixFree(proxy);
    XGBoosterFree(b);
    return 0;
}

// Runs "timeout 10 self --predict path"; 0 fine, 1 crashed, 2 hung.
int child_predict(const std::string& self, const std::string& path) {
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execlp("timeout", "timeout", "-s", "KILL", "10", self.c_str(), "--predict",
               path.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) return 2;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 137) return 2;  // timeout -s KILL
    return 1;
}

template <typename F>
double median_ms(int reps, F&& f) {
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        auto a = std::chrono::steady_clock::now();
        f();
        auto b = std::chrono::steady_clock::now();
        t.push_back(std::chrono::duration<double, std::milli>(b - a).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

int time_model(const std::string& path) {
    auto bytes = read_file(path);
    bool ok = true;
    double check_ms = median_ms(9, [&] { ok = ok && check(bytes).empty(); });
    double load_ms = median_ms(5, [&] {
        BoosterHandle b = nullptr;
        XGBoosterCreate(nullptr, 0, &b);
        if (XGBoosterLoadModelFromBuffer(b, bytes.data(), bytes.size()) != 0) ok = false;
        XGBoosterFree(b);
    });
    std::printf("%s: %zu bytes; check_model %.2f ms, XGBoost load %.2f ms (median)%s\n",
                path.c_str(), bytes.size(), check_ms, load_ms, ok ? "" : " FAILED");
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s --valid|--invalid|--sweep|--predict|--time PATH...\n",
                     argv[0]);
        return 2;
    }
    std::string mode = argv[1];
    if (mode == "--predict") return predict(argv[2]);
    XGBRegisterLogCallback([](const char*) {});
    auto files = expand(argv + 2, argc - 2);
    if (mode == "--time") {
        int rc = 0;
        for (const auto& f : files) rc |= time_model(f);
        return rc;
    }
    std::string self = fs::canonical("/proc/self/exe").string();
    int failures = 0, refused = 0, fine = 0, crashed = 0, hung = 0;
    std::map<std::string, int> reasons;
    for (const auto& f : files) {
        auto bytes = read_file(f);
        std::string why = check(bytes);
        if (mode == "--valid") {
            if (!why.empty()) {
                std::printf("FAIL %s refused: %s\n", f.c_str(), why.c_str());
                ++failures;
            } else if (int r = child_predict(self, f); r != 0) {
                std::printf("FAIL %s accepted but %s\n", f.c_str(), r == 1 ? "crashed" : "hung");
                ++failures;
            } else {
                std::printf("ok   %s\n", f.c_str());
            }
        } else if (mode == "--invalid") {
            if (why.empty()) {
                std::printf("FAIL %s accepted\n", f.c_str());
                ++failures;
            } else {
                std::printf("ok   %s: %s\n", fs::path(f).filename().c_str(), why.c_str());
            }
        } else if (mode == "--sweep") {
            if (!why.empty()) {
                ++refused;
                // Group messages by their first words (tree and node numbers vary).
                std::string key = why.substr(0, why.find_first_of("0123456789\""));
                ++reasons[key];
                continue;
            }
            int r = child_predict(self, f);
            if (r == 0) ++fine;
            if (r == 1) ++crashed;
            if (r == 2) ++hung;
            if (r) std::printf("FAIL %s accepted but %s\n", f.c_str(), r == 1 ? "crashed" : "hung");
        } else {
            std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
            return 2;
        }
    }
    if (mode == "--sweep") {
        std::printf("sweep of %zu inputs: accepted-and-fine %d, refused %d, "
                    "accepted-and-crashed %d, accepted-and-hung %d\n",
                    files.size(), fine, refused, crashed, hung);
        for (const auto& [k, n] : reasons) std::printf("  %6d  %s\n", n, k.c_str());
        failures = crashed + hung;
    }
    return failures ? 1 : 0;
}
