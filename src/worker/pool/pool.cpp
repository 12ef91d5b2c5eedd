#include "worker/pool/pool.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "core/xgb.hpp"
#include "shmem/clock.hpp"

namespace pgml::pool {

using shm::Slot;
using Request = Pool::Request;

// Sized for the largest batch but left uninitialized: only the pages a
// batch uses ever become resident.
struct Pool::Buffers {
    explicit Buffers(size_t width)
        : indices(new uint32_t[kMaxBatchLimit]),
          rows(new float[kMaxBatchLimit * width]),
          values(new double[kMaxBatchLimit]),
          proba(new float[kMaxBatchLimit * width]) {
        reqs.reserve(kMaxBatchLimit);
    }
    std::unique_ptr<uint32_t[]> indices;
    std::unique_ptr<float[]> rows;
    std::unique_ptr<double[]> values;
    std::unique_ptr<float[]> proba;
    std::vector<Request> reqs;
};

Pool::Pool(shm::Region* region, Registry& registry) : region_(region), registry_(registry) {}
Pool::~Pool() { stop(); }

namespace {

bool same_model(const Slot* a, const Slot* b) {
    return a->db == b->db && a->model_id == b->model_id && a->kind == b->kind;
}

}  // namespace

void Pool::start(int n) {
    // Threads inherit the creating thread's signal mask: block them while
    // starting the threads, then restore the main thread's mask (also when
    // starting one throws).
    xgb::SignalsBlocked blocked;
    for (int i = 0; i < n; ++i) buffers_.push_back(std::make_unique<Buffers>(region_->max_features));
    for (int i = 0; i < n; ++i) threads_.emplace_back([this, b = buffers_[i].get()] { run(b); });
}

void Pool::stop() noexcept {
    if (threads_.empty()) return;
    shm::stop_requests(region_);
    for (auto& t : threads_) {
        try {
            t.join();
        } catch (...) {
            // Only a thread that is not joinable throws here; nothing to wait for.
        }
    }
    threads_.clear();
    buffers_.clear();
}

// Nothing may escape a pool thread (std::terminate would take the cluster
// down), and nothing in run_loop throws: what a batch's scoring throws is
// answered inside serve. The catch is a last resort.
void Pool::run(Buffers* b) noexcept {
    // XGBoost sizes its OpenMP teams by the calling thread's setting when
    // a booster's own nthread does not say: one thread, always.
    xgb::use_one_thread_here();
    for (;;) {
        try {
            run_loop(*b);
            return;
        } catch (...) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            if (region_->stopping.load(std::memory_order_relaxed)) return;
        }
    }
}

void Pool::run_loop(Buffers& b) {
    uint32_t last = 1;  // requests in this thread's last batch
    for (;;) {
        uint32_t limit = std::clamp<uint32_t>(max_batch.load(std::memory_order_relaxed), 1, kMaxBatchLimit);
        // Poll a while before sleeping (one thread at a time): the next
        // request usually comes soon, and picking it up costs no wake-up.
        // Only after a batch of one: requests that come together mean
        // several backends are busy, and they need the CPUs more.
        uint64_t spin_ns = static_cast<uint64_t>(spin_us.load(std::memory_order_relaxed)) * 1000;
        uint32_t n = spin_ns && last <= 1 ? shm::spin_for_requests(region_, b.indices.get(), limit, spin_ns) : 0;
        if (n == 0) n = shm::take_requests(region_, b.indices.get(), limit);
        if (n == 0) return;  // stopping
        // Optionally give the batch a moment to fill.
        uint32_t wait_us = max_wait_us.load(std::memory_order_relaxed);
        if (wait_us > 0 && n < limit) {
            uint64_t deadline = shm::steady_ns() + static_cast<uint64_t>(wait_us) * 1000;
            while (n < limit && shm::steady_ns() < deadline) {
                uint32_t more = shm::poll_requests(region_, b.indices.get() + n, limit - n);
                if (more == 0) std::this_thread::yield();
                n += more;
            }
        }
        serve(b.indices.get(), n, b);
        last = n;
    }
}

