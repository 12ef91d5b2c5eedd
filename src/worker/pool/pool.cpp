#include "worker/pool/pool.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <memory>
#include <cstring>
#include <pthread.h>

namespace pgml::pool {

namespace {

using shm::Slot;

using Request = Pool::Request;


bool same_model(const Slot* a, const Slot* b) {
    return a->db == b->db && a->model_id == b->model_id && a->kind == b->kind;
}

void set_failed(Slot* s, const std::string& message) {
    s->status = shm::FAILED;
    size_t n = std::min(message.size(), sizeof s->message - 1);
    std::memcpy(s->message, message.data(), n);
    s->message[n] = '\0';
}

}  // namespace

bool Pool::take(shm::Region* r, uint32_t index) {
    Slot* s = shm::slot(r, index);
    uint32_t expected = shm::QUEUED;
    if (!s->state.compare_exchange_strong(expected, shm::TAKEN, std::memory_order_acq_rel)) {
        shm::release(r, index);
        return false;
    }
    // Echoed with the answer: the backend checks it is its own request's.
    s->answered = s->generation;
    return true;
}

void Pool::finish(shm::Region* r, uint32_t index) {
    Slot* s = shm::slot(r, index);
    shm::record_latency(r->stats, shm::steady_ns() - s->enqueued_ns);
    if (!shm::answer(s)) shm::release(r, index);  // abandoned while we worked: ours to free
}

void Pool::start(int n) {
    // Threads inherit the creating thread's signal mask: block everything
    // while creating them, then restore the main thread's mask (also when
    // creating a thread throws).
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    struct Restore {
        sigset_t* mask;
        ~Restore() { pthread_sigmask(SIG_SETMASK, mask, nullptr); }
    } restore{&old};
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { run(); });
}

void Pool::stop() {
    if (threads_.empty()) return;
    shm::stop_requests(region_);
    for (auto& t : threads_) t.join();
    threads_.clear();
}

// Nothing may escape a pool thread (std::terminate would take the cluster
// down): should anything throw (memory for the buffers, the semaphore),
// the thread pauses and starts over. Requests it held are answered by the
// CAS protocol's other side: a backend times out and abandons them.
void Pool::run() {
    for (;;) {
        try {
            run_loop();
            return;
        } catch (...) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            if (region_->stopping) return;
        }
    }
}

void Pool::run_loop() {
    // Sized for the largest batch but left uninitialized: only the pages a
    // batch uses ever become resident.
    const size_t cells = static_cast<size_t>(kMaxBatchLimit) * region_->max_features;
    std::unique_ptr<uint32_t[]> indices(new uint32_t[kMaxBatchLimit]);
    std::unique_ptr<float[]> rows(new float[cells]);
    std::unique_ptr<double[]> values(new double[kMaxBatchLimit]);
    std::unique_ptr<float[]> proba(new float[cells]);
    std::vector<Request> reqs;
    reqs.reserve(kMaxBatchLimit);
    uint32_t last = 1;  // requests in this thread's last batch
    for (;;) {
        uint32_t limit = std::clamp<uint32_t>(max_batch.load(std::memory_order_relaxed), 1, kMaxBatchLimit);
        // Poll a while before sleeping (one thread at a time): the next
        // request usually comes soon, and picking it up costs no wake-up.
        // Only after a batch of one: requests that come together mean
        // several backends are busy, and they need the CPUs more.
        uint64_t spin_ns = static_cast<uint64_t>(spin_us.load(std::memory_order_relaxed)) * 1000;
        uint32_t n = spin_ns && last <= 1 ? shm::spin_for_requests(region_, indices.get(), limit, spin_ns) : 0;
        if (n == 0) n = shm::take_requests(region_, indices.get(), limit);
        if (n == 0) return;  // stopping
        // Optionally give the batch a moment to fill.
        uint32_t wait_us = max_wait_us.load(std::memory_order_relaxed);
        if (wait_us > 0 && n < limit) {
            uint64_t deadline = shm::steady_ns() + static_cast<uint64_t>(wait_us) * 1000;
            while (n < limit && shm::steady_ns() < deadline) {
                uint32_t more = shm::poll_requests(region_, indices.get() + n, limit - n);
                if (more == 0) std::this_thread::yield();
                n += more;
            }
        }
        serve(indices.get(), n, reqs, rows.get(), values.get(), proba.get());
        last = n;
    }
}

