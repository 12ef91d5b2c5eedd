// Standalone harness for pgml::ubjson::check_model (src/core/ubjson.hpp).
//
//   model_check_test --valid PATH...         every model must pass the check,
//                                            and XGBoost (in a child process)
//                                            must load it and predict the rows
//                                            saved next to it in NAME.pred
//                                            (make_models.py) as Python did
//   model_check_test --mispredicted PATH...  every model must fail --valid
//                                            (its NAME.pred is wrong): proves
//                                            --valid compares predictions
//   model_check_test --invalid PATH...       every model must be refused
//   model_check_test --truncated PATH...     every truncation of every model
//                                            must be refused
//   model_check_test --sweep PATH...         refused, or accepted and XGBoost
//                                            loads and predicts it in a child
//                                            process without crashing or hanging
//   model_check_test --predict FILE [PRED]   (child) load with XGBoost, predict
//                                            random rows, or PRED's and compare
//   model_check_test --time FILE...          check time vs XGBoost load time
//                                            (a measurement: exits 0)
//
// A PATH is a model file or a folder of them (*.ubj). The checking modes end
// with the line "N passed, M failed" (run.sh adds them up) and exit 0 when M
// is 0. See run.sh.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xgboost/c_api.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
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

// The *.ubj files of each folder (sorted), and each file named as it is.
std::vector<std::string> expand(char** args, int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
        if (fs::is_directory(args[i])) {
            std::vector<std::string> files;
            for (const auto& e : fs::directory_iterator(args[i]))
                if (e.is_regular_file() && e.path().extension() == ".ubj")
                    files.push_back(e.path().string());
            std::sort(files.begin(), files.end());
            out.insert(out.end(), files.begin(), files.end());
        } else {
            out.emplace_back(args[i]);
        }
    }
    return out;
}

std::string name_of(const std::string& path) { return fs::path(path).filename().string(); }

// XGBoost's errors go on with a stack trace.
std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// check_model on the first n bytes, copied so that they end where an
// unmapped page begins: a read past the end faults (the harness dies, which
// run.sh counts as a failure) instead of reading whatever follows by chance.
std::string check(const std::vector<uint8_t>& bytes, size_t n) {
    static uint8_t* base = nullptr;
    static size_t room = 0;
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    if (n > room) {
        if (base) munmap(base, room + page);
        room = (n + page - 1) / page * page;
        void* p = mmap(nullptr, room + page, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED || mprotect(static_cast<uint8_t*>(p) + room, page, PROT_NONE) != 0) {
            std::perror("mmap");
            std::exit(2);
        }
        base = static_cast<uint8_t*>(p);
    }
    uint8_t* at = base + room - n;
    if (n) std::memcpy(at, bytes.data(), n);
    auto ok = pgml::ubjson::check_model(at, n);
    return ok ? std::string() : ok.error().message;
}

std::string check(const std::vector<uint8_t>& bytes) { return check(bytes, bytes.size()); }

