#include "backend/model_ref.hpp"

#include <string>

namespace pgml::backend {

Result<CachedModel*> lookup(FunctionCallInfo fcinfo, const ModelRef& ref) {
    if (ref.by == By::model_id) return model_by_id(ref.id);
    return deployed_model(fcinfo, ref.project);
}

Result<CachedModel*> lookup(const ModelRef& ref) {
    if (ref.by == By::model_id) return model_by_id(ref.id);
    return deployed_model(ref.project);
}

Result<void> check_width(const CachedModel& m, int64_t count) {
    if (count == static_cast<int64_t>(m.num_features)) return {};
    return fail(sqlstate::invalid_parameter,
                "wrong number of features: model " + std::to_string(m.model_id) + " expects " +
                    std::to_string(m.num_features) + ", got " + std::to_string(count),
                "Pass the features in the order of the training relation's columns, label left out.");
}

}  // namespace pgml::backend