void Pool::serve(uint32_t* indices, uint32_t n, std::vector<Request>& reqs, float* rows,
                 double* values, float* proba) {
    // Claim each request; one abandoned before we got to it is ours to free.
    reqs.clear();
    for (uint32_t i = 0; i < n; ++i)
        if (take(region_, indices[i])) reqs.push_back({indices[i], shm::slot(region_, indices[i])});
    // Requests for one model side by side, scored together (std::sort does
    // not allocate; the order within a model does not matter).
    if (reqs.size() > 1) std::sort(reqs.begin(), reqs.end(), [](const Request& a, const Request& b) {
        if (a.slot->db != b.slot->db) return a.slot->db < b.slot->db;
        if (a.slot->model_id != b.slot->model_id) return a.slot->model_id < b.slot->model_id;
        return a.slot->kind < b.slot->kind;
    });

    auto& stats = region_->stats;
    stats.requests.fetch_add(reqs.size(), std::memory_order_relaxed);
    const uint32_t width = region_->max_features;
    for (size_t begin = 0; begin < reqs.size();) {
        size_t end = begin + 1;
        while (end < reqs.size() && same_model(reqs[begin].slot, reqs[end].slot)) ++end;
        const size_t count = end - begin;
        Slot* first = reqs[begin].slot;

        Lease lease = registry_.find(ModelKey{first->db, first->model_id});
        const Model* model = lease.model.get();
        bool ok = true;
        if (!model) {
            for (size_t i = begin; i < end; ++i) reqs[i].slot->status = shm::NEED_MODEL;
            ok = false;
        } else {
            const size_t nf = model->num_features();
            // A row of the wrong width never reaches XGBoost.
            for (size_t i = begin; i < end; ++i)
                if (reqs[i].slot->nfeatures != nf) {
                    set_failed(reqs[i].slot, "wrong number of features for the worker's model");
                    ok = false;
                }
            if (ok) {
                // One request is scored straight from its slot; a batch is
                // gathered into one block, as XGBoost needs.
                const float* block = first->data;
                if (count > 1) {
                    for (size_t i = 0; i < count; ++i)
                        std::memcpy(&rows[i * nf], reqs[begin + i].slot->data, nf * sizeof(float));
                    block = rows;
                }
                Result<void> r;
                if (first->kind == shm::PREDICT) {
                    r = model->predict_batch(block, count, values);
                } else {
                    const size_t k = model->num_classes();
                    if (k > width)
                        r = fail(sqlstate::limit_exceeded, "more classes than pgml_worker.max_features");
                    else
                        r = model->predict_proba_batch(block, count, proba);
                }
                if (!r) {
                    for (size_t i = begin; i < end; ++i) set_failed(reqs[i].slot, r.error().message);
                } else {
                    for (size_t i = 0; i < count; ++i) {
                        Slot* s = reqs[begin + i].slot;
                        s->status = shm::OK;
                        if (first->kind == shm::PREDICT) {
                            s->value = values[i];
                            s->nresult = 1;
                        } else {
                            const size_t k = model->num_classes();
                            std::memcpy(s->data, &proba[i * k], k * sizeof(float));
                            s->nresult = static_cast<uint32_t>(k);
                        }
                    }
                }
                if (lease.stat) lease.stat->requests.fetch_add(count, std::memory_order_relaxed);
            }
        }
        stats.batches.fetch_add(1, std::memory_order_relaxed);
        stats.batched_rows.fetch_add(count, std::memory_order_relaxed);
        uint64_t seen = stats.max_batch.load(std::memory_order_relaxed);
        while (count > seen && !stats.max_batch.compare_exchange_weak(seen, count)) {
        }
        for (size_t i = begin; i < end; ++i) finish(region_, reqs[i].index);
        begin = end;
    }
}

}  // namespace pgml::pool
