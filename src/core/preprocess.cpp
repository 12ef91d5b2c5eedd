#include "core/preprocess.hpp"

#include "core/json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <new>

namespace pgml::preprocess {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// A category index that is not one: never seen in training, or NULL.
constexpr int64_t kUnseen = -1, kNull = -2;

// numpy's percentile with linear interpolation, of sorted values.
double percentile(const std::vector<double>& sorted, double q) {
    if (sorted.empty()) return kNaN;
    const double at = q * static_cast<double>(sorted.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(at));
    const size_t hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - static_cast<double>(lo));
}

// Statistics of the values present (sorted in place).
Stats stats_of(std::vector<double>& v, uint64_t missing) {
    Stats s;
    s.missing = missing;
    s.count = v.size();
    if (v.empty()) {
        s.mean = s.std_dev = s.min = s.max = s.max_abs = s.median = s.q1 = s.q3 = s.mode = kNaN;
        return s;
    }
    std::sort(v.begin(), v.end());
    double sum = 0;
    for (double x : v) sum += x;
    s.mean = sum / static_cast<double>(v.size());
    double sq = 0;
    for (double x : v) sq += (x - s.mean) * (x - s.mean);
    s.std_dev = std::sqrt(sq / static_cast<double>(v.size()));
    s.min = v.front();
    s.max = v.back();
    s.max_abs = std::max(std::fabs(s.min), std::fabs(s.max));
    s.median = percentile(v, 0.5);
    s.q1 = percentile(v, 0.25);
    s.q3 = percentile(v, 0.75);
    // The most frequent value; of equally frequent ones the smallest
    // (scikit-learn's most_frequent).
    size_t best = 0;
    for (size_t i = 0; i < v.size();) {
        size_t j = i;
        while (j < v.size() && v[j] == v[i]) ++j;
        if (j - i > best) {
            best = j - i;
            s.mode = v[i];
        }
        i = j;
    }
    return s;
}

// shift and scale from the statistics of the (imputed) training values; a
// scale of 0 (a constant column) is taken as 1, as scikit-learn does.
void set_scaling(Column& c, std::vector<double> values) {
    Stats s = stats_of(values, 0);
    double shift = 0, scale = 1;
    switch (c.options.scale) {
        case Scale::preserve: break;
        case Scale::standard: shift = s.mean; scale = s.std_dev; break;
        case Scale::min_max: shift = s.min; scale = s.max - s.min; break;
        case Scale::max_abs: scale = s.max_abs; break;
        case Scale::robust: shift = s.median; scale = s.q3 - s.q1; break;
    }
    if (!std::isfinite(shift)) shift = 0;  // no values at all
    if (!(scale != 0) || !std::isfinite(scale)) scale = 1;
    c.shift = shift;
    c.scale = scale;
}

float scaled(const Column& c, double x) { return static_cast<float>((x - c.shift) / c.scale); }

void put_number(const Column& c, double x, float* out) {
    if (std::isnan(x)) x = c.fill;
    out[0] = scaled(c, x);
}

// cat: the category's index in c.categories, kUnseen or kNull.
void put_category(const Column& c, int64_t cat, float* out) {
    if (c.options.encode == Encode::one_hot) {
        std::fill(out, out + c.categories.size(), 0.0f);
        const int64_t at = cat >= 0 ? cat : cat == kNull ? c.fill_category : -1;
        if (at >= 0) out[at] = 1.0f;
        return;
    }
    const double x = cat >= 0 ? c.values[static_cast<size_t>(cat)] : cat == kUnseen ? c.unseen : c.fill;
    out[0] = scaled(c, x);
}

Error null_refused(const Column& c, uint64_t count, bool training) {
    std::string what = training ? std::to_string(count) + " of the training rows have NULL in column \"" + c.name + "\""
                                : "column \"" + c.name + "\" is NULL";
    return Error{sqlstate::data_exception, what + ", and its impute is error", "",
                 "Name an impute for the column in preprocess, for example '{\"" + c.name +
                     "\": {\"impute\": \"" + (c.kind == Kind::categorical ? "mode" : "mean") + "\"}}'.",
                 nullptr};
}

