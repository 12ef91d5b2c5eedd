// The data sets pgml.load_dataset builds in (PostgresML's six scikit-learn
// sets): the table each one becomes, and a reader of the CSV files the
// build writes for them (datasets/make_csv.py), installed into the
// extension's share directory.
//
// The table definitions here are the authority: load_dataset creates the
// table from them and checks that a file's header names the same columns in
// the same order, so a stale or foreign file is refused, not half loaded.
// Pure C++; the loading itself is backend/datasets.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace pgml::builtin {

struct Column {
    const char* name;      // as PostgresML names it (may hold spaces or '/')
    const char* sql_type;  // a type name of pg_catalog
};

struct DataSet {
    const char* name;  // the source name, and the table pgml.<name>
    std::span<const Column> columns;
    int64_t rows;      // in the full file
};

// The six sets, in name order.
std::span<const DataSet> data_sets();

// The set called exactly `name`, or nullptr.
const DataSet* find(std::string_view name);

// "breast_cancer, diabetes, digits, iris, linnerud and wine".
std::string names();

// The name as a double-quoted SQL identifier ("mean radius", "a""b").
std::string quote_identifier(std::string_view name);

// CREATE TABLE pgml."<set>" (...) and INSERT INTO pgml."<set>" VALUES
// ($1::type, ...): the insert takes each value as text, cast by Postgres.
std::string create_table_sql(const DataSet& set);
std::string insert_sql(const DataSet& set);

// One CSV field: its text, and whether it was an empty unquoted field
// (NULL, as COPY's CSV format reads it).
struct Field {
    std::string text;
    bool null = false;
};

// Reads records of RFC 4180 CSV from a buffer it does not own: fields
// separated by commas, optionally in double quotes ("" inside quotes is a
// quote; quoted fields may hold commas and line breaks), records ended by
// \n or \r\n; a last record without a line break is read too.
class CsvReader {
public:
    explicit CsvReader(std::string_view text) : text_(text) {}

    // The next record into fields (resized to its field count): true, or
    // false at the end of the buffer. Malformed quoting is an error naming
    // the line its record starts on.
    Result<bool> next(std::vector<Field>& fields);

    // The line the last record read started on (1-based).
    size_t line() const { return record_line_; }

private:
    std::string_view text_;
    size_t pos_ = 0;
    size_t line_ = 1;
    size_t record_line_ = 0;
};

// The header of a set's file must name its columns, in order (file: the
// file's name, for the message).
Result<void> check_header(const DataSet& set, const std::vector<Field>& header,
                          std::string_view file);

}  // namespace pgml::builtin
