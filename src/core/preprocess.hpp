// Preprocessing of the training relation's columns, PostgresML's
// `preprocess => '{"column": {"encode": ..., "impute": ..., "scale": ...}}'`:
// text columns encoded as numbers, missing values imputed, numbers scaled.
// Everything is fitted on the training split only and kept with the model
// (as JSON, to_json), so that a row predicted later (pgml.predict(project,
// row)) is transformed exactly as the training rows were. Pure C++.
//
// The definitions follow scikit-learn's, so that the matrix XGBoost is
// trained on can be checked against sklearn on the same rows
// (test/python): statistics in double over the training rows that are not
// missing; median and quartiles interpolated linearly (numpy); the
// population standard deviation; a scale of 0 taken as 1; imputation
// before scaling, and the scaling statistics of the imputed values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/dataset.hpp"
#include "core/error.hpp"

namespace pgml::preprocess {

enum class Kind : uint8_t {
    numeric,      // smallint ... numeric, boolean: one feature
    categorical,  // text, varchar, char, enum: one feature, or one per category (one_hot)
    array,        // an array of numbers or booleans: one feature per element, flattened
};

enum class Encode : uint8_t { native, target, one_hot, ordinal };
// missing: NULL stays a missing value, which XGBoost sends down each
// split's default direction. The default for columns preprocess does not
// name, as before preprocess existed; a named column defaults to error.
enum class Impute : uint8_t { missing, error, mean, median, mode, min, max, zero };
enum class Scale : uint8_t { preserve, standard, min_max, max_abs, robust };

struct Options {
    Encode encode = Encode::native;
    Impute impute = Impute::missing;
    Scale scale = Scale::preserve;
    std::vector<std::string> ordinal;  // Encode::ordinal: the categories, in order
};

// What one column's training values gave.
struct Stats {
    double mean = 0, std_dev = 0, min = 0, max = 0, max_abs = 0;
    double median = 0, q1 = 0, q3 = 0, mode = 0;
    uint64_t count = 0, missing = 0;  // values present, and NULL
};

struct Column {
    std::string name;
    std::string type;  // as Postgres prints it (format_type)
    Kind kind = Kind::numeric;
    uint32_t width = 1;  // array: elements a row (every row the same); else 1
    Options options;

    // Fitted on the training rows.
    Stats stats;                          // of the values imputation fills from
    std::vector<std::string> categories;  // categorical: in order of first appearance
    std::vector<double> values;           // categorical: each one's encoded value
    double unseen = std::numeric_limits<double>::quiet_NaN();  // a category training never saw
    double fill = std::numeric_limits<double>::quiet_NaN();    // what NULL becomes (NaN: missing)
    int64_t fill_category = -1;           // one_hot: the category NULL becomes, or -1 (all 0)
    double shift = 0, scale = 1;          // x -> (x - shift) / scale

    // Features this column becomes.
    uint32_t encoded_width() const {
        if (kind == Kind::array) return width;
        if (kind == Kind::categorical && options.encode == Encode::one_hot)
            return static_cast<uint32_t>(categories.size());
        return 1;
    }
};

// The distinct strings of one categorical column, numbered as first seen
// in the scan. Training rows carry the number (as a float; NULL is NaN).
// noexcept: called from a table scan between Postgres calls.
class Dictionary {
public:
    // The number of s, or -1 when memory ran out.
    int64_t intern(std::string_view s) noexcept;
    const std::string& at(size_t i) const { return strings_[i]; }
    size_t size() const { return strings_.size(); }

private:
    std::unordered_map<std::string, uint32_t> index_;
    std::vector<std::string> strings_;
};

// The columns of a training relation (label left out), in order, and how
// they are read into a raw Dataset: one float a numeric column, one a
// categorical column (its Dictionary number), width an array column.
struct Plan {
    std::vector<Column> columns;
    std::vector<Dictionary> dictionaries;  // one per column (used by categorical ones)

    uint32_t raw_width() const;
    uint32_t encoded_width() const;
    // Whether anything is to be done: a categorical column, or options.
    bool needed() const;
    // Names of the encoded features ("cut=Ideal" for one_hot, "image[3]"
    // for array elements, else the column's name).
    std::vector<std::string> feature_names() const;
    // The type of the column each encoded feature comes from.
    std::vector<std::string> feature_types() const;
    // Sets the options preprocess named (by column name), checked against
    // each column's kind: what cannot apply is an error with a hint,
    // before any row is read.
    Result<void> set_options(const std::vector<std::pair<std::string, Options>>& by_name, const std::string& label);
};

// Fits every column on the training rows of raw (as split says) and
// returns the encoded Dataset of all rows, labels kept. A NULL in a column
// whose impute is error fails with the column's name.
Result<Dataset> fit_transform(Plan& plan, const Dataset& raw, const Split& split);

// The raw value of one column of one row to predict: a number (NaN for
// NULL), a category string (null for NULL), or array elements.
struct Cell {
    double number = std::numeric_limits<double>::quiet_NaN();
    const char* text = nullptr;  // categorical
    size_t text_len = 0;
    const float* elements = nullptr;  // array
    size_t count = 0;
};

// The most features a RowEncoder makes: as many as a model may have
// (model_check's limit on num_feature).
inline constexpr uint64_t kMaxEncodedWidth = uint64_t{1} << 24;

// A fitted plan, ready for rows: category lookups built once.
class RowEncoder {
public:
    static Result<RowEncoder> make(std::vector<Column> columns);
    uint32_t width() const { return width_; }
    const std::vector<Column>& columns() const { return columns_; }
    // Encodes one row (a Cell a column) into width() floats.
    Result<void> encode(const Cell* cells, float* out) const;

private:
    std::vector<Column> columns_;
    std::vector<std::unordered_map<std::string, uint32_t>> lookup_;  // categorical: category -> index
    uint32_t width_ = 0;
};

// The fitted columns as JSON (stored in pgml.models.preprocessing), and
// back (what Postgres' jsonb gives out: any key order, any spacing).
std::string to_json(const std::vector<Column>& columns);
Result<std::vector<Column>> from_json(std::string_view json);

// Parsing the option names of preprocess => jsonb.
Result<Encode> encode_of(std::string_view s);
Result<Impute> impute_of(std::string_view s);
Result<Scale> scale_of(std::string_view s);
const char* name_of(Kind k);
const char* name_of(Encode e);
const char* name_of(Impute i);
const char* name_of(Scale s);

}  // namespace pgml::preprocess