// Fits a numeric column: statistics, the value NULL becomes, the scaling.
Result<void> fit_numeric(Column& c, std::vector<double> present, uint64_t missing) {
    std::vector<double> values = present;
    c.stats = stats_of(present, missing);
    const Stats& s = c.stats;
    switch (c.options.impute) {
        case Impute::missing: c.fill = kNaN; break;
        case Impute::error:
            if (missing > 0) return tl::unexpected(null_refused(c, missing, true));
            c.fill = kNaN;
            break;
        case Impute::mean: c.fill = s.mean; break;
        case Impute::median: c.fill = s.median; break;
        case Impute::mode: c.fill = s.mode; break;
        case Impute::min: c.fill = s.min; break;
        case Impute::max: c.fill = s.max; break;
        case Impute::zero: c.fill = 0; break;
    }
    if (missing > 0 && c.options.impute != Impute::missing && std::isnan(c.fill))
        return fail(sqlstate::data_exception,
                    "column \"" + c.name + "\" has no values in the training rows to impute from",
                    "Use impute zero, or leave the column out of preprocess.");
    if (!std::isnan(c.fill)) values.insert(values.end(), missing, c.fill);
    set_scaling(c, std::move(values));
    return {};
}

// Fits a categorical column from its training rows' dictionary numbers
// (codes, NaN for NULL) in scan order, and the labels of those rows.
// Returns, for each dictionary number, its category index (or kUnseen).
Result<std::vector<int64_t>> fit_categorical(Column& c, const Dictionary& dict, const std::vector<float>& codes,
                                             const std::vector<float>& labels) {
    std::vector<int64_t> index(dict.size(), kUnseen);
    std::vector<uint64_t> members;
    std::vector<double> label_sums;
    uint64_t missing = 0;
    double label_total = 0;
    if (c.options.encode == Encode::ordinal) {
        c.categories = c.options.ordinal;
        std::map<std::string, size_t> position;
        for (size_t i = 0; i < c.categories.size(); ++i) position.emplace(c.categories[i], i);
        for (size_t d = 0; d < dict.size(); ++d)
            if (auto it = position.find(dict.at(d)); it != position.end()) index[d] = static_cast<int64_t>(it->second);
        members.assign(c.categories.size(), 0);
        label_sums.assign(c.categories.size(), 0);
    }
    for (size_t r = 0; r < codes.size(); ++r) {
        label_total += labels[r];
        if (std::isnan(codes[r])) {
            ++missing;
            continue;
        }
        const size_t d = static_cast<size_t>(codes[r]);
        if (index[d] == kUnseen) {
            if (c.options.encode == Encode::ordinal)
                return fail(sqlstate::data_exception,
                            "value \"" + dict.at(d) + "\" of column \"" + c.name + "\" is not in its ordinal list",
                            "List every category of the column in {\"encode\": {\"ordinal\": [...]}}.");
            index[d] = static_cast<int64_t>(c.categories.size());
            c.categories.push_back(dict.at(d));
            members.push_back(0);
            label_sums.push_back(0);
        }
        ++members[static_cast<size_t>(index[d])];
        label_sums[static_cast<size_t>(index[d])] += labels[r];
    }
    const size_t k = c.categories.size();
    const double label_mean = codes.empty() ? kNaN : label_total / static_cast<double>(codes.size());
    c.values.resize(k);
    for (size_t i = 0; i < k; ++i) {
        switch (c.options.encode) {
            case Encode::native:
            case Encode::ordinal:
            case Encode::one_hot: c.values[i] = static_cast<double>(i + 1); break;
            case Encode::target:
                c.values[i] = members[i] ? label_sums[i] / static_cast<double>(members[i]) : label_mean;
                break;
        }
    }
    c.unseen = c.options.encode == Encode::target ? label_mean : kNaN;
    c.stats.missing = missing;
    c.stats.count = codes.size() - missing;
    // The most frequent category; of equally frequent ones the first seen.
    int64_t mode = -1;
    for (size_t i = 0; i < k; ++i)
        if (members[i] > 0 && (mode < 0 || members[i] > members[static_cast<size_t>(mode)])) mode = static_cast<int64_t>(i);
    switch (c.options.impute) {
        case Impute::missing: break;
        case Impute::error:
            if (missing > 0) return tl::unexpected(null_refused(c, missing, true));
            break;
        case Impute::mode:
            if (mode < 0)
                return fail(sqlstate::data_exception,
                            "column \"" + c.name + "\" has no values in the training rows to impute from",
                            "Use impute zero, or leave the column out of preprocess.");
            c.fill = c.values[static_cast<size_t>(mode)];
            c.fill_category = mode;
            break;
        case Impute::zero: c.fill = 0; break;
        default: break;  // check() refused the others
    }
    if (c.options.encode != Encode::one_hot) {
        std::vector<double> encoded;
        encoded.reserve(codes.size());
        for (float code : codes) {
            const double x = std::isnan(code) ? c.fill : c.values[static_cast<size_t>(index[static_cast<size_t>(code)])];
            if (!std::isnan(x)) encoded.push_back(x);
        }
        set_scaling(c, std::move(encoded));
    }
    return index;
}

