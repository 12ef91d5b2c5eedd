// The in-backend path's models: each backend loads a deployed model once and
// keeps it while it is the deployed one. Backend only; Postgres-facing.
//
// Invalidation is transactional (DESIGN.md invariant 5): any change to
// pgml.deployments or pgml.models fires a statement trigger that queues a
// relcache invalidation of pgml.deployments. Postgres delivers it to every
// backend (and, through WAL replay, to hot standbys) only when the change
// commits, and drops it if the change rolls back. Our relcache callback just
// marks the cache stale; the next lookup empties it.
//
// A lookup that misses here asks the cluster-wide table of deployed models
// in shared memory (shmem/deployed.hpp) before it reads the catalog, so that
// of many connections only one pays for the catalog query and its caches;
// when many miss at once, one reads and the others wait (bounded) for its
// answer. That table is made stale after the changing transaction commits.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/error.hpp"
#include "core/model.hpp"
#include "core/preprocess.hpp"
#include "shmem/forests.hpp"

extern "C" {
#include "postgres.h"
#include "fmgr.h"
}

namespace pgml::backend {

// What a backend knows of a model: the catalog's facts, and on the backend
// path its own loaded booster. The worker path never loads one here.
struct CachedModel {
    int64_t model_id;
    Task task;
    uint32_t num_features;
    std::vector<double> classes;  // classification: label value of each class
    uint32_t targets;             // 1, or a joint regression's labels
    std::optional<Model> booster;
    shm::ForestRef forest;        // where its shared forest was last found
    // Row predictions: how a row's columns become its features, read from
    // the catalog on first use (row_encoder.hpp).
    std::optional<preprocess::RowEncoder> encoder;
    uint64_t encoder_serial = 0;  // unique per encoder made in this backend
};

// The deployed model of the project named by the text datum. The answer is
// remembered per call site (flinfo->fn_extra), so repeated calls in one
// statement cost a name comparison.
Result<CachedModel*> deployed_model(FunctionCallInfo fcinfo, text* project);
// The same, without remembering it at the call site: for set-returning
// functions, whose fn_extra belongs to the SRF machinery.
Result<CachedModel*> deployed_model(text* project);
Result<CachedModel*> model_by_id(int64_t model_id);

// The backend path's booster of a cached model, loaded on first use.
Result<const Model*> backend_booster(CachedModel& m);

// Called first by every predict function, before any C++ object exists
// (plain C: may ereport): makes sure deployments committed since the last
// statement are seen.
void begin_predict();

// Called by the catalog trigger (plain C: may ereport): when this
// transaction commits, entries of the shared deployed-model table go stale.
void catalog_changed();

}  // namespace pgml::backend