// Every request popped here is finished before this returns, whatever
// score() throws: taking cannot fail, and what scoring left unfinished is
// answered FAILED. Otherwise its slot would stay TAKEN for good once the
// backend gave up, and each such fault would shrink the slot pool.
void Pool::serve(const uint32_t* indices, uint32_t n, Buffers& b) noexcept {
    // Claim each request; one abandoned before we got to it is freed by take.
    b.reqs.clear();  // reserved for kMaxBatchLimit: push_back never allocates
    for (uint32_t i = 0; i < n; ++i)
        if (shm::take(region_, indices[i])) b.reqs.push_back({indices[i], shm::slot(region_, indices[i]), false});
    try {
        score(b);
    } catch (const std::exception& e) {
        failed_batches.fetch_add(1, std::memory_order_relaxed);
        for (Request& q : b.reqs)
            if (!q.finished) shm::set_failed(q.slot, e.what());
    } catch (...) {
        failed_batches.fetch_add(1, std::memory_order_relaxed);
        for (Request& q : b.reqs)
            if (!q.finished) shm::set_failed(q.slot, "unexpected C++ exception in a scoring thread");
    }
    for (Request& q : b.reqs)
        if (!q.finished) {
            q.finished = true;
            shm::finish(region_, q.index);
        }
}

void Pool::score(Buffers& b) {
    auto& reqs = b.reqs;
    // Requests for one model side by side, scored together (std::sort does
    // not allocate; the order within a model does not matter).
    if (reqs.size() > 1) std::sort(reqs.begin(), reqs.end(), [](const Request& x, const Request& y) {
        if (x.slot->db != y.slot->db) return x.slot->db < y.slot->db;
        if (x.slot->model_id != y.slot->model_id) return x.slot->model_id < y.slot->model_id;
        return x.slot->kind < y.slot->kind;
    });

    auto& stats = region_->stats;
    stats.requests.fetch_add(reqs.size(), std::memory_order_relaxed);
    for (size_t begin = 0; begin < reqs.size();) {
        size_t end = begin + 1;
        while (end < reqs.size() && same_model(reqs[begin].slot, reqs[end].slot)) ++end;
        const size_t count = end - begin;
        Slot* first = reqs[begin].slot;
        if (fault.load(std::memory_order_relaxed) & fault_score)
            throw std::runtime_error("injected fault: a scoring thread failed mid-batch");

        Lease lease = registry_.find(ModelKey{first->db, first->model_id});
        const Model* model = lease.model.get();
        if (!model) {
            for (size_t i = begin; i < end; ++i) reqs[i].slot->status = shm::NEED_MODEL;
        } else {
            // A row of the wrong width never reaches XGBoost, and fails
            // alone: the group's other rows are scored without it.
            const size_t nf = model->num_features();
            auto good_end = std::partition(reqs.begin() + begin, reqs.begin() + end,
                                           [nf](const Request& q) { return q.slot->nfeatures == nf; });
            for (auto it = good_end; it != reqs.begin() + end; ++it)
                shm::set_failed(it->slot, "wrong number of features for the worker's model");
            const size_t good = static_cast<size_t>(good_end - (reqs.begin() + begin));
            if (good > 0) score_group(*model, &reqs[begin], good, b);
            if (lease.stat) lease.stat->requests.fetch_add(good, std::memory_order_relaxed);
        }
        shm::record_batch(stats, count);
        const uint64_t now = shm::steady_ns();
        for (size_t i = begin; i < end; ++i) {
            shm::record_latency(stats, now - reqs[i].slot->enqueued_ns);
            reqs[i].finished = true;
            shm::finish(region_, reqs[i].index);
        }
        begin = end;
    }
}

// n requests of one model, kind and width, answered in their slots.
void Pool::score_group(const Model& model, Request* group, size_t n, Buffers& b) {
    const size_t nf = model.num_features();
    const size_t k = model.vector_size();  // PROBA: classes, or a joint regression's targets
    const uint32_t kind = group[0].slot->kind;
    // One request is scored straight from its slot; a batch is gathered
    // into one block, as XGBoost needs.
    const float* block = group[0].slot->data;
    if (n > 1) {
        for (size_t i = 0; i < n; ++i) std::memcpy(&b.rows[i * nf], group[i].slot->data, nf * sizeof(float));
        block = b.rows.get();
    }
    Result<void> r;
    if (kind == shm::PREDICT)
        r = model.predict_batch(block, n, b.values.get());
    else if (k > region_->max_features)
        r = fail(sqlstate::limit_exceeded, "more classes or targets than pgml_worker.max_features");
    else
        r = model.predict_proba_batch(block, n, b.proba.get());
    for (size_t i = 0; i < n; ++i) {
        Slot* s = group[i].slot;
        if (!r) {
            shm::set_failed(s, r.error().message.c_str());
        } else if (kind == shm::PREDICT) {
            s->status = shm::OK;
            s->value = b.values[i];
            s->nresult = 1;
        } else {
            s->status = shm::OK;
            std::memcpy(s->data, &b.proba[i * k], k * sizeof(float));
            s->nresult = static_cast<uint32_t>(k);
        }
    }
}

}  // namespace pgml::pool