template <typename F>
auto no_throw(F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const std::bad_alloc&) {
        return fail(sqlstate::out_of_memory, "out of memory preprocessing the training rows");
    } catch (...) {
        return fail(sqlstate::internal, "unexpected exception preprocessing the training rows");
    }
}

}  // namespace

int64_t Dictionary::intern(std::string_view s) noexcept {
    try {
        auto [it, added] = index_.try_emplace(std::string(s), static_cast<uint32_t>(strings_.size()));
        if (added) strings_.emplace_back(s);
        return it->second;
    } catch (...) {
        return -1;
    }
}

uint32_t Plan::raw_width() const {
    uint32_t w = 0;
    for (const Column& c : columns) w += c.kind == Kind::array ? c.width : 1;
    return w;
}

uint32_t Plan::encoded_width() const {
    uint32_t w = 0;
    for (const Column& c : columns) w += c.encoded_width();
    return w;
}

bool Plan::needed() const {
    for (const Column& c : columns) {
        if (c.kind == Kind::categorical) return true;
        if (c.options.impute != Impute::missing || c.options.scale != Scale::preserve) return true;
    }
    return false;
}

std::vector<std::string> Plan::feature_names() const {
    std::vector<std::string> out;
    for (const Column& c : columns) {
        if (c.kind == Kind::array) {
            for (uint32_t i = 0; i < c.width; ++i) out.push_back(c.name + "[" + std::to_string(i + 1) + "]");
        } else if (c.kind == Kind::categorical && c.options.encode == Encode::one_hot) {
            for (const std::string& k : c.categories) out.push_back(c.name + "=" + k);
        } else {
            out.push_back(c.name);
        }
    }
    return out;
}

std::vector<std::string> Plan::feature_types() const {
    std::vector<std::string> out;
    for (const Column& c : columns) out.insert(out.end(), c.encoded_width(), c.type);
    return out;
}

