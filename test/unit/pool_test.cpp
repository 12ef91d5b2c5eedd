// The scoring threads (src/worker/pool/pool.*) against a real region,
// registry and model, with "backends" played by test threads.
#include <atomic>
#include <cmath>
#include <random>
#include <thread>

#include "common.hpp"
#include "shmem/clock.hpp"
#include "worker/pool/pool.hpp"
#include "worker/pool/registry.hpp"

namespace pgml::unit {
namespace {

using namespace std::chrono_literals;
using pool::ModelKey;
using pool::Pool;
using pool::Registry;

constexpr uint32_t kDb = 1;
constexpr int64_t kModel = 42;
constexpr uint64_t kLimit = uint64_t{1} << 30;

struct Answer {
    int32_t status = -1;  // -1: no answer
    double value = 0;
    uint32_t nresult = 0;
    std::vector<float> proba;
    std::string message;
};

// One request as a backend makes it: acquire a slot, stamp it, write the
// row, publish, wait (polling a little, then sleeping), check the
// generation echo, read the answer, release.
Answer ask(shm::Region* r, uint32_t db, int64_t model, const float* row, uint32_t nfeatures,
           shm::Kind kind = shm::PREDICT) {
    Answer a;
    uint32_t idx;
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!shm::acquire_slot(r, idx)) {
        if (std::chrono::steady_clock::now() > until) {
            ADD_FAILURE() << "no slot came free within 10 s";
            return a;
        }
        std::this_thread::yield();
    }
    shm::Slot* s = shm::slot(r, idx);
    const uint32_t gen = shm::stamp(r, s, kind, db, model);
    s->nfeatures = nfeatures;
    std::memcpy(s->data, row, sizeof(float) * nfeatures);
    shm::publish_request(r, idx);
    uint32_t st;
    while ((st = shm::wait_for_answer(s, 20'000, 100)) != shm::DONE) {
        if (std::chrono::steady_clock::now() > until) {
            ADD_FAILURE() << "no answer within 10 s; slot state " << st;
            shm::abandon(r, idx);
            return a;
        }
    }
    EXPECT_EQ(s->answered, gen) << "an answer for another request";
    a.status = s->status;
    a.value = s->value;
    a.nresult = s->nresult;
    a.message = s->message;
    if (kind == shm::PROBA) a.proba.assign(s->data, s->data + s->nresult);
    shm::release(r, idx);
    return a;
}

double expected_value(const Model& m, const float* row) {
    auto v = m.predict(row);
    EXPECT_TRUE(v.has_value());
    return v ? *v : NAN;
}

uint64_t model_requests(shm::Region* r, uint32_t db, int64_t id) {
    for (uint32_t i = 0; i < r->max_models; ++i) {
        shm::ModelRow row;
        if (shm::read_model_stat(shm::model_stats(r)[i], row) && row.db == db && row.model_id == id)
            return row.requests;
    }
    return UINT64_MAX;
}

class PoolTest : public ::testing::Test {
protected:
    PoolTest() : region_(16, 4, 8), registry_(region_), reference_(load_tiny_model()) {
        const auto& bytes = tiny_model_bytes();
        auto ins = registry_.insert(ModelKey{kDb, kModel}, load_tiny_model(), bytes.size(), kLimit);
        EXPECT_TRUE(ins.has_value());
        shm::start_requests(region_);
    }

    // Runs `per_thread` requests from each of `threads` backends; f checks
    // each answer (b: backend, k: its request number, row: its features).
    template <typename Check>
    void from_backends(int threads, int per_thread, Check f) {
        std::vector<std::thread> ts;
        for (int b = 0; b < threads; ++b)
            ts.emplace_back([&, b] {
                for (int k = 0; k < per_thread; ++k) {
                    float row[kTinyFeatures];
                    tiny_row(static_cast<uint32_t>(b * 100000 + k), row);
                    f(b, k, row);
                }
            });
        for (auto& t : ts) t.join();
    }

    TestRegion region_;
    Registry registry_;
    Model reference_;
};

TEST_F(PoolTest, InjectedScoringFaultAnswersFailedThenRecovers) {
    Pool pool(region_, registry_);
    pool.fault = pool::fault_score;
    pool.start(2);

    std::atomic<int> failed{0}, other{0};
    from_backends(3, 100, [&](int, int, const float* row) {
        Answer a = ask(region_, kDb, kModel, row, kTinyFeatures);
        if (a.status == shm::FAILED && a.message.find("injected fault") != std::string::npos)
            failed.fetch_add(1);
        else
            other.fetch_add(1);
    });
    EXPECT_EQ(failed.load(), 300);
    EXPECT_EQ(other.load(), 0);
    EXPECT_GT(pool.failed_batches.load(), 0u);
    EXPECT_LE(pool.failed_batches.load(), 300u);
    // Nothing was left TAKEN: every slot came back.
    EXPECT_EQ(shm::depth(region_, region_->free_slots), region_->nslots);

    pool.fault = pool::no_fault;
    const uint64_t failed_batches = pool.failed_batches.load();
    std::atomic<int> ok{0};
    from_backends(3, 200, [&](int b, int k, const float* row) {
        Answer a = ask(region_, kDb, kModel, row, kTinyFeatures);
        ASSERT_EQ(a.status, shm::OK) << "backend " << b << " request " << k << ": " << a.message;
        EXPECT_EQ(a.nresult, 1u);
        EXPECT_NEAR(a.value, expected_value(reference_, row), 1e-5);
        ok.fetch_add(1);
    });
    EXPECT_EQ(ok.load(), 600);
    EXPECT_EQ(pool.failed_batches.load(), failed_batches);

    pool.stop();
    EXPECT_TRUE(all_slots_free(region_));
    EXPECT_EQ(region_->stats.requests.load(), 900u);
    EXPECT_EQ(region_->stats.batched_rows.load(), 600u) << "only batches that scored are recorded";
    EXPECT_GT(shm::latency_quantile(region_->stats, 0.5), 0u);
    EXPECT_EQ(model_requests(region_, kDb, kModel), 600u);
}

TEST_F(PoolTest, UnknownModelNeedsHandOverAndMixedBatchesAreSortedOut) {
    Pool pool(region_, registry_);
    pool.max_wait_us = 200;  // let batches fill, so they mix models
    pool.start(2);
    std::atomic<int> need{0}, ok{0}, proba{0};
    from_backends(4, 150, [&](int b, int k, const float* row) {
        switch ((b + k) % 4) {
            case 0: {  // a model the worker does not hold
                Answer a = ask(region_, kDb, 99, row, kTinyFeatures);
                EXPECT_EQ(a.status, shm::NEED_MODEL) << a.message;
                need.fetch_add(a.status == shm::NEED_MODEL);
                break;
            }
            case 1: {  // the same model id in another database
                Answer a = ask(region_, kDb + 1, kModel, row, kTinyFeatures);
                EXPECT_EQ(a.status, shm::NEED_MODEL) << a.message;
                need.fetch_add(a.status == shm::NEED_MODEL);
                break;
            }
            case 2: {  // the vector answer of a regression: its one value (predict_joint)
                Answer a = ask(region_, kDb, kModel, row, kTinyFeatures, shm::PROBA);
                EXPECT_EQ(a.status, shm::OK) << a.message;
                EXPECT_EQ(a.nresult, 1u);
                proba.fetch_add(a.status == shm::OK);
                break;
            }
            default: {
                Answer a = ask(region_, kDb, kModel, row, kTinyFeatures);
                EXPECT_EQ(a.status, shm::OK) << a.message;
                EXPECT_NEAR(a.value, expected_value(reference_, row), 1e-5);
                ok.fetch_add(a.status == shm::OK);
            }
        }
    });
    EXPECT_EQ(need.load(), 300);
    EXPECT_EQ(proba.load(), 150);
    EXPECT_EQ(ok.load(), 150);
    EXPECT_EQ(pool.failed_batches.load(), 0u);
    pool.stop();
    EXPECT_TRUE(all_slots_free(region_));
}

// Requests queued before the pool starts are taken as one batch: here one
// request for the model and one with a row of the wrong width.
void publish_row(shm::Region* r, uint32_t index, const float* row, uint32_t nfeatures) {
    shm::Slot* s = shm::slot(r, index);
    s->nfeatures = nfeatures;
    std::memcpy(s->data, row, sizeof(float) * nfeatures);
    shm::publish_request(r, index);
}

TEST_F(PoolTest, WrongWidthRowFailsAlone) {
    float row[kTinyFeatures];
    tiny_row(11, row);
    Queued bad{}, good{};
    ASSERT_TRUE(shm::acquire_slot(region_, bad.index));
    bad.gen = shm::stamp(region_, shm::slot(region_, bad.index), shm::PREDICT, kDb, kModel);
    publish_row(region_, bad.index, row, kTinyFeatures - 1);
    ASSERT_TRUE(shm::acquire_slot(region_, good.index));
    shm::Slot* gs = shm::slot(region_, good.index);
    good.gen = shm::stamp(region_, gs, shm::PREDICT, kDb, kModel);
    gs->value = -12345.0;  // what an earlier request left in the slot
    publish_row(region_, good.index, row, kTinyFeatures);

    Pool pool(region_, registry_);
    pool.spin_us = 0;
    pool.start(1);  // one thread: takes both at once
    shm::Slot* bs = shm::slot(region_, bad.index);
    EXPECT_EQ(wait_done(bs, 5000ms), shm::DONE);
    EXPECT_EQ(wait_done(gs, 5000ms), shm::DONE);
    EXPECT_EQ(region_->stats.batches.load(), 1u) << "not one batch: the test did not test";
    EXPECT_EQ(bs->status, shm::FAILED);
    EXPECT_NE(std::string(bs->message).find("wrong number of features"), std::string::npos);
    // One bad row once made its whole group skip scoring, and the other
    // requests kept the OK status stamp() gave them: answered OK with
    // whatever value their slot held before.
    EXPECT_EQ(gs->answered, good.gen);
    // Scored, or failed with a reason; never OK with a value nobody computed.
    if (gs->status == shm::OK) {
        EXPECT_NEAR(gs->value, expected_value(reference_, row), 1e-5)
            << "the good request was answered OK with its slot's stale value";
    } else {
        EXPECT_EQ(gs->status, shm::FAILED);
        EXPECT_NE(gs->message[0], '\0');
    }
    shm::release(region_, bad.index);
    shm::release(region_, good.index);
    pool.stop();
    EXPECT_TRUE(all_slots_free(region_));
}

TEST_F(PoolTest, BackendsAbandoningWhileThePoolWorks) {
    Pool pool(region_, registry_);
    pool.start(2);
    std::atomic<int> answered{0};
    std::vector<std::thread> ts;
    for (int b = 0; b < 3; ++b)
        ts.emplace_back([&, b] {
            std::mt19937 rng(b);
            for (int k = 0; k < 400; ++k) {
                float row[kTinyFeatures];
                tiny_row(k, row);
                uint32_t idx;
                if (rng() % 2 || !shm::acquire_slot(region_, idx)) {
                    Answer a = ask(region_, kDb, kModel, row, kTinyFeatures);
                    EXPECT_EQ(a.status, shm::OK);
                    answered.fetch_add(1);
                    continue;
                }
                // Gives up at once or soon after publishing (cancel, timeout).
                shm::Slot* s = shm::slot(region_, idx);
                shm::stamp(region_, s, shm::PREDICT, kDb, kModel);
                s->nfeatures = kTinyFeatures;
                std::memcpy(s->data, row, sizeof row);
                shm::publish_request(region_, idx);
                for (uint32_t p = rng() % 20000; p > 0; --p) __builtin_ia32_pause();
                shm::abandon(region_, idx);
            }
        });
    for (auto& t : ts) t.join();
    EXPECT_GT(answered.load(), 0);
    // Abandoned requests still queued are freed by the threads that take them.
    EXPECT_TRUE(wait_until([&] { return shm::depth(region_, region_->requests) == 0; }));
    pool.stop();
    EXPECT_TRUE(all_slots_free(region_));
}

TEST_F(PoolTest, StopLeavesQueuedRequestsForFailQueuedAndARestartServes) {
    {
        Pool pool(region_, registry_);
        pool.start(2);
        float row[kTinyFeatures];
        tiny_row(1, row);
        EXPECT_EQ(ask(region_, kDb, kModel, row, kTinyFeatures).status, shm::OK);
        pool.stop();
    }
    // Nobody serves now: requests stay queued until the worker answers them
    // WORKER_GONE on its way out.
    Queued q = queue_request(region_, shm::PREDICT, kDb, kModel);
    EXPECT_EQ(shm::wait_for_answer(shm::slot(region_, q.index), 0, 20), shm::QUEUED);
    shm::fail_queued(region_);
    EXPECT_EQ(shm::slot(region_, q.index)->state.load(), shm::DONE);
    EXPECT_EQ(shm::slot(region_, q.index)->status, shm::WORKER_GONE);
    shm::release(region_, q.index);

    // A new pool on the same region (as a restarted worker would make).
    EXPECT_EQ(shm::reclaim_orphans(region_), 0u);
    shm::start_requests(region_);
    Pool pool(region_, registry_);
    pool.start(2);
    std::atomic<int> ok{0};
    from_backends(2, 100, [&](int, int, const float* row) {
        Answer a = ask(region_, kDb, kModel, row, kTinyFeatures);
        ok.fetch_add(a.status == shm::OK && std::fabs(a.value - expected_value(reference_, row)) < 1e-5);
    });
    EXPECT_EQ(ok.load(), 200);
    pool.stop();
    EXPECT_TRUE(all_slots_free(region_));
}

TEST_F(PoolTest, EvictedModelIsAskedForAgain) {
    Pool pool(region_, registry_);
    pool.start(1);
    float row[kTinyFeatures];
    tiny_row(7, row);
    EXPECT_EQ(ask(region_, kDb, kModel, row, kTinyFeatures).status, shm::OK);
    registry_.retire(ModelKey{kDb, kModel});
    EXPECT_EQ(ask(region_, kDb, kModel, row, kTinyFeatures).status, shm::NEED_MODEL);
    const auto& bytes = tiny_model_bytes();
    ASSERT_TRUE(registry_.insert(ModelKey{kDb, kModel}, load_tiny_model(), bytes.size(), kLimit).has_value());
    Answer a = ask(region_, kDb, kModel, row, kTinyFeatures);
    EXPECT_EQ(a.status, shm::OK);
    EXPECT_NEAR(a.value, expected_value(reference_, row), 1e-5);
    pool.stop();
    EXPECT_TRUE(all_slots_free(region_));
}

TEST(PoolClassifier, ProbabilitiesAndTheClassLimit) {
    TinyClassifier three = train_tiny_classifier(3), five = train_tiny_classifier(5);
    ASSERT_EQ(three.classes.size(), 3u);
    ASSERT_EQ(five.classes.size(), 5u);
    TestRegion region(8, 4, 8);  // max_features 4: room for 3 probabilities, not 5
    Registry registry(region);
    auto m3 = Model::load(three.ubj.data(), three.ubj.size(), Task::classification, three.classes);
    auto m5 = Model::load(five.ubj.data(), five.ubj.size(), Task::classification, five.classes);
    auto ref = Model::load(three.ubj.data(), three.ubj.size(), Task::classification, three.classes);
    ASSERT_TRUE(m3 && m5 && ref);
    ASSERT_TRUE(registry.insert(ModelKey{1, 3}, std::move(*m3), three.ubj.size(), kLimit).has_value());
    ASSERT_TRUE(registry.insert(ModelKey{1, 5}, std::move(*m5), five.ubj.size(), kLimit).has_value());
    shm::start_requests(region);
    Pool pool(region, registry);
    pool.start(2);
    for (uint32_t i = 0; i < 50; ++i) {
        float row[kTinyFeatures];
        tiny_row(i, row);
        Answer p = ask(region, 1, 3, row, kTinyFeatures, shm::PROBA);
        ASSERT_EQ(p.status, shm::OK) << p.message;
        ASSERT_EQ(p.nresult, 3u);
        float want[3];
        ASSERT_TRUE(ref->predict_proba(row, want).has_value());
        float sum = 0;
        for (int c = 0; c < 3; ++c) {
            EXPECT_NEAR(p.proba[c], want[c], 1e-6);
            sum += p.proba[c];
        }
        EXPECT_NEAR(sum, 1.0f, 1e-5);
        Answer v = ask(region, 1, 3, row, kTinyFeatures, shm::PREDICT);
        ASSERT_EQ(v.status, shm::OK);
        EXPECT_EQ(v.value, *ref->predict(row));
        Answer too_many = ask(region, 1, 5, row, kTinyFeatures, shm::PROBA);
        EXPECT_EQ(too_many.status, shm::FAILED);
        EXPECT_NE(too_many.message.find("more classes"), std::string::npos) << too_many.message;
    }
    pool.stop();
    EXPECT_TRUE(all_slots_free(region));
}

}  // namespace
}  // namespace pgml::unit
