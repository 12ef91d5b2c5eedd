// The two crossings between Postgres and C++ (DESIGN.md invariant 1).
//
// pg::call(f)       C++ calling Postgres. Runs f under PG_TRY; a Postgres
//                   error comes back as an Error holding the captured
//                   ErrorData. Rule for f: no C++ object with a destructor
//                   may be alive inside f while it calls Postgres, because a
//                   longjmp would skip it. Write results to objects declared
//                   outside f. After an Error, do no more Postgres work:
//                   return it up so it is re-thrown.
//
// pg::sql_entry(f)  Postgres calling C++, at the top of a SQL-callable
//                   function. f returns Result<Datum>; exceptions are caught.
//                   Only after every C++ object of f is destroyed is an Error
//                   turned into ereport(ERROR) (or the captured Postgres
//                   error re-thrown), so the longjmp crosses no destructor.
//
// Both refuse, at compile time, closures that are not trivially
// destructible: one holding a C++ object by value is one whose destructor
// a longjmp could skip.
//
// Postgres-facing: for src/pg, src/backend, src/worker and src/sqlapi.
#pragma once

#include <exception>
#include <new>
#include <type_traits>
#include <utility>

#include "core/error.hpp"

extern "C" {
#include "postgres.h"
#include "fmgr.h"
}

namespace pgml::pg {

Error from_pg_error(ErrorData* edata);

template <typename F>
Result<void> call(F&& f) {
    static_assert(std::is_trivially_destructible_v<std::remove_reference_t<F>>,
                  "pg::call: capture by reference; a captured C++ object's destructor would be "
                  "skipped by a Postgres error");
    MemoryContext ctx = CurrentMemoryContext;
    ErrorData* volatile captured = nullptr;
    volatile int cxx_failure = 0;  // 1: bad_alloc, 2: other exception
    PG_TRY();
    {
        // An exception must not leave the PG_TRY block: it would skip
        // PG_END_TRY and leave Postgres' exception stack pointing here.
        try {
            f();
        } catch (const std::bad_alloc&) {
            cxx_failure = 1;
        } catch (...) {
            cxx_failure = 2;
        }
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(ctx);
        captured = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();
    if (captured) return tl::unexpected(from_pg_error(captured));
    if (cxx_failure == 1) return fail(sqlstate::out_of_memory, "out of memory");
    if (cxx_failure == 2) return fail(sqlstate::internal, "unexpected C++ exception");
    return {};
}

// An Error flattened into fixed buffers: trivially destructible, so it can
// outlive the C++ frame that produced the Error and cross a longjmp.
struct ErrorBox {
    char sqlstate[6];
    char message[1024];
    char detail[1024];
    char hint[512];
    ErrorData* pg_error;
    void set(const Error& e) noexcept;
    void set(const char* state, const char* msg) noexcept;
};

pg_attribute_noreturn() void raise(const ErrorBox& box);

// Runs f (returning Result<T>) with every exception caught; on success
// stores the value, on failure fills box. All of f's C++ objects are gone
// when this returns.
template <typename T, typename F>
bool run(F& f, T& out, ErrorBox& box) noexcept {
    try {
        auto r = f();
        if (r) {
            out = *r;
            return true;
        }
        box.set(r.error());
    } catch (const std::bad_alloc&) {
        box.set(sqlstate::out_of_memory, "out of memory");
    } catch (const std::exception& e) {
        box.set(sqlstate::internal, e.what());
    } catch (...) {
        box.set(sqlstate::internal, "unexpected C++ exception");
    }
    return false;
}

template <typename F>
Datum sql_entry(F&& f) {
    // raise() longjmps out of this frame and the caller's, where f lives.
    static_assert(std::is_trivially_destructible_v<std::remove_reference_t<F>>,
                  "pg::sql_entry: capture by reference; raise() would skip a captured C++ "
                  "object's destructor");
    ErrorBox box;
    Datum result = 0;
    if (!run(f, result, box)) raise(box);
    return result;
}

}  // namespace pgml::pg
