// pgml.load_dataset's work in the calling backend: (re)creates
// pgml.<set> and fills it from the set's data file in the extension's share
// directory, in the caller's transaction and as the caller. Postgres-facing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/builtin_datasets.hpp"
#include "core/error.hpp"

namespace pgml::backend {

struct LoadedSet {
    std::string table;  // "pgml.iris"
    int64_t rows;       // inserted
};

// Replaces pgml.<set.name> by a new table holding the set's first `limit`
// rows (every row when limit is empty). The caller needs CREATE on schema
// pgml, and must own an existing pgml.<set.name>; other objects that depend
// on it (views, say) make it an error, as DROP TABLE without CASCADE.
// Concurrent loads of one set take turns; the last to commit wins.
Result<LoadedSet> load_builtin(const builtin::DataSet& set, std::optional<int64_t> limit);

// $(sharedir)/extension/pgml_worker/datasets/<set>.csv
std::string data_file_path(const builtin::DataSet& set);

}  // namespace pgml::backend