// A booster loaded straight from model bytes (no check), predicting the way
// the extension does (in-place dense prediction, src/core/xgb.cpp). The
// methods return an empty string or XGBoost's error.
class Xgb {
public:
    ~Xgb() {
        if (proxy_) XGDMatrixFree(proxy_);
        if (b_) XGBoosterFree(b_);
    }
    std::string load(const std::vector<uint8_t>& bytes) {
        if (XGBoosterCreate(nullptr, 0, &b_) != 0 ||
            XGBoosterLoadModelFromBuffer(b_, bytes.data(), bytes.size()) != 0)
            return XGBGetLastError();
        return {};
    }
    size_t num_feature() const {
        bst_ulong n = 0;
        return XGBoosterGetNumFeature(b_, &n) == 0 ? n : 0;
    }
    // x: rows x cols, row-major, NaN for missing. In place, as the extension
    // predicts; through a DMatrix when XGBoost 1.7 cannot predict in place
    // (gblinear), so that those models are predicted too (via_dmatrix).
    std::string predict(const std::vector<float>& x, size_t rows, size_t cols,
                        std::vector<float>& out) {
        char ai[200];
        std::snprintf(ai, sizeof ai,
                      "{\"data\":[%" PRIuPTR ",true],\"shape\":[%zu,%zu],\"typestr\":\"<f4\","
                      "\"version\":3}",
                      reinterpret_cast<uintptr_t>(x.data()), rows, cols);
        const char* config =
            "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"
            "\"cache_id\":0,\"strict_shape\":false,\"missing\":NaN}";
        const bst_ulong* shape = nullptr;
        bst_ulong dim = 0;
        const float* p = nullptr;
        if (!proxy_ && XGProxyDMatrixCreate(&proxy_) != 0) return XGBGetLastError();
        if (XGBoosterPredictFromDense(b_, ai, config, proxy_, &shape, &dim, &p) != 0) {
            std::string why = XGBGetLastError();
            if (why.find("Inplace predict is not supported") == std::string::npos) return why;
            via_dmatrix = true;
            DMatrixHandle m = nullptr;
            int rc = XGDMatrixCreateFromMat(x.data(), rows, cols, NAN, &m);
            if (rc == 0) rc = XGBoosterPredictFromDMatrix(b_, m, config, &shape, &dim, &p);
            why = rc ? XGBGetLastError() : "";
            if (rc == 0) copy(shape, dim, p, out);  // before the matrix goes
            if (m) XGDMatrixFree(m);
            return why;
        }
        copy(shape, dim, p, out);
        return {};
    }
    bool via_dmatrix = false;

private:
    static void copy(const bst_ulong* shape, bst_ulong dim, const float* p,
                     std::vector<float>& out) {
        size_t size = 1;
        for (bst_ulong i = 0; i < dim; ++i) size *= shape[i];
        out.assign(p, p + size);
    }

    BoosterHandle b_ = nullptr;
    DMatrixHandle proxy_ = nullptr;
};

// (child, --sweep) Predicts 64 random rows. Returns 0 when XGBoost predicted
// or refused cleanly; a crash or hang never returns.
int predict_random(const std::string& path) {
    Xgb xgb;
    if (auto why = xgb.load(read_file(path)); !why.empty()) {
        std::printf("xgboost refused: %s\n", first_line(why).c_str());
        return 0;
    }
    size_t cols = std::min<size_t>(xgb.num_feature(), 4096), rows = 64;
    if (cols == 0) {
        std::printf("no features\n");
        return 0;
    }
    std::vector<float> x(rows * cols), out;
    std::mt19937 rng(42);
    std::normal_distribution<float> dist;
    for (size_t i = 0; i < x.size(); ++i) x[i] = (i % 7 == 3) ? NAN : dist(rng);
    if (auto why = xgb.predict(x, rows, cols, out); !why.empty()) {
        std::printf("xgboost prediction refused: %s\n", first_line(why).c_str());
        return 0;
    }
    std::printf("predicted %zu values%s, first %g\n", out.size(),
                xgb.via_dmatrix ? " through a DMatrix" : "",
                out.empty() ? 0.0 : static_cast<double>(out[0]));
    return 0;
}

// What make_models.py saves as NAME.pred: "rows cols outputs", the rows
// (nan for missing), then each row's predictions as Python's xgboost made
// them from the booster it trained.
struct Saved {
    size_t rows = 0, cols = 0, outputs = 0;
    std::vector<float> x, y;
};

std::string read_saved(const std::string& path, Saved& s) {
    std::ifstream in(path);
    if (!(in >> s.rows >> s.cols >> s.outputs) || !s.rows || !s.cols || !s.outputs)
        return "cannot read the header of " + path;
    std::vector<float> v;
    for (std::string word; in >> word;) {
        char* end = nullptr;
        float f = std::strtof(word.c_str(), &end);  // reads "nan", which >> does not
        if (*end) return path + " holds \"" + word + "\"";
        v.push_back(f);
    }
    if (v.size() != s.rows * (s.cols + s.outputs))
        return path + " holds " + std::to_string(v.size()) + " numbers, not " +
               std::to_string(s.rows * (s.cols + s.outputs));
    s.x.assign(v.begin(), v.begin() + static_cast<long>(s.rows * s.cols));
    s.y.assign(v.begin() + static_cast<long>(s.rows * s.cols), v.end());
    return {};
}

