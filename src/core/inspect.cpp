#include "core/inspect.hpp"

#include "core/train.hpp"
#include "core/xgb.hpp"

namespace pgml {

Result<ModelShape> inspect_model(const void* bytes, size_t len, bool classification) {
    auto booster = xgb::Booster::load(bytes, len);
    if (!booster) return tl::unexpected(booster.error());
    auto nf = booster->num_features();
    if (!nf) return tl::unexpected(nf.error());
    auto rounds = booster->boosted_rounds();
    if (!rounds) return tl::unexpected(rounds.error());
    if (*nf == 0 || *rounds == 0)
        return fail(sqlstate::invalid_binary, "the model has no features or no trees",
                    "Export a trained booster with save_model() or save_raw('ubj').");
    auto config = booster->json_config();
    if (!config) return tl::unexpected(config.error());
    if (model_targets(*config) > 1)
        return fail(sqlstate::feature_not_supported, "the model predicts several targets",
                    "Multi-output regressions are trained here with pgml.train_joint; importing them is not supported.");
    auto classes = classifier_classes(*config);
    if (classification && !classes) return tl::unexpected(classes.error());
    if (!classification && classes)
        return fail(sqlstate::invalid_parameter, "the model is a classifier, not a regression",
                    "Import it with task => 'classification'.");
    return ModelShape{static_cast<int>(*nf), classification ? static_cast<int>(*classes) : 0};
}

}  // namespace pgml
