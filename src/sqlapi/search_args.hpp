// Decoding pgml.train's search, search_params and search_args (PostgresML's
// hyperparameter search arguments) into plain C lists.
#pragma once

extern "C" {
#include "postgres.h"
#include "utils/jsonb.h"
}

namespace pgml::sqlapi {

// One searched hyperparameter: its values as XGBoost reads them, and as
// JSON text for the search report. palloc'd.
struct SearchAxis {
    char* name;
    int count;
    char** values;
    char** json;
};

struct SearchArgs {
    enum Kind { none, grid, random } kind;
    int num_axes;
    SearchAxis* axes;
    int64 n_iter;  // 10 unless given
    int64 cv;      // 5 unless given
};

// search is NULL or 'grid' / 'random'; search_params an object of arrays of
// scalars; search_args an object with n_iter and cv, integers. Anything
// else is an ERROR naming what is wrong (the ranges are the core's to
// check). Plain C: call it before entering C++.
SearchArgs decode_search(const char* search, Jsonb* search_params, Jsonb* search_args);

}  // namespace pgml::sqlapi
