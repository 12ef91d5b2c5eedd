// Fuzz target: feature arrays as predict receives them. sqlapi/args.cpp
// (feature_row) reads the SQL array with Postgres' array functions and
// cannot be linked here; what it builds is a FeatureRow over the array's
// element bytes, which this target decodes from the fuzz bytes (element
// type, then the elements as stored), converts as every predict path does
// (FeatureRow::to_float), and compares with a plain conversion of its
// own. The floats then go through answer:: (value, vector) as a model of
// a chosen shape would read them.
#include <algorithm>
#include <cstring>
#include <vector>

#include "common.hpp"
#include "core/answer.hpp"
#include "core/feature_row.hpp"

using namespace pgml;

namespace {

size_t elem_size(ElemType t) {
    switch (t) {
        case ElemType::f4: return 4;
        case ElemType::f8: return 8;
        case ElemType::i2: return 2;
        case ElemType::i4: return 4;
        case ElemType::i8: return 8;
        case ElemType::b1: return 1;
    }
    return 1;
}

template <typename T>
float load(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return static_cast<float>(v);
}

// The conversion written out plainly: what each element must become.
float expected(ElemType t, const uint8_t* p) {
    switch (t) {
        case ElemType::f4: return load<float>(p);
        case ElemType::f8: return load<double>(p);
        case ElemType::i2: return load<int16_t>(p);
        case ElemType::i4: return load<int32_t>(p);
        case ElemType::i8: return load<int64_t>(p);
        case ElemType::b1: return *p != 0 ? 1.0f : 0.0f;  // Postgres stores 0 or 1; any other byte is true
    }
    return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 3) return 0;
    const ElemType type = static_cast<ElemType>(data[0] % 6);
    const uint8_t shape = data[1];
    data += 2;
    size -= 2;
    const size_t es = elem_size(type);
    const uint32_t count = static_cast<uint32_t>(size / es);
    // The elements in an aligned copy, as a detoasted array's data is.
    std::vector<uint64_t> elems((size + 7) / 8);
    std::memcpy(elems.data(), data, size);
    FeatureRow row{elems.data(), count, type};
    std::vector<float> out(count + 1, -7.0f);
    row.to_float(out.data());
    FUZZ_CHECK(out[count] == -7.0f, "to_float wrote past count");
    for (uint32_t i = 0; i < count; ++i) {
        const float want = expected(type, data + i * es);
        FUZZ_CHECK(std::memcmp(&out[i], &want, 4) == 0 || (std::isnan(out[i]) && std::isnan(want)),
                   "element %u converted to %.9g, not %.9g", i, static_cast<double>(out[i]), static_cast<double>(want));
    }
    // As the answer of a model with this shape: regression, binary, or
    // k classes (k <= count), or a joint regression of count targets.
    if (count == 0) return 0;
    const size_t classes = shape % 4 == 0 ? 0 : shape % 4 == 1 ? 2 : std::min<size_t>(3 + shape / 4 % 8, count);
    if (classes > count) return 0;
    const size_t targets = classes ? 1 : 1 + shape / 4 % count;
    const size_t k = answer::outputs_per_row(classes, targets);
    FUZZ_CHECK(k <= count, "outputs_per_row %zu beyond the row", k);
    std::vector<double> labels(classes);
    for (size_t i = 0; i < classes; ++i) labels[i] = static_cast<double>(i) * 10;
    (void)answer::value(classes ? Task::classification : Task::regression, labels.data(), classes, out.data());
    std::vector<float> vec(answer::vector_size(classes, targets));
    answer::vector(classes, targets, out.data(), vec.data());
    return 0;
}
