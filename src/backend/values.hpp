// Values of a row as features, shared by training (relation_reader.cpp)
// and row predictions (predict_row.cpp), so that both read a column the
// same way. Plain C-style functions that may ereport.
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" {
#include "postgres.h"
}

namespace pgml::backend {

// A category's text, without copying when it can (text, varchar, name),
// char(n) without its padding, an enum's label.
const char* category_text(Datum d, Oid type, size_t* len);

// The elements of an array of numbers or booleans as floats (NULL
// elements NaN) into out, which has room for width; an array of another
// length is an ERROR naming the column and the row (counted from 1; 0 for
// a row to predict). width SIZE_MAX and out null only count the elements.
size_t array_to_floats(Datum d, Oid element, float* out, size_t width, const char* column, uint64_t row);

}  // namespace pgml::backend
