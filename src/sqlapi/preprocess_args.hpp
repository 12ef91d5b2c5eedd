// Decoding pgml.train's preprocess jsonb: {"column": {"encode": ...,
// "impute": ..., "scale": ...}}, PostgresML's shape. Plain C (may
// ereport): call it before entering C++. The option values are checked
// (and explained) on the C++ side, by core/preprocess.
#pragma once

extern "C" {
#include "postgres.h"
#include "utils/jsonb.h"
}

namespace pgml::sqlapi {

struct PreprocessArg {
    char* column;
    char* encode;    // null when not given; "ordinal" for {"ordinal": [...]}
    char** ordinal;  // the categories of {"ordinal": [...]}
    int num_ordinal;
    char* impute;    // null when not given
    char* scale;     // null when not given
};

struct PreprocessList {
    int count;
    PreprocessArg* columns;
};

PreprocessList decode_preprocess(Jsonb* preprocess);

}  // namespace pgml::sqlapi
