// pgml._catalog_changed: the statement trigger on pgml.deployments and
// pgml.models. Queues an invalidation that Postgres sends to every backend
// when this transaction commits, and has the shared deployed-model table
// made stale then (backend/model_cache.hpp). Plain C-style code.
#include "backend/model_cache.hpp"

extern "C" {
#include "commands/trigger.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(pgml_catalog_changed);
}

extern "C" Datum pgml_catalog_changed(PG_FUNCTION_ARGS) {
    if (!CALLED_AS_TRIGGER(fcinfo)) elog(ERROR, "pgml._catalog_changed must be called as a trigger");
    auto* trig = reinterpret_cast<TriggerData*>(fcinfo->context);
    Oid deployments = get_relname_relid("deployments", RelationGetNamespace(trig->tg_relation));
    if (OidIsValid(deployments)) CacheInvalidateRelcacheByRelid(deployments);
    pgml::backend::catalog_changed();
    return PointerGetDatum(nullptr);
}