Result<void> Plan::set_options(const std::vector<std::pair<std::string, Options>>& by_name, const std::string& label) {
    for (const auto& [name, options] : by_name) {
        // An init-capture, not [&]: clang before 16 (the fuzzers' compiler)
        // cannot capture a structured binding.
        auto it = std::find_if(columns.begin(), columns.end(),
                               [&wanted = name](const Column& c) { return c.name == wanted; });
        if (it == columns.end())
            return fail(sqlstate::invalid_parameter,
                        name == label ? "preprocess names the label column \"" + name + "\""
                                      : "preprocess names column \"" + name + "\", which is not a feature",
                        name == label ? "Labels are not preprocessed; leave it out."
                                      : "Name the relation's columns as they are spelled (case-sensitive).");
        it->options = options;
    }
    for (const Column& c : columns) {
        const Options& o = c.options;
        auto refuse = [&](const std::string& what, const std::string& hint) {
            return fail(sqlstate::invalid_parameter, "preprocess of column \"" + c.name + "\" (" + c.type + "): " + what,
                        hint);
        };
        switch (c.kind) {
            case Kind::array:
                if (o.encode != Encode::native || o.impute != Impute::missing || o.scale != Scale::preserve)
                    return refuse("array columns take no preprocessing",
                                  "Their elements are features as they are (NULL elements are missing values).");
                break;
            case Kind::numeric:
                if (o.encode != Encode::native)
                    return refuse(std::string("encode ") + name_of(o.encode) + " applies to categorical columns",
                                  "Numbers are features as they are; cast the column to text to treat it as "
                                  "categories.");
                break;
            case Kind::categorical:
                if (o.impute != Impute::missing && o.impute != Impute::error && o.impute != Impute::mode &&
                    o.impute != Impute::zero)
                    return refuse(std::string("impute ") + name_of(o.impute) + " has no meaning for categories",
                                  "Use impute mode (the most frequent category) or zero.");
                if (o.encode == Encode::one_hot && o.scale != Scale::preserve)
                    return refuse("one_hot features are 0 or 1 and take no scale", "Leave scale out.");
                if (o.encode == Encode::ordinal) {
                    if (o.ordinal.empty())
                        return refuse("the ordinal list is empty", "List the categories in order.");
                    std::vector<std::string> sorted = o.ordinal;
                    std::sort(sorted.begin(), sorted.end());
                    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
                        return refuse("the ordinal list names a category twice", "List each category once.");
                }
                break;
        }
    }
    return {};
}

Result<Dataset> fit_transform(Plan& plan, const Dataset& raw, const Split& split) {
    return no_throw([&]() -> Result<Dataset> {
        const size_t n = raw.rows(), train = split.train_rows();
        // The training rows in scan order: categories are numbered in the
        // order the table gives them, whatever the sampling.
        std::vector<uint8_t> is_train(n, 0);
        for (size_t i = 0; i < train; ++i) is_train[split.train_index(i)] = 1;
        std::vector<float> labels;
        labels.reserve(train);
        for (size_t r = 0; r < n; ++r)
            if (is_train[r]) labels.push_back(raw.label(r));

        std::vector<std::vector<int64_t>> category_of(plan.columns.size());
        size_t at = 0;
        for (size_t ci = 0; ci < plan.columns.size(); ++ci) {
            Column& c = plan.columns[ci];
            if (c.kind == Kind::array) {
                at += c.width;
                continue;
            }
            std::vector<float> column;
            column.reserve(train);
            for (size_t r = 0; r < n; ++r)
                if (is_train[r]) column.push_back(raw.row(r)[at]);
            if (c.kind == Kind::numeric) {
                std::vector<double> present;
                present.reserve(column.size());
                for (float x : column)
                    if (!std::isnan(x)) present.push_back(x);
                const uint64_t missing = column.size() - present.size();
                if (auto ok = fit_numeric(c, std::move(present), missing); !ok) return tl::unexpected(ok.error());
            } else {
                auto index = fit_categorical(c, plan.dictionaries[ci], column, labels);
                if (!index) return tl::unexpected(index.error());
                category_of[ci] = std::move(*index);
            }
            ++at;
        }

        Dataset out(plan.encoded_width(), raw.targets());
        for (size_t r = 0; r < n; ++r) {
            const float* in = raw.row(r);
            float* x = out.append_row(raw.labels(r));
            if (!x) return fail(sqlstate::out_of_memory, "out of memory preprocessing the training rows");
            for (size_t ci = 0; ci < plan.columns.size(); ++ci) {
                const Column& c = plan.columns[ci];
                switch (c.kind) {
                    case Kind::array:
                        std::copy(in, in + c.width, x);
                        in += c.width;
                        break;
                    case Kind::numeric:
                        // Test rows with NULL where impute is error are
                        // left missing: the error is for training data.
                        put_number(c, *in++, x);
                        break;
                    case Kind::categorical: {
                        const float code = *in++;
                        put_category(c, std::isnan(code) ? kNull : category_of[ci][static_cast<size_t>(code)], x);
                        break;
                    }
                }
                x += c.encoded_width();
            }
        }
        return out;
    });
}

