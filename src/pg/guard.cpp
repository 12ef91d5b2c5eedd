#include "pg/guard.hpp"

#include <cstdio>
#include <cstring>

namespace pgml::pg {

Error from_pg_error(ErrorData* edata) {
    Error e;
    e.sqlstate = unpack_sql_state(edata->sqlerrcode);
    e.message = edata->message ? edata->message : "";
    e.pg_error = edata;
    return e;
}

namespace {
void copy(char* dst, size_t size, const char* src) noexcept {
    snprintf(dst, size, "%s", src ? src : "");
}
}  // namespace

void ErrorBox::set(const Error& e) noexcept {
    copy(sqlstate, sizeof sqlstate, e.sqlstate.size() == 5 ? e.sqlstate.c_str() : sqlstate::internal);
    copy(message, sizeof message, e.message.c_str());
    copy(detail, sizeof detail, e.detail.c_str());
    copy(hint, sizeof hint, e.hint.c_str());
    pg_error = static_cast<ErrorData*>(e.pg_error);
}

void ErrorBox::set(const char* state, const char* msg) noexcept {
    copy(sqlstate, sizeof sqlstate, state);
    copy(message, sizeof message, msg);
    detail[0] = hint[0] = '\0';
    pg_error = nullptr;
}

void raise(const ErrorBox& box) {
    if (box.pg_error) ReThrowError(box.pg_error);
    ereport(ERROR,
            (errcode(MAKE_SQLSTATE(box.sqlstate[0], box.sqlstate[1], box.sqlstate[2],
                                   box.sqlstate[3], box.sqlstate[4])),
             errmsg_internal("%s", box.message),
             box.detail[0] ? errdetail_internal("%s", box.detail) : 0,
             box.hint[0] ? errhint("%s", box.hint) : 0));
    pg_unreachable();
}

}  // namespace pgml::pg
