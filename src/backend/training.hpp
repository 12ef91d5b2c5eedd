// pgml.train's C++ part, in the backend that calls it: resolve the
// relation, read it through the executor, train with progress and cancel
// checks. The catalog bookkeeping around it is PL/pgSQL in the extension
// script. Backend only; Postgres-facing.
#pragma once

#include <string>
#include <vector>

#include "backend/relation_reader.hpp"
#include "core/error.hpp"
#include "core/train.hpp"

namespace pgml::backend {

struct Trained {
    RelationShape shape;
    TrainedModel model;
    size_t rows;  // read from the relation
};

// labels: one label column, or several (joint regression).
Result<Trained> train_on_relation(const char* relation, const std::vector<std::string>& labels,
                                  const TrainSpec& spec);

}  // namespace pgml::backend
