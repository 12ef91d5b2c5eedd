// Fuzz target: the JSON the extension reads back from a jsonb column a
// user with the rights may have edited (pgml.models.preprocessing):
// json::parse (UTF-8 in, UTF-8 strings out), preprocess::from_json, the RowEncoder built from its
// columns (pgml.predict(project, row) and encode_row), one row encoded
// through it, and the to_json / from_json round trip.
#include <string>
#include <vector>

#include "common.hpp"
#include "core/json.hpp"
#include "core/preprocess.hpp"

using namespace pgml;

namespace {

// The widest row encoded here: the encoder's width is the model's feature
// count (the backend refuses any other), which check_model bounds by 2^24.
constexpr uint32_t kMaxEncodeWidth = 1u << 20;

uint64_t mix(uint64_t& s) {
    s += 0x9e3779b97f4a7c15ull;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    // Text that is UTF-8 (as jsonb's always is) parses to UTF-8 strings:
    // they become column names and categories, and reach messages.
    if (auto v = json::parse(text); v && fuzz::valid_utf8(text)) {
        std::vector<const json::Value*> todo{&*v};
        while (!todo.empty()) {
            const json::Value* x = todo.back();
            todo.pop_back();
            FUZZ_CHECK(fuzz::valid_utf8(x->string), "json::parse made a string that is not UTF-8");
            for (const auto& e : x->array) todo.push_back(&e);
            for (const auto& [k, e] : x->object) {
                FUZZ_CHECK(fuzz::valid_utf8(k), "json::parse made a key that is not UTF-8");
                todo.push_back(&e);
            }
        }
    }
    auto columns = preprocess::from_json(text);
    if (!columns) {
        FUZZ_CHECK(!columns.error().message.empty(), "an error without a message");
        return 0;
    }
    const std::string j1 = preprocess::to_json(*columns);
    auto encoder = preprocess::RowEncoder::make(*columns);
    if (encoder && encoder->width() <= kMaxEncodeWidth) {
        // One row: cells chosen from the input's hash; the buffer exactly
        // width() floats, as predict_row allocates it.
        uint64_t seed = size;
        for (size_t i = 0; i < size; ++i) seed = seed * 131 + data[i];
        const auto& cols = encoder->columns();
        std::vector<preprocess::Cell> cells(cols.size());
        std::vector<std::vector<float>> arrays(cols.size());
        uint64_t elements = 0;
        for (size_t i = 0; i < cols.size(); ++i) {
            const preprocess::Column& c = cols[i];
            preprocess::Cell& cell = cells[i];
            const uint64_t r = mix(seed);
            switch (c.kind) {
                case preprocess::Kind::numeric:
                    cell.number = r % 4 == 0 ? NAN : static_cast<double>(static_cast<int64_t>(r >> 40)) / 7;
                    break;
                case preprocess::Kind::categorical:
                    if (r % 4 == 0) break;  // NULL
                    if (r % 4 == 1 || c.categories.empty()) {
                        cell.text = "never seen";
                        cell.text_len = 10;
                    } else {
                        const std::string& s = c.categories[(r >> 8) % c.categories.size()];
                        cell.text = s.data();
                        cell.text_len = s.size();
                    }
                    break;
                case preprocess::Kind::array: {
                    // As many elements as the column says, or (not the
                    // first column) one more or less now and then: refused.
                    uint64_t n = c.width;
                    if (i > 0 && r % 16 == 0) n += 1;
                    if (i > 0 && r % 16 == 1) n -= 1;
                    elements += n;
                    if (elements > kMaxEncodeWidth) n = 0;
                    arrays[i].assign(n, static_cast<float>(r % 5));
                    cell.elements = arrays[i].data();
                    cell.count = arrays[i].size();
                }
            }
        }
        std::vector<float> out(encoder->width());
        (void)encoder->encode(cells.data(), out.data());
    }
    // What to_json wrote reads back, and writing that again is stable
    // (non-finite numbers become null once, then defaults).
    auto again = preprocess::from_json(j1);
    FUZZ_CHECK(again.has_value(), "from_json refused to_json's own output: %s\n%s",
               again.error().message.c_str(), j1.c_str());
    const std::string j2 = preprocess::to_json(*again);
    auto third = preprocess::from_json(j2);
    FUZZ_CHECK(third.has_value(), "from_json refused to_json's own output: %s", third.error().message.c_str());
    FUZZ_CHECK(preprocess::to_json(*third) == j2, "to_json/from_json is not stable:\n%s", j2.c_str());
    return 0;
}