Result<RowEncoder> RowEncoder::make(std::vector<Column> columns) {
    return no_throw([&]() -> Result<RowEncoder> {
        RowEncoder e;
        e.lookup_.resize(columns.size());
        // Summed in 64 bits and bounded: the columns come from JSON a user
        // with the rights may have edited, and a uint32 sum wrapped (4295
        // array columns of width 1e6 made 32704), so a caller's buffer of
        // width() floats took 4 GB of writes (found by fuzz/preprocess_json).
        uint64_t width = 0;
        for (size_t i = 0; i < columns.size(); ++i) {
            const Column& c = columns[i];
            if (c.kind == Kind::categorical) {
                if (c.values.size() != c.categories.size())
                    return fail(sqlstate::data_exception, "the preprocessing of column \"" + c.name + "\" is damaged");
                for (size_t k = 0; k < c.categories.size(); ++k) e.lookup_[i].emplace(c.categories[k], static_cast<uint32_t>(k));
            }
            width += c.encoded_width();
            if (width > kMaxEncodedWidth)
                return fail(sqlstate::data_exception,
                            "the model's preprocessing is damaged: its columns make more than " +
                                std::to_string(kMaxEncodedWidth) + " features",
                            "Train the model again.");
        }
        e.width_ = static_cast<uint32_t>(width);
        e.columns_ = std::move(columns);
        return e;
    });
}

Result<void> RowEncoder::encode(const Cell* cells, float* out) const {
    for (size_t i = 0; i < columns_.size(); ++i) {
        const Column& c = columns_[i];
        const Cell& cell = cells[i];
        switch (c.kind) {
            case Kind::array:
                if (cell.count != c.width)
                    return fail(sqlstate::invalid_parameter,
                                "column \"" + c.name + "\" has " + std::to_string(cell.count) + " elements, " +
                                    std::to_string(c.width) + " at training",
                                "Every row's array must have as many elements as the training rows had.");
                for (uint32_t k = 0; k < c.width; ++k) out[k] = static_cast<float>(cell.elements[k]);
                break;
            case Kind::numeric:
                if (std::isnan(cell.number) && c.options.impute == Impute::error)
                    return tl::unexpected(null_refused(c, 1, false));
                put_number(c, static_cast<float>(cell.number), out);
                break;
            case Kind::categorical: {
                int64_t cat = kNull;
                if (cell.text) {
                    auto it = lookup_[i].find(std::string(cell.text, cell.text_len));
                    cat = it == lookup_[i].end() ? kUnseen : it->second;
                } else if (c.options.impute == Impute::error) {
                    return tl::unexpected(null_refused(c, 1, false));
                }
                put_category(c, cat, out);
                break;
            }
        }
        out += c.encoded_width();
    }
    return {};
}

