-- PostgresML's training options beyond the basics: stratified splits,
-- hyperparameter search, the XGBoost random forest, runtimes, snapshots
-- (materialized or not) and the trained_models view.
SELECT * FROM pgml.load_dataset('iris');

-- iris is sorted by class: 'last' tests on class 2 only, which the model
-- never saw; 'stratified' (the default) puts each class in both sets in
-- proportion (38 of 150 test rows: 13, 13 and 12).
SELECT * FROM pgml.train('iris_last', 'classification', 'pgml.iris', 'target',
                         hyperparams => '{"n_estimators": 5}', test_sampling => 'last');
SELECT * FROM pgml.train('iris_strat', 'classification', 'pgml.iris', 'target',
                         hyperparams => '{"n_estimators": 5}');
SELECT p.name, s.test_sampling, s.analysis->'num_test_rows' AS test_rows,
       (m.metrics->>'accuracy')::float8 > 0.85 AS accurate
  FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id JOIN pgml.snapshots s ON s.id = m.snapshot_id
 WHERE p.name IN ('iris_last', 'iris_strat') ORDER BY p.name;

-- Grid search: 3 x 2 candidates, 3-fold cross-validation on the training
-- rows; the best is trained on all of them and scored on the test rows.
SELECT * FROM pgml.train('iris_grid', 'classification', 'pgml.iris', 'target',
                         hyperparams => '{"n_estimators": 4}',
                         search => 'grid',
                         search_params => '{"max_depth": [1, 2, 3], "eta": [0.1, 0.5]}',
                         search_args => '{"cv": 3}');
SELECT m.id AS grid_model FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = 'iris_grid' \gset
SELECT jsonb_array_length(r->'params') AS candidates, r->'n_splits' AS n_splits,
       r->'params' = '[{"eta": 0.1, "max_depth": 1}, {"eta": 0.1, "max_depth": 2}, {"eta": 0.1, "max_depth": 3},
                       {"eta": 0.5, "max_depth": 1}, {"eta": 0.5, "max_depth": 2}, {"eta": 0.5, "max_depth": 3}]' AS grid_order,
       r->'param_max_depth' = '[1, 2, 3, 1, 2, 3]' AS param_column,
       (SELECT bool_and(jsonb_array_length(r->k) = 6)
          FROM unnest(ARRAY['mean_fit_time', 'std_fit_time', 'mean_score_time', 'std_score_time',
                            'mean_test_score', 'std_test_score', 'split0_test_score', 'split1_test_score',
                            'split2_test_score']) k) AS every_list_per_candidate,
       r ? 'split3_test_score' AS no_fourth_fold
  FROM pgml.models m, LATERAL (SELECT m.metrics->'search_results' AS r) x WHERE m.id = :grid_model;
-- mean_test_score is the mean of the folds' scores; best_index has the
-- highest mean (the first of equals), and the model's hyperparams are the
-- fixed ones plus the best candidate's.
SELECT bool_and(abs(mean - (s0 + s1 + s2) / 3) < 1e-12) AS means_of_folds,
       bool_and(mean <= best_mean) AS best_is_highest,
       min(i) FILTER (WHERE mean = best_mean) = best AS first_of_equals,
       (SELECT hyperparams FROM pgml.models WHERE id = :grid_model)
         = '{"n_estimators": 4}'::jsonb || (SELECT metrics->'search_results'->'params'->best FROM pgml.models WHERE id = :grid_model) AS hyperparams_are_best
  FROM (SELECT (r->'mean_test_score'->>i)::float8 AS mean, (r->'split0_test_score'->>i)::float8 AS s0,
               (r->'split1_test_score'->>i)::float8 AS s1, (r->'split2_test_score'->>i)::float8 AS s2,
               (r->'mean_test_score'->>(r->>'best_index')::int)::float8 AS best_mean,
               (r->>'best_index')::int AS best, i
          FROM pgml.models m, LATERAL (SELECT m.metrics->'search_results' AS r) x,
               generate_series(0, 5) i
         WHERE m.id = :grid_model) c
 GROUP BY best;
-- The final model has the usual test metrics, and serves.
SELECT (metrics->>'f1')::float8 > 0.8 AS f1_on_test_rows, metrics ? 'fit_time' AS timed,
       pgml.predict('iris_grid', ARRAY[5.1, 3.5, 1.4, 0.2]) AS setosa
  FROM pgml.models WHERE id = :grid_model;

