-- pgml_worker 0.2 -> 0.3. A fresh install of 0.3 runs 0.1's script, 0.2's
-- and then this one.
\echo Use "ALTER EXTENSION pgml_worker UPDATE TO '0.3'" to load this file. \quit

-- The worker scores each model with its compiled forest or with XGBoost:
-- worker_models() says which, and why a model is not on a forest.
DROP FUNCTION pgml.worker_models();
CREATE FUNCTION pgml.worker_models(
    OUT database oid, OUT model_id bigint, OUT bytes bigint, OUT requests bigint,
    OUT loaded_at timestamptz, OUT engine text, OUT engine_note text)
    RETURNS SETOF record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgml_worker_models';
COMMENT ON FUNCTION pgml.worker_models IS 'The models the serving worker holds, once per cluster: size, request counts, and the engine that scores each (forest: its compiled forest, checked against XGBoost; xgboost: XGBoost, engine_note says why).';
