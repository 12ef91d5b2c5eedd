-- pgml_worker 0.1 -> 0.2. A fresh install of 0.2 runs 0.1's script and then
-- this one, so every object added or changed after 0.1 lives here only.
\echo Use "ALTER EXTENSION pgml_worker UPDATE TO '0.2'" to load this file. \quit

-- Bulk scoring: many rows in one call, scored in the calling backend.
CREATE FUNCTION pgml.predict_batch(project_name text, features real[]) RETURNS SETOF real
    LANGUAGE c VOLATILE PARALLEL SAFE ROWS 1000 AS 'MODULE_PATHNAME', 'pgml_predict_batch';
CREATE FUNCTION pgml.predict_batch(model_id bigint, features real[]) RETURNS SETOF real
    LANGUAGE c VOLATILE PARALLEL SAFE ROWS 1000 AS 'MODULE_PATHNAME', 'pgml_predict_batch_model';
COMMENT ON FUNCTION pgml.predict_batch(text, real[]) IS
    'Predicts many rows at once (rows x features, or a flat array of whole rows) with the deployed model of a project, in this connection; one answer per row, in order.';
