// Library entry: module magic, settings, per-process registrations.
// _PG_init may run in the postmaster (shared_preload_libraries): it must not
// call XGBoost there (DESIGN.md invariant 8), only register things.
#include "sqlapi/model_cache.hpp"
#include "sqlapi/settings.hpp"

extern "C" {
#include "utils/guc.h"

PG_MODULE_MAGIC;

void _PG_init(void);
}

namespace pgml::sqlapi {

int predict_path = static_cast<int>(PredictPath::backend);

namespace {

const struct config_enum_entry predict_path_options[] = {
    {"backend", static_cast<int>(PredictPath::backend), false},
    {nullptr, 0, false},
};

}  // namespace

}  // namespace pgml::sqlapi

void _PG_init(void) {
    using namespace pgml::sqlapi;
    DefineCustomEnumVariable(
        "pgml_worker.predict_path", "Where pgml.predict scores a row.",
        "backend: this connection loads the deployed booster and calls XGBoost itself.",
        &predict_path, static_cast<int>(PredictPath::backend), predict_path_options, PGC_USERSET, 0,
        nullptr, nullptr, nullptr);
    MarkGUCPrefixReserved("pgml_worker");
    register_cache_invalidation();
}
