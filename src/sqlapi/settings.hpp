// The extension's settings (GUCs, prefix pgml_worker.), defined in module.cpp
// and documented in the README.
#pragma once

namespace pgml::sqlapi {

enum class PredictPath { backend };

extern int predict_path;  // a PredictPath

}  // namespace pgml::sqlapi
