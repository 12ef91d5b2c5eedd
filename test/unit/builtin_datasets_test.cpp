// The built-in data sets' definitions and the CSV reader of their files
// (src/core/builtin_datasets.hpp).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/builtin_datasets.hpp"

namespace pgml::builtin {
namespace {

std::vector<std::vector<std::string>> read_all(std::string_view text, std::vector<size_t>* lines = nullptr,
                                               std::vector<std::vector<bool>>* nulls = nullptr) {
    CsvReader r(text);
    std::vector<Field> fields;
    std::vector<std::vector<std::string>> out;
    for (;;) {
        auto more = r.next(fields);
        EXPECT_TRUE(more.has_value()) << (more ? "" : more.error().message);
        if (!more || !*more) break;
        std::vector<std::string> rec;
        std::vector<bool> n;
        for (const Field& f : fields) {
            rec.push_back(f.text);
            n.push_back(f.null);
        }
        out.push_back(rec);
        if (lines) lines->push_back(r.line());
        if (nulls) nulls->push_back(n);
    }
    return out;
}

std::string first_error(std::string_view text) {
    CsvReader r(text);
    std::vector<Field> fields;
    for (;;) {
        auto more = r.next(fields);
        if (!more) return more.error().message;
        if (!*more) return "";
    }
}

TEST(BuiltinDatasets, TheSixSetsInNameOrder) {
    std::vector<std::string> names;
    for (const DataSet& s : data_sets()) names.push_back(s.name);
    EXPECT_EQ(names, (std::vector<std::string>{"breast_cancer", "diabetes", "digits", "iris",
                                                "linnerud", "wine"}));
    EXPECT_EQ(builtin::names(), "breast_cancer, diabetes, digits, iris, linnerud and wine");
    EXPECT_EQ(find("iris")->columns.size(), 5u);
    EXPECT_EQ(find("breast_cancer")->columns.size(), 31u);
    EXPECT_STREQ(find("breast_cancer")->columns[30].name, "malignant");
    EXPECT_STREQ(find("breast_cancer")->columns[30].sql_type, "boolean");
    EXPECT_STREQ(find("digits")->columns[0].sql_type, "smallint[][]");
    EXPECT_EQ(find("digits")->rows, 1797);
    EXPECT_EQ(find("Iris"), nullptr);
    EXPECT_EQ(find("iris "), nullptr);
    EXPECT_EQ(find(""), nullptr);
    EXPECT_EQ(find("pgml.iris"), nullptr);
}

TEST(BuiltinDatasets, Sql) {
    EXPECT_EQ(quote_identifier("mean radius"), "\"mean radius\"");
    EXPECT_EQ(quote_identifier("a\"b"), "\"a\"\"b\"");
    EXPECT_EQ(create_table_sql(*find("iris")),
              "CREATE TABLE pgml.\"iris\" (\"sepal_length\" real, \"sepal_width\" real, "
              "\"petal_length\" real, \"petal_width\" real, \"target\" integer)");
    EXPECT_EQ(insert_sql(*find("digits")),
              "INSERT INTO pgml.\"digits\" VALUES ($1::smallint[][], $2::smallint)");
}

TEST(CsvReader, FieldsQuotesAndLineEnds) {
    EXPECT_EQ(read_all("a,b\n1,2\n"),
              (std::vector<std::vector<std::string>>{{"a", "b"}, {"1", "2"}}));
    // No line break after the last record; \r\n line ends.
    EXPECT_EQ(read_all("a,b\r\n1,2"),
              (std::vector<std::vector<std::string>>{{"a", "b"}, {"1", "2"}}));
    // Quoted commas, doubled quotes, a line break inside quotes.
    std::vector<size_t> lines;
    EXPECT_EQ(read_all("\"{{1,2},{3,4}}\",7\n\"say \"\"hi\"\"\",\"two\nlines\"\nx,y\n", &lines),
              (std::vector<std::vector<std::string>>{
                  {"{{1,2},{3,4}}", "7"}, {"say \"hi\"", "two\nlines"}, {"x", "y"}}));
    EXPECT_EQ(lines, (std::vector<size_t>{1, 2, 4}));
    EXPECT_TRUE(read_all("").empty());
}

TEST(CsvReader, EmptyUnquotedFieldIsNull) {
    std::vector<std::vector<bool>> nulls;
    auto recs = read_all("1,,\"\",\n", nullptr, &nulls);
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0], (std::vector<std::string>{"1", "", "", ""}));
    EXPECT_EQ(nulls[0], (std::vector<bool>{false, true, false, true}));
}

TEST(CsvReader, MalformedQuotingIsAnErrorNamingTheLine) {
    EXPECT_EQ(first_error("a,b\n\"open,2\n"), "malformed CSV on line 2: a quoted field is not closed");
    EXPECT_EQ(first_error("a,b\n1,x\"y\n"), "malformed CSV on line 2: a quote inside an unquoted field");
    EXPECT_EQ(first_error("\"a\"b,c\n"), "malformed CSV on line 1: text after a closing quote");
    EXPECT_EQ(first_error("a,b\n1,2\n"), "");
}

TEST(CsvReader, HeaderMustNameTheSetsColumnsInOrder) {
    const DataSet& iris = *find("iris");
    std::vector<Field> header;
    CsvReader ok("sepal_length,sepal_width,petal_length,petal_width,target\n");
    ASSERT_TRUE(*ok.next(header));
    EXPECT_TRUE(check_header(iris, header, "iris.csv").has_value());

    CsvReader swapped("sepal_length,sepal_width,petal_width,petal_length,target\n");
    ASSERT_TRUE(*swapped.next(header));
    auto bad = check_header(iris, header, "iris.csv");
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().sqlstate, "22000");
    EXPECT_EQ(bad.error().message,
              "the data file \"iris.csv\" does not have the columns of \"iris\" this pgml_worker expects");
    EXPECT_NE(bad.error().detail.find("expected: sepal_length,sepal_width,petal_length,petal_width,target"),
              std::string::npos);

    CsvReader short_header("sepal_length,sepal_width,petal_length,petal_width\n");
    ASSERT_TRUE(*short_header.next(header));
    EXPECT_FALSE(check_header(iris, header, "iris.csv").has_value());
}

}  // namespace
}  // namespace pgml::builtin
