// A feature row as the SQL array holds it: float4, float8, int2, int4,
// int8 or bool elements (numeric arrays are converted to float8 first). It is converted to float32 where it lands, so on the worker
// path the row is copied once, straight into its shared-memory slot
// (DESIGN.md invariant 3). Pure C++.
#pragma once

#include <cstdint>
#include <cstring>

namespace pgml {

enum class ElemType : uint8_t { f4, f8, i2, i4, i8, b1 };

struct FeatureRow {
    const void* data;
    uint32_t count;
    ElemType type;

    // Writes count float32 values to dst.
    void to_float(float* dst) const {
        switch (type) {
            case ElemType::f4: std::memcpy(dst, data, sizeof(float) * count); return;
            case ElemType::f8: convert(static_cast<const double*>(data), dst); return;
            case ElemType::i2: convert(static_cast<const int16_t*>(data), dst); return;
            case ElemType::i4: convert(static_cast<const int32_t*>(data), dst); return;
            case ElemType::i8: convert(static_cast<const int64_t*>(data), dst); return;
            // As bytes, any non-zero one true: Postgres stores 0 or 1, but
            // loading another byte through a bool is undefined behaviour
            // (UBSan, fuzz/feature_row), so the row's bytes are not trusted.
            case ElemType::b1: convert_bytes(static_cast<const uint8_t*>(data), dst); return;
        }
    }

private:
    void convert_bytes(const uint8_t* src, float* dst) const {
        for (uint32_t i = 0; i < count; ++i) dst[i] = src[i] != 0 ? 1.0f : 0.0f;
    }
    template <typename T>
    void convert(const T* src, float* dst) const {
        for (uint32_t i = 0; i < count; ++i) dst[i] = static_cast<float>(src[i]);
    }
};

}  // namespace pgml
