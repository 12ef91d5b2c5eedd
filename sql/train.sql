-- pgml.train: regression, binary and multi-class classification, splits,
-- snapshot reuse, metrics, views.
SELECT * FROM pgml.train('reg', 'regression', 'reg_data', 'y',
                         hyperparams => '{"n_estimators": 30, "max_depth": 4}');

-- Metrics are JSON numbers; the model fits the deterministic data well.
SELECT key, jsonb_typeof(value) FROM pgml.models m, jsonb_each(m.metrics)
 WHERE m.id = (SELECT max(id) FROM pgml.models) ORDER BY key;
SELECT (metrics->>'r2')::float8 > 0.9 AS r2_high,
       (metrics->>'mean_squared_error')::float8 >= 0 AS mse_ok,
       num_features, feature_names, classes IS NULL AS no_classes,
       status, algorithm, hyperparams
  FROM pgml.models WHERE id = (SELECT max(id) FROM pgml.models);

-- The snapshot records the resolved relation, the columns and the split.
SELECT relation_name, y_column_name, test_size, test_sampling, columns, analysis
  FROM pgml.snapshots ORDER BY id DESC LIMIT 1;

-- A NULL relation reuses the project's last snapshot: no new snapshot row.
SELECT count(*) AS snapshots_before FROM pgml.snapshots;
SELECT * FROM pgml.train('reg', hyperparams => '{"n_estimators": 10}');
SELECT count(*) AS snapshots_after FROM pgml.snapshots;
SELECT m.snapshot_id = s.id AS same_snapshot
  FROM pgml.models m, (SELECT max(id) AS id FROM pgml.snapshots) s
 WHERE m.id = (SELECT max(id) FROM pgml.models);

-- test_size from 1 on is a row count; first and random sampling.
SELECT * FROM pgml.train('reg_split', 'regression', 'reg_data', 'y', test_size => 100,
                         test_sampling => 'first', hyperparams => '{"n_estimators": 5}');
SELECT analysis FROM pgml.snapshots ORDER BY id DESC LIMIT 1;
SELECT * FROM pgml.train('reg_split', relation_name => 'public.reg_data', y_column_name => 'y',
                         test_size => 0.1, test_sampling => 'random',
                         hyperparams => '{"n_estimators": 5}');
SELECT analysis FROM pgml.snapshots ORDER BY id DESC LIMIT 1;
-- The same random split again gives the same test score (seeded split).
SELECT * FROM pgml.train('reg_split', hyperparams => '{"n_estimators": 5}');
SELECT count(DISTINCT metrics->>'r2') AS distinct_scores_of_same_split
  FROM (SELECT metrics FROM pgml.models ORDER BY id DESC LIMIT 2) m;

-- Binary classification: accuracy, f1, precision, recall, roc_auc, log_loss.
SELECT * FROM pgml.train('bin', 'classification', 'cls_binary', 'label',
                         hyperparams => '{"n_estimators": 20}', test_sampling => 'random');
SELECT array_agg(key ORDER BY key) AS metric_keys,
       bool_and(jsonb_typeof(value) = 'number') AS all_numbers
  FROM pgml.models m, jsonb_each(m.metrics) WHERE m.id = (SELECT max(id) FROM pgml.models);
SELECT (metrics->>'accuracy')::float8 > 0.9 AS accurate, (metrics->>'roc_auc')::float8 > 0.9 AS auc_high,
       classes
  FROM pgml.models WHERE id = (SELECT max(id) FROM pgml.models);

-- Multi-class: labels 10, 20, 30 become classes 0, 1, 2.
SELECT * FROM pgml.train('multi', 'classification', 'cls_multi', 'label',
                         hyperparams => '{"n_estimators": 10, "eta": 0.5}', test_sampling => 'random');
SELECT array_agg(key ORDER BY key) AS metric_keys FROM pgml.models m, jsonb_each(m.metrics)
 WHERE m.id = (SELECT max(id) FROM pgml.models);
SELECT (metrics->>'f1')::float8 > 0.9 AS f1_high, classes
  FROM pgml.models WHERE id = (SELECT max(id) FROM pgml.models);

-- A later call may repeat the task (reg above omitted it).
SELECT * FROM pgml.train('multi', 'classification', hyperparams => '{"n_estimators": 3}');

-- Non-hist tree methods train from a dense copy of the rows.
SELECT * FROM pgml.train('exact', 'regression', 'reg_data', 'y',
                         hyperparams => '{"n_estimators": 5, "tree_method": "exact"}');

-- A view trains like a table (privileges and row security apply as in SELECT).
CREATE VIEW reg_view AS SELECT f_real, f_int, y FROM reg_data WHERE f_int < 10;
SELECT * FROM pgml.train('from_view', 'regression', 'reg_view', 'y', hyperparams => '{"n_estimators": 5}');
SELECT analysis->'num_rows' AS rows_from_view FROM pgml.snapshots ORDER BY id DESC LIMIT 1;

SELECT name, task, algorithm, relation_name, y_column_name, test_sampling, test_size
  FROM pgml.overview ORDER BY name;
SELECT name, task, algorithm FROM pgml.deployed_models ORDER BY name;
