// Row predictions (pgml.predict(project, row)): how a model turns the
// columns of a row into its features, and which column of a given row
// type is which. Backend only; Postgres-facing.
#pragma once

#include <vector>

#include "backend/model_cache.hpp"
#include "core/error.hpp"

namespace pgml::backend {

// The model's encoder, read from pgml.models on first use: the fitted
// preprocessing of a model trained since 0.5; for one trained before, its
// feature columns as plain numbers; an imported model has none (an Error
// saying to pass an array).
Result<const preprocess::RowEncoder*> row_encoder(CachedModel& m);

// For each of the encoder's columns, the attribute number (from 0) of the
// row type (type, typmod) that holds it: by name when the row has every
// column's name (a table row, the label and other columns among them), else
// by position when it has exactly as many fields (a row constructor). An
// Error says what the model expects otherwise.
// m's encoder must have been made (row_encoder).
Result<const std::vector<int>*> row_mapping(const CachedModel& m, unsigned int type, int typmod);

}  // namespace pgml::backend
