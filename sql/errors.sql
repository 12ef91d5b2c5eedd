-- Every bad input gets an ERROR with a SQLSTATE, and leaves the catalog as it was.
SELECT * FROM catalog_counts \gset before_

-- predict: unknown project, project without deployment, NULLs, shape.
SELECT try($$SELECT pgml.predict('nope', ARRAY[1, 2]::real[])$$);
INSERT INTO pgml.projects (name, task) VALUES ('undeployed', 'regression');
SELECT try($$SELECT pgml.predict('undeployed', ARRAY[1, 2]::real[])$$);
DELETE FROM pgml.projects WHERE name = 'undeployed';
SELECT try($$SELECT pgml.predict(NULL::text, ARRAY[1, 2]::real[])$$);
SELECT try($$SELECT pgml.predict('reg', NULL::real[])$$);
SELECT try($$SELECT pgml.predict('reg', ARRAY[1, 2, 3]::real[])$$);
SELECT try($$SELECT pgml.predict('reg', '{}'::real[])$$);
SELECT try($$SELECT pgml.predict('reg', ARRAY[1, 2, NULL, 4, 5, 6, 7]::real[])$$);
-- (two rows in one array are 14 features: predict_batch takes rows)
SELECT try($$SELECT pgml.predict('reg', ARRAY[[1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7]]::real[])$$);
SELECT try($$SELECT pgml.predict(999999, ARRAY[1, 2]::real[])$$);
SELECT try($$SELECT pgml.predict_proba('reg', ARRAY[1, 2, 3, 4, 5, 6, 7]::real[])$$);
SELECT try($$SELECT pgml.predict_proba('multi', ARRAY[1]::real[])$$);
-- Hints tell what to do.
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT pgml.predict('reg', ARRAY[1, 2, NULL, 4, 5, 6, 7]::real[]);
SELECT pgml.predict('reg', ARRAY[1]::real[]);

