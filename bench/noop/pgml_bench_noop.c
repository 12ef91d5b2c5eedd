/*
 * pgml_bench_noop(text, real[]) RETURNS real: what a call of pgml.predict
 * costs without any model (argument detoasting included). The benchmark's
 * ceiling; bench/lib.sh creates it as a SQL function in the benchmark's
 * database. Built apart from the extension (bench/noop/Makefile).
 */
#include "postgres.h"
#include "fmgr.h"
#include "utils/array.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(pgml_bench_noop);

Datum pgml_bench_noop(PG_FUNCTION_ARGS) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1)) PG_RETURN_NULL();
    (void) PG_GETARG_TEXT_PP(0);
    (void) PG_GETARG_ARRAYTYPE_P(1);
    PG_RETURN_FLOAT4(0.0f);
}

/*
 * The other signatures of pgml.predict (bench/lib.sh): they exist so that
 * the catalog holds as many overloads of bench_noop as of pgml.predict;
 * the benchmark never calls them.
 */
PG_FUNCTION_INFO_V1(pgml_bench_noop_other);

Datum pgml_bench_noop_other(PG_FUNCTION_ARGS) {
    PG_RETURN_FLOAT4(0.0f);
}