-- Random search: n_iter distinct candidates of the grid, drawn with the
-- snapshot's seed; 5 folds by default.
SELECT * FROM pgml.train('petal_random', 'regression', 'pgml.iris', 'petal_length',
                         search => 'random',
                         search_params => '{"max_depth": [1, 2, 3, 4], "n_estimators": [2, 4, 6], "eta": [0.3, 1]}',
                         search_args => '{"n_iter": 4}');
SELECT jsonb_array_length(r->'params') AS candidates, r->'n_splits' AS default_folds,
       (SELECT count(DISTINCT p) FROM jsonb_array_elements(r->'params') p) AS distinct_candidates,
       (SELECT bool_and((p->>'max_depth')::int BETWEEN 1 AND 4 AND (p->>'n_estimators')::int IN (2, 4, 6))
          FROM jsonb_array_elements(r->'params') p) AS from_the_grid,
       m.hyperparams = r->'params'->((r->>'best_index')::int) AS hyperparams_are_best
  FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id,
       LATERAL (SELECT m.metrics->'search_results' AS r) x
 WHERE p.name = 'petal_random';
-- n_iter larger than the grid: every candidate once.
SELECT * FROM pgml.train('iris_small_random', 'classification', 'pgml.iris', 'target',
                         search => 'random', search_params => '{"max_depth": [1, 2]}',
                         search_args => '{"n_iter": 10, "cv": 2}');
SELECT jsonb_array_length(metrics->'search_results'->'params') AS whole_grid
  FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = 'iris_small_random';

-- A search stays cancellable: a statement timeout stops it, and nothing
-- of it is left in the catalog.
SELECT count(*) AS models_before FROM pgml.models \gset
SET statement_timeout = '300ms';
SELECT * FROM pgml.train('too_long', 'regression', 'pgml.iris', 'petal_length',
                         search => 'grid', search_params => '{"max_depth": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
                                                              "n_estimators": [200, 300, 400]}');
RESET statement_timeout;
SELECT count(*) = :models_before AS nothing_left, (SELECT count(*) FROM pgml.projects WHERE name = 'too_long') AS projects
  FROM pgml.models;

-- XGBoost's random forest: one round of n_estimators parallel trees,
-- served from a compiled forest like any model.
SELECT * FROM pgml.train('iris_rf', 'classification', 'pgml.iris', 'target', algorithm => 'xgboost_random_forest',
                         hyperparams => '{"n_estimators": 12, "max_depth": 3}');
SELECT m.algorithm, (m.metrics->>'accuracy')::float8 > 0.85 AS accurate,
       pgml.predict('iris_rf', ARRAY[6.7, 3.0, 5.2, 2.3]) AS virginica
  FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = 'iris_rf';
SELECT w.engine FROM pgml.worker_models() w JOIN pgml.deployed_models d ON d.id = w.model_id
 WHERE d.name = 'iris_rf' AND w.database = (SELECT oid FROM pg_database WHERE datname = current_database());
-- PostgresML's runtimes are accepted (XGBoost's C library trains here).
SELECT deployed IS NOT NULL AS trained FROM pgml.train('iris_rust', 'classification', 'pgml.iris', 'target',
                                                        hyperparams => '{"n_estimators": 2}', runtime => 'rust');

-- Snapshots: materialize_snapshot copies the rows; a later training that
-- reuses the snapshot reads the copy, whatever became of the relation.
CREATE TABLE shrinking AS SELECT * FROM pgml.iris;
SELECT * FROM pgml.train('snap', 'classification', 'shrinking', 'target',
                         hyperparams => '{"n_estimators": 2}', materialize_snapshot => true);
SELECT s.id AS snap_id, s.materialized, s.relation_name
  FROM pgml.snapshots s JOIN pgml.models m ON m.snapshot_id = s.id JOIN pgml.projects p ON p.id = m.project_id
 WHERE p.name = 'snap' \gset
SELECT :'materialized' AS materialized, :'relation_name' AS relation_name,
       (SELECT count(*) FROM pg_tables WHERE schemaname = 'pgml' AND tablename = 'snapshot_' || :snap_id) AS copies;
DELETE FROM shrinking;
SELECT * FROM pgml.train('snap', hyperparams => '{"n_estimators": 3}', automatic_deploy => false);
SELECT count(*) AS models_of_snapshot FROM pgml.models WHERE snapshot_id = :snap_id;
-- Without materialize, the relation itself is read again: now empty.
SELECT * FROM pgml.train('nosnap', 'classification', 'shrinking', 'target');
-- pgml.snapshot takes a materialized snapshot on its own.
SELECT relation LIKE 'pgml.snapshot_%' AS copy_named, y_column_name FROM pgml.snapshot('pgml.iris', 'target');
SELECT s.materialized, s.test_sampling, s.y_column_name
  FROM pgml.snapshots s ORDER BY s.id DESC LIMIT 1;