// (child, --valid) Predicts PRED's rows; 0 when every prediction is finite
// and matches Python's. Prints one line: what matched, or why not.
int predict_saved(const std::string& path, const std::string& pred) {
    auto say = [](const std::string& why) {
        std::printf("%s\n", why.c_str());
        return 1;
    };
    Saved s;
    if (auto why = read_saved(pred, s); !why.empty()) return say(why);
    Xgb xgb;
    std::vector<float> out;
    if (auto why = xgb.load(read_file(path)); !why.empty())
        return say("XGBoost refused to load it: " + first_line(why));
    if (auto why = xgb.predict(s.x, s.rows, s.cols, out); !why.empty())
        return say("XGBoost refused to predict: " + first_line(why));
    if (out.size() != s.y.size())
        return say("XGBoost made " + std::to_string(out.size()) + " predictions, Python " +
                   std::to_string(s.y.size()));
    for (size_t i = 0; i < out.size(); ++i) {
        // Python predicted through a DMatrix, this in place: the same sums,
        // not always in the same order (dart differs by a few ulps).
        float want = s.y[i];
        bool close = std::fabs(out[i] - want) <= 1e-5f * std::max(1.0f, std::fabs(want));
        if (!std::isfinite(out[i]) || !close) {
            char msg[200];
            std::snprintf(msg, sizeof msg,
                          "row %zu, output %zu: XGBoost predicted %.9g, Python %.9g",
                          i / s.outputs, i % s.outputs, static_cast<double>(out[i]),
                          static_cast<double>(want));
            return say(msg);
        }
    }
    std::printf("%zu rows, %zu predictions as Python's%s\n", s.rows, out.size(),
                xgb.via_dmatrix ? " (through a DMatrix: no in-place prediction)" : "");
    return 0;
}

enum class Child { ok, failed, crashed, hung };

// Runs "self args..." with an alarm after secs seconds (which survives
// exec: a hang ends by SIGALRM); out gets what it printed, trimmed.
Child run_child(const std::string& self, unsigned secs, const std::vector<std::string>& args,
                std::string& out) {
    int fds[2];
    if (pipe(fds) != 0) return Child::failed;
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 2);  // XGBoost's warnings
        close(fds[0]);
        close(fds[1]);
        std::vector<char*> argv{const_cast<char*>(self.c_str())};
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        alarm(secs);
        execv(self.c_str(), argv.data());
        _exit(127);
    }
    close(fds[1]);
    out.clear();
    char buf[4096];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
        out.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status)) return WEXITSTATUS(status) == 0 ? Child::ok : Child::failed;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? Child::hung : Child::crashed;
}

// --valid's test of one model: the check passes it, and XGBoost loads it
// and predicts its NAME.pred rows as Python did. what says what matched, or
// why it failed.
bool predicts_as_saved(const std::string& self, const std::string& path, std::string& what) {
    if (auto why = check(read_file(path)); !why.empty()) {
        what = "refused: " + why;
        return false;
    }
    std::string pred = fs::path(path).replace_extension(".pred").string();
    switch (run_child(self, 60, {"--predict", path, pred}, what)) {
        case Child::ok: return true;
        case Child::failed:  // what says why
            if (what.empty()) what = "the --predict child failed and said nothing";
            return false;
        case Child::crashed: what = "accepted, but XGBoost crashed"; return false;
        case Child::hung: what = "accepted, but XGBoost hung"; return false;
    }
    return false;
}

