#include "sqlapi/predict_args.hpp"

#include <string>

namespace pgml::sqlapi {

ModelRef model_ref(FunctionCallInfo fcinfo, By by) {
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("the project name or model id must not be NULL")));
    if (by == By::model_id) return ModelRef{by, PG_GETARG_INT64(0), nullptr};
    return ModelRef{by, 0, PG_GETARG_TEXT_PP(0)};
}

Result<CachedModel*> lookup(FunctionCallInfo fcinfo, const ModelRef& ref) {
    if (ref.by == By::model_id) return model_by_id(ref.id);
    return deployed_model(fcinfo, ref.project);
}

Result<void> check_width(const CachedModel& m, int64_t count) {
    if (count == static_cast<int64_t>(m.num_features)) return {};
    return fail(sqlstate::invalid_parameter,
                "wrong number of features: model " + std::to_string(m.model_id) + " expects " +
                    std::to_string(m.num_features) + ", got " + std::to_string(count),
                "Pass the features in the order of the training relation's columns, label left out.");
}

}  // namespace pgml::sqlapi