std::string to_json(const std::vector<Column>& columns) {
    std::string out = "[";
    for (size_t i = 0; i < columns.size(); ++i) {
        const Column& c = columns[i];
        if (i) out += ", ";
        out += "{\"name\": ";
        json::write_string(out, c.name);
        out += ", \"type\": ";
        json::write_string(out, c.type);
        out += std::string(", \"kind\": \"") + name_of(c.kind) + "\", \"width\": " + std::to_string(c.width);
        out += std::string(", \"encode\": \"") + name_of(c.options.encode) + "\", \"impute\": \"" +
               name_of(c.options.impute) + "\", \"scale\": \"" + name_of(c.options.scale) + "\"";
        const Stats& s = c.stats;
        out += ", \"statistics\": {\"count\": " + std::to_string(s.count) + ", \"missing\": " + std::to_string(s.missing);
        const std::pair<const char*, double> numbers[] = {{"mean", s.mean}, {"std_dev", s.std_dev}, {"min", s.min},
                                                          {"max", s.max},   {"max_abs", s.max_abs}, {"median", s.median},
                                                          {"q1", s.q1},     {"q3", s.q3},           {"mode", s.mode}};
        if (c.kind == Kind::numeric)
            for (const auto& [key, x] : numbers) {
                out += std::string(", \"") + key + "\": ";
                json::write_number(out, x);
            }
        out += "}";
        if (c.kind == Kind::categorical) {
            out += ", \"categories\": [";
            for (size_t k = 0; k < c.categories.size(); ++k) {
                if (k) out += ", ";
                json::write_string(out, c.categories[k]);
            }
            out += "], \"values\": [";
            for (size_t k = 0; k < c.values.size(); ++k) {
                if (k) out += ", ";
                json::write_number(out, c.values[k]);
            }
            out += "], \"unseen\": ";
            json::write_number(out, c.unseen);
            out += ", \"fill_category\": " + std::to_string(c.fill_category);
        }
        out += ", \"fill\": ";
        json::write_number(out, c.fill);
        out += ", \"shift\": ";
        json::write_number(out, c.shift);
        out += ", \"scale_by\": ";
        json::write_number(out, c.scale);
        out += "}";
    }
    out += "]";
    return out;
}

Result<std::vector<Column>> from_json(std::string_view text) {
    auto doc = json::parse(text);
    if (!doc) return tl::unexpected(doc.error());
    return no_throw([&]() -> Result<std::vector<Column>> {
        using T = json::Value::Type;
        auto damaged = [](const std::string& why) {
            return fail(sqlstate::data_exception, "the model's preprocessing is damaged: " + why,
                        "Train the model again.");
        };
        if (doc->type != T::array) return damaged("not an array of columns");
        std::vector<Column> out;
        for (const json::Value& v : doc->array) {
            Column c;
            const json::Value* name = v.get("name");
            const json::Value* kind = v.get("kind");
            if (!name || name->type != T::string || !kind || kind->type != T::string) return damaged("a column without name or kind");
            c.name = name->string;
            if (const json::Value* t = v.get("type"); t && t->type == T::string) c.type = t->string;
            if (kind->string == "numeric") c.kind = Kind::numeric;
            else if (kind->string == "categorical") c.kind = Kind::categorical;
            else if (kind->string == "array") c.kind = Kind::array;
            else return damaged("column \"" + c.name + "\" of kind \"" + kind->string + "\"");
            auto number = [&](const char* key, double missing) {
                const json::Value* x = v.get(key);
                return x && x->type == T::number ? x->number : missing;
            };
            auto text_of = [&](const char* key) -> std::string {
                const json::Value* x = v.get(key);
                return x && x->type == T::string ? x->string : std::string();
            };
            const double width = number("width", 1);
            if (!(width >= 1 && width <= 1e6)) return damaged("column \"" + c.name + "\" has a bad width");
            c.width = static_cast<uint32_t>(width);
            if (auto e = encode_of(text_of("encode")); e) c.options.encode = *e;
            else return damaged(e.error().message);
            const std::string impute = text_of("impute");
            if (impute == "missing") c.options.impute = Impute::missing;
            else if (auto i = impute_of(impute); i) c.options.impute = *i;
            else return damaged(i.error().message);
            if (auto sc = scale_of(text_of("scale")); sc) c.options.scale = *sc;
            else return damaged(sc.error().message);
            c.fill = number("fill", kNaN);
            c.shift = number("shift", 0);
            c.scale = number("scale_by", 1);
            if (c.kind == Kind::categorical) {
                const json::Value* cats = v.get("categories");
                const json::Value* values = v.get("values");
                if (!cats || cats->type != T::array || !values || values->type != T::array ||
                    cats->array.size() != values->array.size())
                    return damaged("column \"" + c.name + "\" has no categories");
                for (size_t k = 0; k < cats->array.size(); ++k) {
                    if (cats->array[k].type != T::string) return damaged("a category that is not a string");
                    c.categories.push_back(cats->array[k].string);
                    c.values.push_back(values->array[k].type == T::number ? values->array[k].number : kNaN);
                }
                c.unseen = number("unseen", kNaN);
                const double fc = number("fill_category", -1);
                if (!(fc >= -1 && fc < static_cast<double>(c.categories.size())))
                    return damaged("column \"" + c.name + "\" has a bad fill_category");
                c.fill_category = static_cast<int64_t>(fc);
            }
            out.push_back(std::move(c));
        }
        return out;
    });
}