-- trained_models: every model, newest first, deployed as deployed_models says.
SELECT (SELECT count(*) FROM pgml.trained_models) = (SELECT count(*) FROM pgml.models) AS every_model,
       (SELECT array_agg(id ORDER BY id) FROM pgml.trained_models WHERE deployed)
         = (SELECT array_agg(id ORDER BY id) FROM pgml.deployed_models) AS deployed_agrees,
       (SELECT id FROM pgml.trained_models LIMIT 1) = (SELECT max(id) FROM pgml.models) AS newest_first;
SELECT name, algorithm, test_sampling, deployed FROM pgml.trained_models
 WHERE name IN ('iris_rf', 'iris_last', 'iris_grid') ORDER BY name;

-- Bad input: each a clear error with its SQLSTATE (try() is setup's),
-- nothing left behind.
SELECT count(*) AS models_before, (SELECT count(*) FROM pgml.snapshots) AS snapshots_before FROM pgml.models \gset
SELECT try(format($$SELECT pgml.train('bad', 'classification', 'pgml.iris', 'target', %s)$$, a)) AS error
  FROM unnest(ARRAY[
    $$search => 'bayes', search_params => '{"max_depth": [1]}'$$,
    $$search => 'grid', search_params => '[1, 2]'$$,
    $$search => 'grid', search_params => '{"max_depth": 3}'$$,
    $$search => 'grid', search_params => '{"max_depth": [[1, 2]]}'$$,
    $$search => 'grid', search_params => '{}'$$,
    $$search => 'grid', search_params => '{"max_depth": []}'$$,
    $$search => 'grid', search_params => '{"max_depth": [1, 2]}', search_args => '{"cv": 1}'$$,
    $$search => 'grid', search_params => '{"max_depth": [1, 2]}', search_args => '{"cv": "five"}'$$,
    $$search => 'grid', search_params => '{"max_depth": [1, 2]}', search_args => '{"cv": 2.5}'$$,
    $$search => 'random', search_params => '{"max_depth": [1, 2]}', search_args => '{"n_iter": 0}'$$,
    $$search => 'random', search_params => '{"max_depth": [1, 2]}', search_args => '{"n_iter": -3}'$$,
    $$search => 'grid', search_params => '{"max_depth": [1, 2]}', search_args => '{"folds": 3}'$$,
    $$search => 'grid', search_params => '{"max_depth": [1, 2]}', search_args => '[]'$$,
    $$search_params => '{"max_depth": [1, 2]}'$$,
    $$search_args => '{"cv": 3}'$$,
    $$hyperparams => '{"max_depth": 2}', search => 'grid', search_params => '{"max_depth": [1, 2]}'$$,
    $$search => 'grid', search_params => '{"max_depth": [1, 2], "max_dpth": [3]}'$$,
    $$search => 'grid', search_params => '{"n_estimators": [0, 2]}'$$,
    $$search => 'grid', search_params => '{"a": [1,2,3,4,5,6,7,8,9,10], "b": [1,2,3,4,5,6,7,8,9,10], "c": [1,2,3,4,5,6,7,8,9,10], "d": [1,2,3,4,5,6,7,8,9,10,11]}'$$,
    $$search => 'grid', search_params => '{"max_depth": [1, 2]}', search_args => '{"cv": 200}'$$,
    $$algorithm => 'linear'$$,
    $$algorithm => 'lightgbm'$$,
    $$runtime => 'java'$$,
    $$test_sampling => 'stratify'$$
  ]) a;
SELECT count(*) = :models_before AS no_models_left, (SELECT count(*) FROM pgml.snapshots) = :snapshots_before AS no_snapshots_left,
       (SELECT count(*) FROM pgml.projects WHERE name = 'bad') AS no_project
  FROM pgml.models;
-- cv larger than the training rows.
CREATE TABLE tiny AS (SELECT * FROM pgml.iris WHERE target = 0 LIMIT 4) UNION ALL (SELECT * FROM pgml.iris WHERE target = 1 LIMIT 4);
SELECT try($$SELECT pgml.train('bad', 'classification', 'tiny', 'target', search => 'grid',
                               search_params => '{"max_depth": [1, 2]}', search_args => '{"cv": 10}')$$) AS error;
