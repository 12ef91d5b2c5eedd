#include "core/builtin_datasets.hpp"

#include <algorithm>
#include <array>

namespace pgml::builtin {

namespace {

// The table shapes of PostgresML's load_dataset: the same column names,
// order and types (FLOAT4 is real, INT4 integer).
constexpr Column kBreastCancer[] = {
    {"mean radius", "real"}, {"mean texture", "real"}, {"mean perimeter", "real"},
    {"mean area", "real"}, {"mean smoothness", "real"}, {"mean compactness", "real"},
    {"mean concavity", "real"}, {"mean concave points", "real"}, {"mean symmetry", "real"},
    {"mean fractal dimension", "real"}, {"radius error", "real"}, {"texture error", "real"},
    {"perimeter error", "real"}, {"area error", "real"}, {"smoothness error", "real"},
    {"compactness error", "real"}, {"concavity error", "real"},
    {"concave points error", "real"}, {"symmetry error", "real"},
    {"fractal dimension error", "real"}, {"worst radius", "real"}, {"worst texture", "real"},
    {"worst perimeter", "real"}, {"worst area", "real"}, {"worst smoothness", "real"},
    {"worst compactness", "real"}, {"worst concavity", "real"},
    {"worst concave points", "real"}, {"worst symmetry", "real"},
    {"worst fractal dimension", "real"}, {"malignant", "boolean"},
};

constexpr Column kDiabetes[] = {
    {"age", "real"}, {"sex", "real"}, {"bmi", "real"}, {"bp", "real"},
    {"s1", "real"},  {"s2", "real"},  {"s3", "real"},  {"s4", "real"},
    {"s5", "real"},  {"s6", "real"},  {"target", "real"},
};

constexpr Column kDigits[] = {{"image", "smallint[][]"}, {"target", "smallint"}};

constexpr Column kIris[] = {
    {"sepal_length", "real"}, {"sepal_width", "real"}, {"petal_length", "real"},
    {"petal_width", "real"},  {"target", "integer"},
};

constexpr Column kLinnerud[] = {
    {"chins", "real"}, {"situps", "real"}, {"jumps", "real"},
    {"weight", "real"}, {"waist", "real"}, {"pulse", "real"},
};

// PostgresML's table puts hue before color_intensity (scikit-learn has
// them the other way round); each column holds its own name's values.
constexpr Column kWine[] = {
    {"alcohol", "real"}, {"malic_acid", "real"}, {"ash", "real"},
    {"alcalinity_of_ash", "real"}, {"magnesium", "real"}, {"total_phenols", "real"},
    {"flavanoids", "real"}, {"nonflavanoid_phenols", "real"}, {"proanthocyanins", "real"},
    {"hue", "real"}, {"color_intensity", "real"}, {"od280/od315_of_diluted_wines", "real"},
    {"proline", "real"}, {"target", "integer"},
};

const std::array<DataSet, 6> kSets = {{
    {"breast_cancer", kBreastCancer, 569},
    {"diabetes", kDiabetes, 442},
    {"digits", kDigits, 1797},
    {"iris", kIris, 150},
    {"linnerud", kLinnerud, 20},
    {"wine", kWine, 178},
}};

}  // namespace

std::span<const DataSet> data_sets() { return kSets; }

const DataSet* find(std::string_view name) {
    for (const DataSet& s : kSets)
        if (name == s.name) return &s;
    return nullptr;
}

std::string names() {
    std::string out;
    for (size_t i = 0; i < kSets.size(); ++i) {
        if (i > 0) out += i + 1 == kSets.size() ? " and " : ", ";
        out += kSets[i].name;
    }
    return out;
}

std::string quote_identifier(std::string_view name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
    return out;
}

std::string create_table_sql(const DataSet& set) {
    std::string sql = "CREATE TABLE pgml." + quote_identifier(set.name) + " (";
    for (size_t i = 0; i < set.columns.size(); ++i) {
        if (i > 0) sql += ", ";
        sql += quote_identifier(set.columns[i].name);
        sql += ' ';
        sql += set.columns[i].sql_type;
    }
    return sql + ")";
}

std::string insert_sql(const DataSet& set) {
    std::string sql = "INSERT INTO pgml." + quote_identifier(set.name) + " VALUES (";
    for (size_t i = 0; i < set.columns.size(); ++i) {
        if (i > 0) sql += ", ";
        sql += '$' + std::to_string(i + 1) + "::" + set.columns[i].sql_type;
    }
    return sql + ")";
}

Result<bool> CsvReader::next(std::vector<Field>& fields) {
    if (pos_ >= text_.size()) return false;
    record_line_ = line_;
    size_t n = 0;
    auto bad = [&](const char* what) {
        return fail(sqlstate::data_exception,
                    "malformed CSV on line " + std::to_string(record_line_) + ": " + what);
    };
    for (;;) {
        // One field, starting at pos_.
        if (fields.size() <= n) fields.emplace_back();
        Field& f = fields[n++];
        f.text.clear();
        f.null = false;
        bool quoted = pos_ < text_.size() && text_[pos_] == '"';
        if (quoted) {
            ++pos_;
            for (;;) {
                if (pos_ >= text_.size()) return bad("a quoted field is not closed");
                char c = text_[pos_++];
                if (c == '"') {
                    if (pos_ < text_.size() && text_[pos_] == '"') {
                        f.text += '"';
                        ++pos_;
                        continue;
                    }
                    break;
                }
                if (c == '\n') ++line_;
                f.text += c;
            }
        } else {
            size_t end = pos_;
            while (end < text_.size() && text_[end] != ',' && text_[end] != '\n') {
                if (text_[end] == '"') return bad("a quote inside an unquoted field");
                ++end;
            }
            std::string_view raw = text_.substr(pos_, end - pos_);
            if (!raw.empty() && raw.back() == '\r' && (end == text_.size() || text_[end] == '\n'))
                raw.remove_suffix(1);
            f.text.assign(raw);
            f.null = raw.empty();
            pos_ = end;
        }
        // What ends the field: a comma, the end of the record, or the end.
        if (pos_ >= text_.size()) break;
        char c = text_[pos_];
        if (c == ',') {
            ++pos_;
            continue;
        }
        if (c == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') c = text_[++pos_];
        if (c == '\n') {
            ++pos_;
            ++line_;
            break;
        }
        return bad("text after a closing quote");
    }
    fields.resize(n);
    return true;
}

Result<void> check_header(const DataSet& set, const std::vector<Field>& header,
                          std::string_view file) {
    bool same = header.size() == set.columns.size();
    for (size_t i = 0; same && i < header.size(); ++i)
        same = header[i].text == set.columns[i].name;
    if (same) return {};
    std::string got;
    for (size_t i = 0; i < header.size(); ++i) got += (i ? "," : "") + header[i].text;
    std::string want;
    for (size_t i = 0; i < set.columns.size(); ++i)
        want += std::string(i ? "," : "") + set.columns[i].name;
    return fail(sqlstate::data_exception,
                "the data file \"" + std::string(file) + "\" does not have the columns of \"" +
                    set.name + "\" this pgml_worker expects",
                "Reinstall pgml_worker (make install) so its data files match its library.",
                "File header: " + got + "; expected: " + want + ".");
}

}  // namespace pgml::builtin
