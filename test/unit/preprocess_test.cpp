// Preprocessing (src/core/preprocess.hpp) and the JSON reader it stores
// its fitted columns with (src/core/json.hpp): fitted on the training rows
// only, stored and read back, a row encoded as the training rows were;
// malformed JSON refused, never a crash.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/preprocess.hpp"

namespace pgml::preprocess {
namespace {

TEST(Json, ParsesWhatJsonbPrints) {
    auto v = json::parse(R"( [{"a": 1.5e2, "b": [true, false, null], "c": "x\"\\\n\u00e9\ud83d\ude00"}] )");
    ASSERT_TRUE(v.has_value()) << v.error().message;
    ASSERT_EQ(v->array.size(), 1u);
    const json::Value& o = v->array[0];
    EXPECT_EQ(o.get("a")->number, 150);
    EXPECT_TRUE(o.get("b")->array[0].boolean);
    EXPECT_FALSE(o.get("b")->array[1].boolean);
    EXPECT_EQ(o.get("b")->array[2].type, json::Value::Type::null);
    EXPECT_EQ(o.get("c")->string, "x\"\\\n\xc3\xa9\xf0\x9f\x98\x80");
    EXPECT_EQ(o.get("missing"), nullptr);
}

TEST(Json, RefusesMalformedInputWithoutCrashing) {
    const char* bad[] = {"", "[", "{", "{\"a\"}", "{\"a\":}", "[1,]", "[1 2]", "\"abc", "\"\\u12\"", "tru",
                         "-", "1e", "[1]x", "{\"a\":1,}", "nul",
                         // \u: four hex digits, surrogates only in pairs
                         "\"\\u-001\"", "\"\\u 12a\"", "\"\\u0x1f\"", "\"\\ud800\"", "\"\\udc00x\"",
                         "\"\\ud83d\\u0041\""};
    for (const char* s : bad) EXPECT_FALSE(json::parse(s).has_value()) << s;
    // Deep nesting stops at a bound instead of exhausting the stack.
    std::string deep(100000, '[');
    EXPECT_FALSE(json::parse(deep).has_value());
    // Every prefix of a valid document is either refused or parsed.
    const std::string doc = R"({"name": "cut", "values": [1, 2.5, -3e-2], "ok": true})";
    for (size_t n = 0; n < doc.size(); ++n) (void)json::parse(doc.substr(0, n));
}

// Rows: x (numeric, with NULLs), cut (categorical); label y = row index.
struct Fixture {
    Plan plan;
    Dataset raw{2};
    Fixture() {
        plan.columns.resize(2);
        plan.columns[0].name = "x";
        plan.columns[0].type = "real";
        plan.columns[1].name = "cut";
        plan.columns[1].type = "text";
        plan.columns[1].kind = Kind::categorical;
        plan.dictionaries.resize(2);
        const char* cuts[] = {"b", "a", "b", "c", "a", "b", "z", "z"};
        const float xs[] = {1, 2, NAN, 4, 5, 6, 100, 200};
        for (int r = 0; r < 8; ++r) {
            float* row = raw.append_row(static_cast<float>(r));
            row[0] = xs[r];
            row[1] = static_cast<float>(plan.dictionaries[1].intern(cuts[r]));
        }
    }
};

