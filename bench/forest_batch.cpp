// bench/forest_batch: the scoring inside pgml.predict_batch against
// XGBoost's own batch predict, both on the same rows already in memory,
// one thread each: the compiled forest (src/core/forest.hpp, as the
// backend scores it from shared memory, in chunks of 8192 rows) against
// XGBoosterPredictFromDense over all rows at once with nthread = 1. The
// answers are compared bit for bit. What the SQL statement adds on top
// (reading the array, returning a row per answer) is bench/quick's.
// Then each layout the model allows (general, complete) on its own: rows
// per second in chunks, and ns a row one row a call (as pgml.predict
// scores in place), on at most SINGLE_ROWS rows, and one row a call from a
// cold cache: 64 MB of other memory written before each of 300 calls (as
// when a large model's forest has left the cache between two requests).
//
// Usage: forest_batch MODEL.ubj ROWS.csv [SINGLE_ROWS [MAX_ROWS]]  (the
// CSV of bench/gen_flights.py: the label, then the ten features; at most
// MAX_ROWS of it are read). Prints "name value" lines.
#include <xgboost/c_api.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "core/forest.hpp"
#include "core/ubjson.hpp"

namespace {

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

[[noreturn]] void die(const std::string& why) {
    std::fprintf(stderr, "forest_batch: %s\n", why.c_str());
    std::exit(1);
}

void check(int rc) {
    if (rc != 0) die(XGBGetLastError());
}

// Room for a forest of `size` bytes in v, on a cache line as the shared
// arena holds forests.
void* line_aligned(std::vector<uint64_t>& v, size_t size) {
    v.resize(size / 8 + 9);
    return reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(v.data()) + 63) & ~uintptr_t{63});
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3 || argc > 5) die("usage: forest_batch MODEL.ubj ROWS.csv [SINGLE_ROWS [MAX_ROWS]]");
    const size_t max_rows = argc == 5 ? std::strtoul(argv[4], nullptr, 10) : SIZE_MAX;
    std::ifstream in(argv[1], std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
    constexpr size_t kWidth = 10;
    std::vector<float> rows;
    std::ifstream csv(argv[2]);
    for (std::string line; rows.size() / kWidth < max_rows && std::getline(csv, line);) {
        std::istringstream fields(line);
        std::string v;
        std::getline(fields, v, ',');  // the label
        for (size_t k = 0; k < kWidth && std::getline(fields, v, ','); ++k) rows.push_back(std::strtof(v.c_str(), nullptr));
    }
    const size_t n = rows.size() / kWidth;
    if (n == 0) die("no rows");

    auto doc = pgml::ubjson::Document::parse(bytes.data(), bytes.size());
    if (!doc) die(doc.error().message);
    auto size = pgml::forest::forest_size(*doc);
    if (!size) die(size.error().message);
    std::vector<uint64_t> block;
    auto f = pgml::forest::compile_forest(*doc, line_aligned(block, *size), *size);
    if (!f) die(f.error().message);
    if ((*f)->num_feature != kWidth || (*f)->num_groups != 1) die("expected a 10-feature regression");

    BoosterHandle booster;
    check(XGBoosterCreate(nullptr, 0, &booster));
    check(XGBoosterLoadModelFromBuffer(booster, bytes.data(), bytes.size()));
    check(XGBoosterSetParam(booster, "nthread", "1"));
    char array[256];
    std::snprintf(array, sizeof array,
                  "{\"data\": [%zu, true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", \"version\": 3}",
                  reinterpret_cast<size_t>(rows.data()), n, kWidth);
    const char* config = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
                         "\"cache_id\": 0, \"strict_shape\": false, \"missing\": NaN}";

    std::vector<float> ours(n), theirs(n);
    double best_forest = 1e9, best_xgb = 1e9;
    for (int round = 0; round < 3; ++round) {
        double t0 = now_s();
        constexpr size_t kChunk = 8192;  // as predict_batch pins a forest
        for (size_t at = 0; at < n; at += kChunk)
            pgml::forest::predict(**f, rows.data() + at * kWidth, std::min(kChunk, n - at), ours.data() + at);
        best_forest = std::min(best_forest, now_s() - t0);
        t0 = now_s();
        const bst_ulong* shape;
        bst_ulong dims;
        const float* out;
        check(XGBoosterPredictFromDense(booster, array, config, nullptr, &shape, &dims, &out));
        best_xgb = std::min(best_xgb, now_s() - t0);
        std::memcpy(theirs.data(), out, n * sizeof(float));
    }
    XGBoosterFree(booster);
    bool same = std::memcmp(ours.data(), theirs.data(), n * sizeof(float)) == 0;
    std::printf("rows %zu\nforest_rows_per_s %.0f\nxgboost_rows_per_s %.0f\nlayout %s\n", n,
                n / best_forest, n / best_xgb, (*f)->complete_depth ? "complete" : "general");

    const size_t single = std::min<size_t>(n, argc >= 4 ? std::strtoul(argv[3], nullptr, 10) : 100000);
    for (auto layout : {pgml::forest::Layout::general, pgml::forest::Layout::complete}) {
        const char* name = layout == pgml::forest::Layout::general ? "general" : "complete";
        auto lsize = pgml::forest::forest_size(*doc, layout);
        if (!lsize) continue;  // no split anywhere: general only
        std::vector<uint64_t> lblock;
        auto g = pgml::forest::compile_forest(*doc, line_aligned(lblock, *lsize), *lsize, layout);
        if (!g) die(g.error().message);
        std::vector<float> one(single);
        std::vector<char> other(64u << 20, 1);
        const size_t cold = std::min<size_t>(single, 300);
        double best_batch = 1e9, best_single = 1e9, best_cold = 1e9;
        for (int round = 0; round < 3; ++round) {
            double t0 = now_s();
            for (size_t at = 0; at < n; at += 8192)
                pgml::forest::predict(**g, rows.data() + at * kWidth, std::min<size_t>(8192, n - at), ours.data() + at);
            best_batch = std::min(best_batch, now_s() - t0);
            t0 = now_s();
            for (size_t i = 0; i < single; ++i) pgml::forest::predict(**g, rows.data() + i * kWidth, 1, &one[i]);
            best_single = std::min(best_single, now_s() - t0);
            double spent = 0;
            for (size_t i = 0; i < cold; ++i) {
                for (size_t b = 0; b < other.size(); b += 64) other[b]++;
                t0 = now_s();
                pgml::forest::predict(**g, rows.data() + i * kWidth, 1, &one[i]);
                spent += now_s() - t0;
            }
            best_cold = std::min(best_cold, spent);
        }
        same = same && std::memcmp(ours.data(), theirs.data(), n * sizeof(float)) == 0 &&
               std::memcmp(one.data(), theirs.data(), single * sizeof(float)) == 0;
        std::printf("%s_bytes %zu\n%s_rows_per_s %.0f\n%s_row_ns %.0f\n%s_cold_row_ns %.0f\n", name, *lsize, name,
                    n / best_batch, name, best_single / single * 1e9, name, best_cold / cold * 1e9);
    }
    std::printf("bit_identical %s\n", same ? "yes" : "NO");
    return same ? 0 : 1;
}
