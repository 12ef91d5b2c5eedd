// pgml_bench_noop(text, real[]) RETURNS real: what a call of pgml.predict
// costs without any model (argument detoasting included). The benchmark's
// ceiling; bench/quick creates it as a SQL function in its own database, the
// extension script does not.
extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "utils/array.h"

PG_FUNCTION_INFO_V1(pgml_bench_noop);
}

extern "C" Datum pgml_bench_noop(PG_FUNCTION_ARGS) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1)) PG_RETURN_NULL();
    (void) PG_GETARG_TEXT_PP(0);
    (void) PG_GETARG_ARRAYTYPE_P(1);
    PG_RETURN_FLOAT4(0.0f);
}
