#include "backend/scoring.hpp"

#include <string>

#include "backend/in_place.hpp"
#include "backend/worker_client.hpp"
#include "core/answer.hpp"
#include "pg/guard.hpp"
#include "pg/region.hpp"
#include "pg/settings.hpp"
#include "shmem/region.hpp"

namespace pgml::backend {

namespace {

using settings::PredictPath;

PredictPath path() { return static_cast<PredictPath>(settings::predict_path); }

// The backend path's float32 copy of a row that is not float32 already.
// Plain C: may ereport (memory).
const float* as_float(const FeatureRow& row) {
    if (row.type == ElemType::f4) return static_cast<const float*>(row.data);
    float* dst = static_cast<float*>(palloc(sizeof(float) * (row.count > 0 ? row.count : 1)));
    row.to_float(dst);
    return dst;
}

enum class Served { done, use_backend };

Result<Served> not_available(const char* why) {
    if (path() == PredictPath::automatic) return Served::use_backend;
    return fail(sqlstate::not_in_prerequisite_state, std::string("the pgml_worker serving worker is not available: ") + why,
                "Retry shortly, or SET pgml_worker.predict_path = 'auto' to score in this "
                "connection while the worker is away.");
}

// The worker path. Returns use_backend when predict_path = auto and the
// worker cannot take the request; an Error when it must not fall back.
Result<Served> on_worker(CachedModel& m, const FeatureRow& row, uint32_t kind, Answer& out) {
    const bool fallback = path() == PredictPath::automatic;  // queued, inplace, worker: no fallback
    shm::Region* r = pg::region();
    if (!r) return not_available("pgml_worker is not in shared_preload_libraries");
    const uint32_t nvector = static_cast<uint32_t>(answer::vector_size(m.classes.size(), m.targets));
    if (row.count > r->max_features || (kind == shm::PROBA && nvector > r->max_features)) {
        if (fallback) return Served::use_backend;
        return fail(sqlstate::limit_exceeded,
                    "the row is wider than pgml_worker.max_features (" +
                        std::to_string(r->max_features) + ")",
                    "Raise pgml_worker.max_features, or use predict_path 'backend' or 'auto'.");
    }
    if (!worker_available(row.count)) return not_available("it is starting or restarting");

    Ask ask{kind, m.model_id, row, request_deadline(), 0, out.proba, nvector, {0}};
    // Ask, hand the model over if the worker lacks it, ask again: until the
    // deadline, because while deployments switch the worker may free a
    // model between our hand-over and our next ask. Each step returns
    // timed_out once the deadline has passed, so this ends.
    for (;;) {
        Asked asked = Asked::failed;
        if (auto c = pg::call([&] { asked = ask_worker(&ask); }); !c) return tl::unexpected(c.error());
        if (asked == Asked::answered) {
            out.value = ask.value;
            return Served::done;
        }
        if (asked == Asked::failed)
            return fail(sqlstate::internal, std::string("the serving worker failed: ") + ask.message);
        if (asked == Asked::unavailable) return not_available("it went away");
        if (asked == Asked::need_model) {
            char message[256] = "";
            auto c = pg::call([&] {
                asked = hand_over_model(m.model_id, m.task == Task::classification, m.classes.data(),
                                        static_cast<uint32_t>(m.classes.size()), ask.deadline,
                                        message, sizeof message);
            });
            if (!c) return tl::unexpected(c.error());
            if (asked == Asked::failed)
                return fail(sqlstate::internal, "the serving worker could not load model " +
                                                    std::to_string(m.model_id) + ": " + message);
            if (asked == Asked::unavailable) return not_available("it went away");
            if (asked != Asked::timed_out) continue;
        }
        // Timed out.
        if (fallback) return Served::use_backend;
        return fail(sqlstate::system_error,
                    "the pgml_worker serving worker did not answer within " +
                        std::to_string(settings::timeout_ms) + " ms",
                    "Raise pgml_worker.timeout_ms, or SET pgml_worker.predict_path = 'auto'.");
    }
}

}  // namespace

Result<void> score(CachedModel& m, const FeatureRow& row, uint32_t kind, Answer& out) {
    const PredictPath p = path();
    // In place first, from the model's shared forest: on the default path
    // (worker, and auto) a small forest always, a large one when one of the
    // threads tokens is free, so that no more large walks run at once than
    // the pool has threads; always when forced (inplace). A model with no
    // shared forest yet is queued; its hand-over to the worker builds one.
    if (p == PredictPath::worker || p == PredictPath::automatic || p == PredictPath::inplace) {
        auto done = score_in_place(m, row, kind, out, p != PredictPath::inplace);
        if (!done) return tl::unexpected(done.error());
        if (*done) return {};
    }
    if (p != PredictPath::backend) {
        auto served = on_worker(m, row, kind, out);
        if (!served) return tl::unexpected(served.error());
        if (*served == Served::done) return {};
    }
    auto booster = backend_booster(m);
    if (!booster) return tl::unexpected(booster.error());
    const float* values = nullptr;
    if (auto c = pg::call([&] { values = as_float(row); }); !c) return tl::unexpected(c.error());
    if (kind == shm::PROBA) return (*booster)->predict_proba(values, out.proba);
    auto v = (*booster)->predict(values);
    if (!v) return tl::unexpected(v.error());
    out.value = *v;
    return {};
}

}  // namespace pgml::backend
