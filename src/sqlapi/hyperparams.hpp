// Decoding pgml.train's hyperparams jsonb into XGBoost's key/value strings.
#pragma once

extern "C" {
#include "postgres.h"
#include "utils/jsonb.h"
}

namespace pgml::sqlapi {

// A flat list of palloc'd key/value strings, in the object's order.
struct HyperparamList {
    int count;
    char** keys;
    char** values;
};

// One scalar hyperparameter value as XGBoost reads it (numbers through
// double precision); anything but a string, number or boolean is an ERROR
// naming the key. Plain C.
char* hyperparam_text(const char* key, const JsonbValue& v);

// Accepts a JSON object of scalars (strings, numbers, booleans); anything
// else is an ERROR naming the key. Plain C: call it before entering C++.
HyperparamList decode_hyperparams(Jsonb* hyperparams);

}  // namespace pgml::sqlapi