-- train: arguments.
SELECT try($$SELECT pgml.train(NULL, 'regression', 'reg_data', 'y')$$);
SELECT try($$SELECT pgml.train('new', NULL, 'reg_data', 'y')$$);
SELECT try($$SELECT pgml.train('new', 'regression')$$);
SELECT try($$SELECT pgml.train('new', 'regression', 'reg_data')$$);
SELECT try($$SELECT pgml.train('new', 'clustering', 'reg_data', 'y')$$);
SELECT try($$SELECT pgml.train('new', 'regression', 'reg_data', 'y', algorithm => 'linear')$$);
SELECT try($$SELECT pgml.train('new', 'regression', 'reg_data', 'y', test_size => 0)$$);
SELECT try($$SELECT pgml.train('new', 'regression', 'reg_data', 'y', test_size => -1)$$);
SELECT try($$SELECT pgml.train('new', 'regression', 'reg_data', 'y', test_sampling => 'middle')$$);
SELECT try($$SELECT pgml.train('reg', 'classification')$$);
-- train: the relation and its columns.
SELECT try($$SELECT pgml.train('new', 'regression', 'no_such_table', 'y')$$);
SELECT try($$SELECT pgml.train('new', 'regression', 'reg_data; DROP TABLE reg_data', 'y')$$);
SELECT try($$SELECT pgml.train('new', 'regression', 'reg_data', 'no_such_column')$$);
SELECT try($$SELECT pgml.train('new', 'regression', 'reg_data', 'Y')$$);
SELECT try($$SELECT pgml.train('new', 'regression', 'pg_class_oid_index', 'y')$$);
CREATE TABLE empty_data (a real, y real);
SELECT try($$SELECT pgml.train('new', 'regression', 'empty_data', 'y')$$);
CREATE TABLE tiny_data (a real, y real);
INSERT INTO tiny_data VALUES (1, 1), (2, 2), (3, 3);
SELECT try($$SELECT pgml.train('new', 'regression', 'tiny_data', 'y', test_size => 3)$$);
SELECT try($$SELECT pgml.train('new', 'regression', 'tiny_data', 'y', test_size => 0.01)$$);
CREATE TABLE text_label (a real, y text);
INSERT INTO text_label VALUES (1, 'one'), (2, 'two');
SELECT try($$SELECT pgml.train('new', 'regression', 'text_label', 'y')$$);
-- (text columns are categories since 0.5; a type that is neither a
-- number, a category nor an array of numbers cannot be a feature)
CREATE TABLE text_feature (a real, at timestamptz, y real);
SELECT try($$SELECT pgml.train('new', 'regression', 'text_feature', 'y')$$);
CREATE TABLE only_label (y real);
SELECT try($$SELECT pgml.train('new', 'regression', 'only_label', 'y')$$);
CREATE TABLE null_label (a real, y real);
INSERT INTO null_label VALUES (1, 1), (2, NULL);
SELECT try($$SELECT pgml.train('new', 'regression', 'null_label', 'y')$$);
CREATE TABLE one_class (a real, y integer);
INSERT INTO one_class SELECT g, 7 FROM generate_series(1, 50) g;
SELECT try($$SELECT pgml.train('new', 'classification', 'one_class', 'y')$$);
SELECT try($$SELECT pgml.train('new', 'classification', 'reg_data', 'y')$$);
-- train: hyperparameters (XGBoost's own message reaches the user).
SELECT try($$SELECT pgml.train('new', 'regression', 'reg_data', 'y', hyperparams => '{"max_dept": 3}')$$);
SELECT try($$SELECT pgml.train('new', 'regression', 'reg_data', 'y', hyperparams => '{"max_depth": "deep"}')$$);
SELECT try($$SELECT pgml.train('new', 'regression', 'reg_data', 'y', hyperparams => '{"eta": -1}')$$);
SELECT try($$SELECT pgml.train('new', 'regression', 'reg_data', 'y', hyperparams => '{"objective": "reg:nonsense"}')$$);
SELECT try($$SELECT pgml.train('new', 'regression', 'reg_data', 'y', hyperparams => '{"n_estimators": 0}')$$);
SELECT try($$SELECT pgml.train('new', 'regression', 'reg_data', 'y', hyperparams => '{"n_estimators": 2.5}')$$);
SELECT try($$SELECT pgml.train('new', 'regression', 'reg_data', 'y', hyperparams => '[1, 2]')$$);
SELECT try($$SELECT pgml.train('new', 'regression', 'reg_data', 'y', hyperparams => '{"max_depth": [3]}')$$);
SELECT try($$SELECT pgml.train('new', 'regression', 'reg_data', 'y', hyperparams => '{"max_depth": null}')$$);
SELECT try($$SELECT pgml.train('newc', 'classification', 'cls_multi', 'label', hyperparams => '{"objective": "multi:softmax"}')$$);

-- Training runs as the calling role: no SELECT, no training.
CREATE ROLE pgml_test_user;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA pgml TO pgml_test_user;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA pgml TO pgml_test_user;
CREATE TABLE secret_data (a real, y real);
INSERT INTO secret_data SELECT g, g FROM generate_series(1, 100) g;
SET ROLE pgml_test_user;
SELECT try($$SELECT pgml.train('new', 'regression', 'secret_data', 'y')$$);
RESET ROLE;
-- ... and with SELECT on the columns it can.
GRANT SELECT (a, y) ON secret_data TO pgml_test_user;
SET ROLE pgml_test_user;
SELECT * FROM pgml.train('granted', 'regression', 'secret_data', 'y', hyperparams => '{"n_estimators": 2}');
RESET ROLE;
DELETE FROM pgml.deployments WHERE project_id = (SELECT id FROM pgml.projects WHERE name = 'granted');
DELETE FROM pgml.models WHERE project_id = (SELECT id FROM pgml.projects WHERE name = 'granted');
DELETE FROM pgml.snapshots WHERE relation_name = 'public.secret_data';
DELETE FROM pgml.projects WHERE name = 'granted';
REVOKE ALL ON ALL TABLES IN SCHEMA pgml FROM pgml_test_user;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA pgml FROM pgml_test_user;
REVOKE ALL ON secret_data FROM pgml_test_user;
DROP ROLE pgml_test_user;

-- A failed train leaves no trace, even outside a subtransaction.
\set ON_ERROR_STOP 0
SELECT * FROM pgml.train('leftover', 'regression', 'null_label', 'y');
SELECT * FROM catalog_counts \gset after_
SELECT :before_projects = :after_projects AS projects_unchanged,
       :before_snapshots = :after_snapshots AS snapshots_unchanged,
       :before_models = :after_models AS models_unchanged,
       :before_deployments = :after_deployments AS deployments_unchanged;