TEST(Preprocess, FitsOnTrainingRowsOnlyAndRoundTripsThroughJson) {
    Fixture f;
    f.plan.columns[0].options.impute = Impute::mean;
    f.plan.columns[0].options.scale = Scale::standard;
    f.plan.columns[1].options.encode = Encode::one_hot;
    ASSERT_TRUE(f.plan.set_options({}, "y").has_value());
    Split split(8, 2, Sampling::last, 0);  // training rows 0-5; "z" only in the test rows
    auto enc = fit_transform(f.plan, f.raw, split);
    ASSERT_TRUE(enc.has_value()) << enc.error().message;
    const Column& x = f.plan.columns[0];
    EXPECT_DOUBLE_EQ(x.stats.mean, (1 + 2 + 4 + 5 + 6) / 5.0);
    EXPECT_EQ(x.stats.missing, 1u);
    EXPECT_DOUBLE_EQ(x.fill, 3.6);
    // The scaling of the imputed values: 1 2 3.6 4 5 6.
    const double m = (1 + 2 + 3.6 + 4 + 5 + 6) / 6.0;
    double var = 0;
    for (double v : {1.0, 2.0, 3.6, 4.0, 5.0, 6.0}) var += (v - m) * (v - m);
    EXPECT_NEAR(x.shift, m, 1e-12);
    EXPECT_NEAR(x.scale, std::sqrt(var / 6), 1e-12);
    const Column& cut = f.plan.columns[1];
    EXPECT_EQ(cut.categories, (std::vector<std::string>{"b", "a", "c"}));
    ASSERT_EQ(enc->cols(), 4u);
    // Row 6: x 100 scaled, "z" unseen: all one_hot columns 0.
    EXPECT_FLOAT_EQ(enc->row(6)[0], static_cast<float>((100 - m) / x.scale));
    EXPECT_EQ(enc->row(6)[1] + enc->row(6)[2] + enc->row(6)[3], 0.0f);
    EXPECT_EQ(enc->row(1)[2], 1.0f);  // "a"

    // Stored and read back, a row encodes as the training rows were.
    auto back = from_json(to_json(f.plan.columns));
    ASSERT_TRUE(back.has_value()) << back.error().message;
    auto encoder = RowEncoder::make(std::move(*back));
    ASSERT_TRUE(encoder.has_value());
    ASSERT_EQ(encoder->width(), 4u);
    const char* cuts[] = {"b", "a", "b", "c", "a", "b", "z", "z"};
    for (size_t r = 0; r < 8; ++r) {
        Cell cells[2];
        cells[0].number = f.raw.row(r)[0];
        cells[1].text = cuts[r];
        cells[1].text_len = 1;
        float out[4];
        ASSERT_TRUE(encoder->encode(cells, out).has_value());
        for (int k = 0; k < 4; ++k) EXPECT_EQ(out[k], enc->row(r)[k]) << "row " << r << " feature " << k;
    }
}

TEST(Preprocess, ImputeErrorAndOrdinal) {
    Fixture f;
    f.plan.columns[0].options.impute = Impute::error;
    Split split(8, 2, Sampling::last, 0);
    auto enc = fit_transform(f.plan, f.raw, split);
    ASSERT_FALSE(enc.has_value());
    EXPECT_NE(enc.error().message.find("column \"x\""), std::string::npos);

    Fixture g;
    g.plan.columns[1].options.encode = Encode::ordinal;
    g.plan.columns[1].options.ordinal = {"c", "b", "a"};
    auto e2 = fit_transform(g.plan, g.raw, split);
    ASSERT_TRUE(e2.has_value()) << e2.error().message;
    EXPECT_EQ(e2->row(0)[1], 2.0f);  // "b"
    EXPECT_EQ(e2->row(3)[1], 1.0f);  // "c"
    EXPECT_TRUE(std::isnan(e2->row(6)[1]));  // "z": not in the list, a test row

    Fixture h;
    h.plan.columns[1].options.encode = Encode::ordinal;
    h.plan.columns[1].options.ordinal = {"a", "b"};  // "c" is a training value
    EXPECT_FALSE(fit_transform(h.plan, h.raw, split).has_value());
}

TEST(Preprocess, DamagedStoredColumnsAreRefused) {
    const char* bad[] = {"{}", "[1]", R"([{"name": "x"}])", R"([{"name": "x", "kind": "weird"}])",
                         R"([{"name": "x", "kind": "numeric", "width": -1}])",
                         R"([{"name": "c", "kind": "categorical", "categories": ["a"], "values": []}])",
                         R"([{"name": "c", "kind": "categorical", "categories": ["a"], "values": [1], "fill_category": 5}])",
                         R"([{"name": "x", "kind": "numeric", "encode": "nonsense"}])"};
    for (const char* s : bad) EXPECT_FALSE(from_json(s).has_value()) << s;
}

// The encoder's width is summed in 64 bits and bounded by a model's
// feature limit: 4295 columns of width 1e6 once wrapped a uint32 to 32704
// (fuzz/regressions/preprocess_json/width-sum-wraps-uint32.json).
TEST(RowEncoder, RefusesColumnsWiderThanAModel) {
    std::vector<Column> cols(17);
    for (Column& c : cols) {
        c.kind = Kind::array;
        c.width = 1000000;
    }
    EXPECT_FALSE(RowEncoder::make(cols).has_value());
    cols.resize(16);
    auto e = RowEncoder::make(cols);
    ASSERT_TRUE(e.has_value()) << e.error().message;
    EXPECT_EQ(e->width(), 16000000u);
}

}  // namespace
}  // namespace pgml::preprocess