// The truncation lengths tried for a model of len bytes: every length up to
// 8192, else 8192 spread evenly (parsing a prefix costs its length), and
// always the last 64 (where the closing brackets are).
std::vector<size_t> truncations(size_t len) {
    constexpr size_t kSpread = 8192, kTail = 64;
    std::vector<size_t> out;
    size_t step = std::max<size_t>(1, len / kSpread);
    for (size_t n = 0; n < len; n += step) out.push_back(n);
    for (size_t n = len > kTail ? len - kTail : 0; n < len; ++n)
        if (n > out.back()) out.push_back(n);
    return out;
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

void time_model(const std::string& path) {
    auto bytes = read_file(path);
    bool ok = true;
    double check_ms = median_ms(9, [&] {
        ok = ok && pgml::ubjson::check_model(bytes.data(), bytes.size()).has_value();
    });
    double load_ms = median_ms(5, [&] {
        BoosterHandle b = nullptr;
        XGBoosterCreate(nullptr, 0, &b);
        if (XGBoosterLoadModelFromBuffer(b, bytes.data(), bytes.size()) != 0) ok = false;
        XGBoosterFree(b);
    });
    std::printf("%s: %zu bytes; check_model %.2f ms, XGBoost load %.2f ms (median)%s\n",
                path.c_str(), bytes.size(), check_ms, load_ms,
                ok ? "" : " (refused or not loaded: see --valid)");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr,
                     "usage: %s --valid|--mispredicted|--invalid|--truncated|--sweep|--predict|"
                     "--time PATH...\n",
                     argv[0]);
        return 2;
    }
    std::string mode = argv[1];
    if (mode == "--predict")
        return argc > 3 ? predict_saved(argv[2], argv[3]) : predict_random(argv[2]);
    const char* modes[] = {"--valid", "--mispredicted", "--invalid",
                           "--truncated", "--sweep", "--time"};
    if (std::find(std::begin(modes), std::end(modes), mode) == std::end(modes)) {
        std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
        return 2;
    }
    XGBRegisterLogCallback([](const char*) {});
    auto files = expand(argv + 2, argc - 2);
    if (mode == "--time") {
        for (const auto& f : files) time_model(f);
        return 0;
    }
    std::string self = fs::canonical("/proc/self/exe").string();
    int passed = 0, failed = 0;
    // One line a check, except passing sweep inputs (thousands).
    auto verdict = [&](bool ok, const std::string& path, const std::string& what) {
        std::printf("%s %s: %s\n", ok ? "ok  " : "FAIL", ok ? name_of(path).c_str() : path.c_str(),
                    what.c_str());
        ++(ok ? passed : failed);
    };
    int refused = 0, fine = 0;
    std::map<std::string, int> reasons;
    for (const auto& f : files) {
        if (mode == "--valid" || mode == "--mispredicted") {
            std::string what;
            bool ok = predicts_as_saved(self, f, what);
            if (mode == "--valid") verdict(ok, f, what);
            else verdict(!ok, f, ok ? "passed --valid with wrong predictions: " + what : what);
        } else if (mode == "--invalid") {
            std::string why = check(read_file(f));
            verdict(!why.empty(), f, why.empty() ? "accepted" : why);
        } else if (mode == "--truncated") {
            auto bytes = read_file(f);
            auto lengths = truncations(bytes.size());
            std::string accepted;
            for (size_t n : lengths)
                if (check(bytes, n).empty()) accepted += " " + std::to_string(n);
            verdict(accepted.empty(), f,
                    accepted.empty() ? std::to_string(lengths.size()) + " truncations refused"
                                     : "accepted truncated to" + accepted.substr(0, 200));
        } else {  // --sweep
            std::string why = check(read_file(f));
            if (!why.empty()) {
                ++refused;
                ++passed;
                // Group messages by their first words (tree and node numbers vary).
                ++reasons[why.substr(0, why.find_first_of("0123456789\""))];
                continue;
            }
            std::string out;
            Child r = run_child(self, 10, {"--predict", f}, out);
            if (r == Child::ok) {
                ++fine;
                ++passed;
            } else {
                verdict(false, f, r == Child::hung ? "accepted, but XGBoost hung"
                                                   : "accepted, but XGBoost crashed");
            }
        }
    }
    if (mode == "--sweep") {
        std::printf("sweep of %zu inputs: refused %d, accepted-and-fine %d, "
                    "accepted-and-crashed-or-hung %d\n",
                    files.size(), refused, fine, failed);
        for (const auto& [k, n] : reasons) std::printf("  %6d  %s\n", n, k.c_str());
    }
    if (files.empty()) {
        std::printf("no models in the paths given\n");
        ++failed;
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
