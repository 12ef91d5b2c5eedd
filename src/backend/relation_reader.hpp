// Reads a training relation into a Dataset. Backend only (uses SPI and the
// executor); Postgres-facing.
#pragma once

#include <string>
#include <vector>

#include "core/dataset.hpp"
#include "core/error.hpp"
#include "core/preprocess.hpp"

namespace pgml::backend {

struct Column {
    std::string name;
    std::string type;
};

// The most label columns a joint regression takes.
constexpr size_t kMaxLabels = 64;

// What resolving the user's relation and label names found.
struct RelationShape {
    std::string qualified_name;   // schema.relation, quoted as needed
    std::vector<Column> labels;   // one, or several for joint regression
    std::vector<Column> features; // every other column, in column order
    std::vector<unsigned int> feature_types;  // base type Oids (of the elements, for arrays)
    std::vector<unsigned int> label_types;  // base type Oids
    // Each feature column's kind (numeric, categorical: text, varchar,
    // char or an enum; array: of numbers or booleans) and width (an
    // array's elements, from its first non-NULL value; else 1), and the
    // categories read (preprocess.hpp).
    preprocess::Plan plan;
    // SELECT labels..., features... FROM relation, built from the names the
    // catalog resolved, each quoted: the user's string never reaches the
    // parser, and the lock taken when resolving keeps the names valid.
    std::string select_sql;
};

// Resolves relation_name as a (possibly schema-qualified) identifier, takes
// AccessShareLock, and checks that each label is numeric or boolean and every
// feature column numeric, boolean, categorical or an array of numbers or
// booleans.
Result<RelationShape> resolve_relation(const char* relation_name, const std::vector<std::string>& label_names);

// Streams every row into data (which must have shape.plan.raw_width()
// columns) through the executor as the calling role, so privileges,
// row-level security, views and partitions all behave as in a SELECT.
// Categorical values are numbered in shape.plan.dictionaries.
Result<void> read_relation(RelationShape& shape, Dataset& data);

}  // namespace pgml::backend
