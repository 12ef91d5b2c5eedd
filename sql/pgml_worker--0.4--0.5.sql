-- pgml_worker 0.4 -> 0.5. A fresh install of 0.5 runs 0.1's script and
-- each update after it.
\echo Use "ALTER EXTENSION pgml_worker UPDATE TO '0.5'" to load this file. \quit

-- PostgresML's loader of its built-in scikit-learn data sets: creates
-- pgml.<source> (replacing a table of that name) and fills it from the
-- files the build installs into the extension's share directory. Runs as
-- the caller, who needs CREATE on schema pgml (and to own a table it
-- replaces); subset and kwargs are ignored, as PostgresML ignores them for
-- these sets.
CREATE FUNCTION pgml.load_dataset(
    source  text,
    subset  text DEFAULT NULL,
    "limit" bigint DEFAULT NULL,
    kwargs  jsonb DEFAULT '{}')
RETURNS TABLE(table_name text, rows bigint)
LANGUAGE c VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pgml_load_dataset';
COMMENT ON FUNCTION pgml.load_dataset IS
    'Creates pgml.<source> with one of the built-in data sets (breast_cancer, diabetes, digits, iris, linnerud, wine), replacing a table of that name; "limit" keeps the first rows only. Returns the table''s name and its row count.';

-- PostgresML's pgml.version(): here the version of the extension installed
-- in this database.
CREATE FUNCTION pgml.version() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT e.extversion::text FROM pg_catalog.pg_extension e
     WHERE e.extname OPERATOR(pg_catalog.=) 'pgml_worker'
$$;
COMMENT ON FUNCTION pgml.version IS 'The version of pgml_worker installed in this database.';
