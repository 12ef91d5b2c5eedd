-- An install of 0.1 with a deployed model, updated to the current version:
-- the model keeps serving, the new functions use it, and the objects are
-- exactly those of a fresh install (the one setup made in this database).
SELECT current_database() AS home \gset
CREATE DATABASE pgml_upgrade;
\c pgml_upgrade
CREATE EXTENSION pgml_worker VERSION '0.1';
CREATE TABLE t AS SELECT g::real AS x, (2 * g)::real AS y FROM generate_series(1, 200) g;
SELECT deployed FROM pgml.train('old', 'regression', 't', 'y', hyperparams => '{"n_estimators": 5}');
SELECT pgml.predict('old', ARRAY[50]::real[]) AS before_update \gset
-- Through 0.2, whose worker_models() this library still serves as 0.2 declared it.
ALTER EXTENSION pgml_worker UPDATE TO '0.2';
SELECT count(*) AS models_listed_at_0_2 FROM pgml.worker_models()
 WHERE database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND bytes > 0;
-- Through 0.3, whose worker_stats() (15 columns) it also still serves.
ALTER EXTENSION pgml_worker UPDATE TO '0.3';
SELECT running, queue_slots > 0 AS has_slots FROM pgml.worker_stats();
SELECT count(*) AS columns_at_0_3 FROM pg_attribute WHERE attrelid = 'pgml.worker_status'::regclass AND attnum > 0;
ALTER EXTENSION pgml_worker UPDATE TO '0.4';
SELECT count(*) AS columns_at_0_4 FROM pg_attribute WHERE attrelid = 'pgml.worker_status'::regclass AND attnum > 0;
SELECT to_regprocedure('pgml.load_dataset(text, text, bigint, jsonb)') IS NULL AS no_load_dataset_at_0_4;
-- 0.5 adds load_dataset, version and predictions from rows.
ALTER EXTENSION pgml_worker UPDATE TO '0.5';
SELECT * FROM pgml.load_dataset('iris', "limit" => 10);
SELECT pgml.predict('old', t) = :'before_update'::real AS row_predict_at_0_5 FROM t WHERE x = 50;
-- To the current version: 0.6 makes the snapshots' label an array and
-- adds search, stratified splits and trained_models. The 0.1 snapshot is
-- reused as it was (its split included), and a search trains on it.
ALTER EXTENSION pgml_worker UPDATE;
SELECT extversion, pgml.version() FROM pg_extension WHERE extname = 'pgml_worker';
SELECT y_column_name, test_sampling, materialized FROM pgml.snapshots;
SELECT deployed AS retrained_deployed FROM pgml.train('old', hyperparams => '{"n_estimators": 3}', automatic_deploy => false,
                                                      search => 'grid', search_params => '{"max_depth": [1, 2]}', search_args => '{"cv": 2}');
SELECT name, algorithm, test_sampling, deployed FROM pgml.trained_models ORDER BY id;
SELECT v = :'before_update'::real AS batch_uses_old_model, pgml.predict('old', ARRAY[50]::real[]) = :'before_update'::real AS still_serves
  FROM pgml.predict_batch('old', ARRAY[50]::real[]) v;
SELECT string_agg(pg_describe_object(classid, objid, objsubid), E'\n'
                  ORDER BY pg_describe_object(classid, objid, objsubid)) AS upgraded_objects
  FROM pg_depend
 WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgml_worker') AND deptype = 'e' \gset
\c :home
SELECT string_agg(pg_describe_object(classid, objid, objsubid), E'\n'
                  ORDER BY pg_describe_object(classid, objid, objsubid)) = :'upgraded_objects' AS same_objects
  FROM pg_depend
 WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgml_worker') AND deptype = 'e';
DROP DATABASE pgml_upgrade;
