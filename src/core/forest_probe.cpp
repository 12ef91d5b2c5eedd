#include "core/forest_probe.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <random>

namespace pgml::forest {

std::vector<float> probe_rows(const Forest& f, size_t n, uint64_t seed) {
    const size_t width = f.num_feature;
    // Per feature, the thresholds the trees split it at.
    std::vector<std::vector<float>> cuts(width);
    for_each_split(f, [&](uint32_t, uint32_t feature, float threshold) {
        if (feature < width) cuts[feature].push_back(threshold);
    });
    static const float specials[] = {
        std::numeric_limits<float>::quiet_NaN(), INFINITY, -INFINITY, FLT_MAX, -FLT_MAX,
        0.0f, -0.0f, std::numeric_limits<float>::denorm_min(), -FLT_MIN};
    std::mt19937_64 rng(seed);
    std::vector<float> rows(n * width);
    // First, rows of one special value throughout: all NaN walks every
    // tree's default directions from root to leaf, the others the extremes.
    const size_t fixed = std::min(n, sizeof specials / sizeof specials[0]);
    for (size_t r = 0; r < fixed; ++r) std::fill(&rows[r * width], &rows[r * width] + width, specials[r]);
    for (size_t r = fixed; r < n; ++r)
        for (size_t j = 0; j < width; ++j) {
            float& v = rows[r * width + j];
            const auto& c = cuts[j];
            const unsigned pick = static_cast<unsigned>(rng() % 10);
            if (c.empty() || pick == 0) {
                v = specials[rng() % (sizeof specials / sizeof specials[0])];
                continue;
            }
            const float t = c[rng() % c.size()];
            switch (pick) {
                case 1: case 2: case 3: v = t; break;                          // ties go right
                case 4: case 5: v = std::nextafterf(t, -INFINITY); break;      // just left
                case 6: v = std::nextafterf(t, INFINITY); break;               // just right
                default: {  // between two thresholds of the feature
                    const float u = c[rng() % c.size()];
                    v = t + (u - t) * static_cast<float>(rng() % 1000) / 1000.0f;
                }
            }
        }
    return rows;
}

}  // namespace pgml::forest
