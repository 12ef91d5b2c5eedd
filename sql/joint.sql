-- Joint regression (PostgresML's tutorial): several label columns, one
-- XGBoost multi-output model, pgml.predict_joint answering all of them,
-- served from a compiled forest and equal to XGBoost's own predictions.
SELECT * FROM pgml.load_dataset('linnerud');
SELECT * FROM pgml.train_joint('Exercise Prediction', 'regression', 'pgml.linnerud',
                               ARRAY['weight', 'waist', 'pulse'], hyperparams => '{"n_estimators": 20}');
SELECT m.num_features, m.feature_names, s.y_column_name, m.metrics ? 'r2' AS scored
  FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id JOIN pgml.snapshots s ON s.id = m.snapshot_id
 WHERE p.name = 'Exercise Prediction';
SELECT cardinality(pgml.predict_joint('Exercise Prediction', ARRAY[chins, situps, jumps])) AS outputs,
       pgml.predict_joint('Exercise Prediction', ARRAY[chins, situps, jumps])
         = pgml.predict_joint((SELECT id FROM pgml.deployed_models WHERE name = 'Exercise Prediction'),
                              ARRAY[chins, situps, jumps]) AS by_id_same
  FROM pgml.linnerud LIMIT 3;
-- Every path gives the same values: in place, queued to the pool, and
-- XGBoost in this connection.
SELECT p AS path, bool_and(v = ref) AS same
  FROM (SELECT array_agg(pgml.predict_joint('Exercise Prediction', ARRAY[chins, situps, jumps]) ORDER BY chins, situps, jumps) AS ref
          FROM pgml.linnerud) r,
       unnest(ARRAY['inplace', 'queued', 'backend']) p,
       LATERAL (SELECT set_config('pgml_worker.predict_path', p, false)) s,
       LATERAL (SELECT array_agg(pgml.predict_joint('Exercise Prediction', ARRAY[chins, situps, jumps]) ORDER BY chins, situps, jumps) AS v
                  FROM pgml.linnerud) x
 GROUP BY p ORDER BY p;
RESET pgml_worker.predict_path;
SELECT w.engine FROM pgml.worker_models() w JOIN pgml.deployed_models d ON d.id = w.model_id
 WHERE d.name = 'Exercise Prediction' AND w.database = (SELECT oid FROM pg_database WHERE datname = current_database());
-- XGBoost's Python package on the exported bytes agrees, every output.
\copy (SELECT 'model', 'joint', encode(pgml.export_model(d.id), 'base64') FROM pgml.deployed_models d WHERE d.name = 'Exercise Prediction' UNION ALL SELECT 'row', x::text, pgml.predict_joint('Exercise Prediction', x)::text FROM (SELECT ARRAY[chins, situps, jumps]::real[] AS x FROM pgml.linnerud UNION ALL SELECT ARRAY[c, s, j]::real[] FROM generate_series(0, 20, 5) c, generate_series(0, 250, 50) s, generate_series(0, 250, 50) j) r) TO PROGRAM '/usr/bin/python3 "$PG_ABS_SRCDIR/test/python/compare_predictions.py" "$PG_ABS_BUILDDIR/python_joint.out"' (FORMAT csv)
CREATE TEMP TABLE joint_verdict (line text);
\getenv builddir PG_ABS_BUILDDIR
\set joint_file :builddir '/python_joint.out'
COPY joint_verdict FROM :'joint_file';
SELECT line FROM joint_verdict;

-- A plain regression answers predict_joint with its one value.
SELECT pgml.predict_joint('reg', ARRAY[1, 2, 3, 4, 5, 6, 1]) = ARRAY[pgml.predict('reg', ARRAY[1, 2, 3, 4, 5, 6, 1])] AS one_value;
-- A joint search, and a reuse of the joint snapshot.
SELECT * FROM pgml.train_joint('Exercise Prediction', relation_name => 'pgml.linnerud',
                               y_column_name => ARRAY['weight', 'waist'], search => 'grid',
                               search_params => '{"max_depth": [1, 2]}', search_args => '{"cv": 3}',
                               automatic_deploy => false);
SELECT * FROM pgml.train_joint('Exercise Prediction', hyperparams => '{"n_estimators": 3}', automatic_deploy => false);
SELECT s.y_column_name, m.metrics ? 'search_results' AS searched
  FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id JOIN pgml.snapshots s ON s.id = m.snapshot_id
 WHERE p.name = 'Exercise Prediction' ORDER BY m.id;

-- Bad input: each a clear error, nothing left in the catalog.
SELECT count(*) AS models_before FROM pgml.models \gset
CREATE TABLE joint_text AS SELECT chins, situps, jumps, weight, waist::text AS waist FROM pgml.linnerud;
SELECT try(q) AS error FROM unnest(ARRAY[
    $$SELECT pgml.train_joint('bad', 'regression', 'joint_text', ARRAY['weight', 'waist'])$$,
    $$SELECT pgml.train_joint('bad', 'classification', 'pgml.linnerud', ARRAY['weight', 'waist'])$$,
    $$SELECT pgml.train_joint('bad', 'regression', 'pgml.linnerud', ARRAY['weight', 'weight'])$$,
    $$SELECT pgml.train_joint('bad', 'regression', 'pgml.linnerud', ARRAY['weight', 'height'])$$,
    $$SELECT pgml.train_joint('bad', 'regression', 'pgml.linnerud', ARRAY['weight', NULL])$$,
    $$SELECT pgml.train_joint('bad', 'regression', 'pgml.linnerud', ARRAY[]::text[])$$,
    $$SELECT pgml.predict('Exercise Prediction', ARRAY[1, 2, 3])$$,
    $$SELECT pgml.predict_proba('Exercise Prediction', ARRAY[1, 2, 3])$$,
    $$SELECT * FROM pgml.predict_batch('Exercise Prediction', ARRAY[1, 2, 3])$$,
    $$SELECT pgml.predict_joint('Exercise Prediction', ARRAY[1, 2])$$,
    $$SELECT pgml.predict_joint('multi', ARRAY[1, 2])$$,
    $$SELECT pgml.import_model('imported_joint', 'regression', pgml.export_model((SELECT id FROM pgml.deployed_models WHERE name = 'Exercise Prediction')))$$
  ]) q;
SELECT count(*) = :models_before AS nothing_left, (SELECT count(*) FROM pgml.projects WHERE name IN ('bad', 'imported_joint')) AS projects
  FROM pgml.models;
