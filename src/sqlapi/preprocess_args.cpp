#include "sqlapi/preprocess_args.hpp"

extern "C" {
#include "utils/builtins.h"
}

namespace pgml::sqlapi {

namespace {

[[noreturn]] void refuse(const char* column, const char* why) {
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    column ? errmsg("preprocess of column \"%s\": %s", column, why) : errmsg("preprocess: %s", why),
                    errhint("preprocess is an object of columns, each {\"encode\": ..., \"impute\": ..., "
                            "\"scale\": ...}, for example '{\"cut\": {\"encode\": \"one_hot\"}, "
                            "\"price\": {\"impute\": \"mean\", \"scale\": \"standard\"}}'.")));
}

char* string_of(const JsonbValue& v, const char* column, const char* key) {
    if (v.type != jbvString)
        refuse(column, psprintf("\"%s\" must be a string", key));
    return pnstrdup(v.val.string.val, v.val.string.len);
}

// {"ordinal": ["a", "b", ...]}
void decode_ordinal(JsonbContainer* c, PreprocessArg* out) {
    JsonbIterator* it = JsonbIteratorInit(c);
    JsonbValue v;
    JsonbIteratorToken tok;
    bool seen = false;
    while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE) {
        if (tok == WJB_KEY) {
            if (v.val.string.len != 7 || strncmp(v.val.string.val, "ordinal", 7) != 0)
                refuse(out->column, "encode takes a string or {\"ordinal\": [categories in order]}");
            continue;
        }
        if (tok != WJB_VALUE) continue;
        if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
            refuse(out->column, "\"ordinal\" must be an array of categories");
        seen = true;
        const int n = JsonContainerSize(v.val.binary.data);
        out->ordinal = static_cast<char**>(palloc0(sizeof(char*) * (n + 1)));
        JsonbIterator* ai = JsonbIteratorInit(v.val.binary.data);
        JsonbValue e;
        JsonbIteratorToken at;
        while ((at = JsonbIteratorNext(&ai, &e, true)) != WJB_DONE) {
            if (at != WJB_ELEM) continue;
            if (e.type != jbvString) refuse(out->column, "\"ordinal\" categories must be strings");
            out->ordinal[out->num_ordinal++] = pnstrdup(e.val.string.val, e.val.string.len);
        }
    }
    if (!seen) refuse(out->column, "encode takes a string or {\"ordinal\": [categories in order]}");
    out->encode = pstrdup("ordinal");
}

void decode_column(JsonbContainer* c, PreprocessArg* out) {
    JsonbIterator* it = JsonbIteratorInit(c);
    JsonbValue v;
    JsonbIteratorToken tok;
    char* key = nullptr;
    while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE) {
        if (tok == WJB_KEY) {
            key = pnstrdup(v.val.string.val, v.val.string.len);
            continue;
        }
        if (tok != WJB_VALUE) continue;
        if (strcmp(key, "encode") == 0) {
            if (v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data))
                decode_ordinal(v.val.binary.data, out);
            else
                out->encode = string_of(v, out->column, key);
        } else if (strcmp(key, "impute") == 0) {
            out->impute = string_of(v, out->column, key);
        } else if (strcmp(key, "scale") == 0) {
            out->scale = string_of(v, out->column, key);
        } else {
            refuse(out->column, psprintf("unknown key \"%s\" (encode, impute and scale are known)", key));
        }
    }
}

}  // namespace

PreprocessList decode_preprocess(Jsonb* pp) {
    PreprocessList out{0, nullptr};
    if (!JB_ROOT_IS_OBJECT(pp) || JB_ROOT_IS_SCALAR(pp)) refuse(nullptr, "it must be a JSON object");
    const int n = JB_ROOT_COUNT(pp);
    out.columns = static_cast<PreprocessArg*>(palloc0(sizeof(PreprocessArg) * (n + 1)));
    JsonbIterator* it = JsonbIteratorInit(&pp->root);
    JsonbValue v;
    JsonbIteratorToken tok;
    char* column = nullptr;
    while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE) {
        if (tok == WJB_KEY) {
            column = pnstrdup(v.val.string.val, v.val.string.len);
            continue;
        }
        if (tok != WJB_VALUE) continue;
        PreprocessArg* c = &out.columns[out.count++];
        c->column = column;
        if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
            refuse(column, "the options must be an object");
        decode_column(v.val.binary.data, c);
    }
    return out;
}

}  // namespace pgml::sqlapi