Result<Encode> encode_of(std::string_view s) {
    if (s == "native") return Encode::native;
    if (s == "target") return Encode::target;
    if (s == "one_hot") return Encode::one_hot;
    if (s == "ordinal") return Encode::ordinal;
    return fail(sqlstate::invalid_parameter, "unknown encode \"" + std::string(s) + "\"",
                "encode is native, target, one_hot or {\"ordinal\": [categories in order]}.");
}

Result<Impute> impute_of(std::string_view s) {
    const std::pair<const char*, Impute> all[] = {{"error", Impute::error}, {"mean", Impute::mean},
                                                  {"median", Impute::median}, {"mode", Impute::mode},
                                                  {"min", Impute::min},     {"max", Impute::max},
                                                  {"zero", Impute::zero}};
    for (const auto& [name, v] : all)
        if (s == name) return v;
    return fail(sqlstate::invalid_parameter, "unknown impute \"" + std::string(s) + "\"",
                "impute is error, mean, median, mode, min, max or zero.");
}

Result<Scale> scale_of(std::string_view s) {
    const std::pair<const char*, Scale> all[] = {{"preserve", Scale::preserve}, {"standard", Scale::standard},
                                                 {"min_max", Scale::min_max},   {"max_abs", Scale::max_abs},
                                                 {"robust", Scale::robust}};
    for (const auto& [name, v] : all)
        if (s == name) return v;
    return fail(sqlstate::invalid_parameter, "unknown scale \"" + std::string(s) + "\"",
                "scale is preserve, standard, min_max, max_abs or robust.");
}

const char* name_of(Kind k) {
    switch (k) {
        case Kind::numeric: return "numeric";
        case Kind::categorical: return "categorical";
        case Kind::array: return "array";
    }
    return "?";
}
const char* name_of(Encode e) {
    switch (e) {
        case Encode::native: return "native";
        case Encode::target: return "target";
        case Encode::one_hot: return "one_hot";
        case Encode::ordinal: return "ordinal";
    }
    return "?";
}
const char* name_of(Impute i) {
    switch (i) {
        case Impute::missing: return "missing";
        case Impute::error: return "error";
        case Impute::mean: return "mean";
        case Impute::median: return "median";
        case Impute::mode: return "mode";
        case Impute::min: return "min";
        case Impute::max: return "max";
        case Impute::zero: return "zero";
    }
    return "?";
}
const char* name_of(Scale s) {
    switch (s) {
        case Scale::preserve: return "preserve";
        case Scale::standard: return "standard";
        case Scale::min_max: return "min_max";
        case Scale::max_abs: return "max_abs";
        case Scale::robust: return "robust";
    }
    return "?";
}

}  // namespace pgml::preprocess
