-- pgml_worker 0.5 -> 0.6. A fresh install of 0.6 runs 0.1's script and
-- each update after it.
\echo Use "ALTER EXTENSION pgml_worker UPDATE TO '0.6'" to load this file. \quit

------------------------------------------------------------------------------
-- Snapshots: stratified sampling, several label columns, materialized copies
------------------------------------------------------------------------------

-- y_column_name becomes an array, as PostgresML has it: one label column,
-- or several for pgml.train_joint. pgml.overview shows it, so it is made
-- again around the change.
DROP VIEW pgml.overview;
ALTER TABLE pgml.snapshots ALTER COLUMN y_column_name TYPE text[] USING ARRAY[y_column_name];
ALTER TABLE pgml.snapshots ADD CONSTRAINT snapshots_y_column_name_check
    CHECK (cardinality(y_column_name) > 0);
ALTER TABLE pgml.snapshots DROP CONSTRAINT snapshots_test_sampling_check;
ALTER TABLE pgml.snapshots ADD CONSTRAINT snapshots_test_sampling_check
    CHECK (test_sampling IN ('first', 'last', 'random', 'stratified'));
-- A materialized snapshot's rows were copied into pgml.snapshot_<id> when
-- it was taken; trainings that reuse it read the copy.
ALTER TABLE pgml.snapshots ADD COLUMN materialized boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN pgml.snapshots.materialized IS
    'The relation''s rows were copied into pgml.snapshot_<id> when the snapshot was taken; trainings that reuse the snapshot read the copy.';

CREATE VIEW pgml.overview AS
SELECT p.name, d.deployed_at, p.task, d.algorithm, s.relation_name, s.y_column_name,
       s.test_sampling, s.test_size
  FROM pgml.projects p
  LEFT JOIN pgml.deployed_models d ON d.name OPERATOR(pg_catalog.=) p.name
  LEFT JOIN pgml.models m ON m.id OPERATOR(pg_catalog.=) d.id
  LEFT JOIN pgml.snapshots s ON s.id OPERATOR(pg_catalog.=) m.snapshot_id;
COMMENT ON VIEW pgml.overview IS 'Projects, what they serve, and what it was trained on.';

-- PostgresML's list of every trained model, newest first, and whether it
-- is the one its project serves.
CREATE VIEW pgml.trained_models AS
SELECT m.id, p.name, p.task, m.algorithm, m.created_at, s.test_sampling, s.test_size,
       d.id IS NOT NULL AS deployed
  FROM pgml.models m
  JOIN pgml.projects p ON p.id OPERATOR(pg_catalog.=) m.project_id
  LEFT JOIN pgml.snapshots s ON s.id OPERATOR(pg_catalog.=) m.snapshot_id
  LEFT JOIN pgml.deployed_models d ON d.id OPERATOR(pg_catalog.=) m.id
 ORDER BY m.created_at DESC, m.id DESC;
COMMENT ON VIEW pgml.trained_models IS 'Every trained or imported model, newest first, and whether its project serves it.';

-- Takes a snapshot: its row, and with materialize a copy of the relation's
-- rows in pgml.snapshot_<id> (created by the caller, who then needs CREATE
-- on schema pgml; the copy is not part of the extension and stays when the
-- extension is dropped). relation_name arrives resolved and quoted.
CREATE FUNCTION pgml._take_snapshot(
    relation_name text, y_column_name text[], test_size real, test_sampling text,
    materialize boolean)
RETURNS pgml.snapshots
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    snap pgml.snapshots;
BEGIN
    IF y_column_name IS NULL OR cardinality(y_column_name) = 0 OR array_position(y_column_name, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'y_column_name must name the label column, or the label columns without NULL'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Name the label column.';
    END IF;
    IF test_sampling IS NULL OR test_sampling NOT IN ('stratified', 'random', 'last', 'first') THEN
        RAISE EXCEPTION 'unknown test_sampling "%"', test_sampling
            USING ERRCODE = 'invalid_parameter_value', HINT = 'test_sampling is stratified, random, last or first.';
    END IF;
    IF test_size IS NULL OR NOT test_size > 0 OR test_size = 'Infinity' THEN
        RAISE EXCEPTION 'test_size must be positive, not %', test_size
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Below 1 it is a fraction of the rows, from 1 on a row count.';
    END IF;
    INSERT INTO pgml.snapshots (relation_name, y_column_name, test_size, test_sampling, seed)
        VALUES (relation_name, y_column_name, test_size, test_sampling, 0)
        RETURNING * INTO snap;
    snap.seed := snap.id;
    IF materialize THEN
        EXECUTE format('CREATE TABLE pgml.%I AS SELECT * FROM %s', 'snapshot_' || snap.id, relation_name);
        snap.materialized := true;
    END IF;
    UPDATE pgml.snapshots s SET seed = snap.seed, materialized = snap.materialized WHERE s.id = snap.id;
    RETURN snap;
END;
$$;
COMMENT ON FUNCTION pgml._take_snapshot IS 'Internal: records a snapshot, and copies its rows when materialized.';

-- Where a snapshot's rows are read from.
CREATE FUNCTION pgml._snapshot_source(snap pgml.snapshots) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN snap.materialized THEN format('pgml.%I', 'snapshot_' || snap.id)
                ELSE snap.relation_name END
$$;

-- PostgresML's pgml.snapshot: takes a materialized snapshot of a relation
-- for later trainings.
CREATE FUNCTION pgml.snapshot(
    relation_name  text,
    y_column_name  text,
    test_size      real DEFAULT 0.25,
    test_sampling  text DEFAULT 'stratified',
    preprocess     jsonb DEFAULT '{}')
RETURNS TABLE(relation text, y_column_name text)
LANGUAGE sql VOLATILE
AS $$
    SELECT pgml._snapshot_source(pgml._take_snapshot(pgml._resolve_relation(relation_name),
                                                     ARRAY[y_column_name], test_size, test_sampling, true)),
           y_column_name
$$;
COMMENT ON FUNCTION pgml.snapshot IS
    'Records a snapshot of a relation and copies its rows into pgml.snapshot_<id>; returns the copy''s name. preprocess is accepted for PostgresML''s signature: preprocessing is fitted by pgml.train.';

------------------------------------------------------------------------------
-- Training: algorithms, search, stratified splits, materialized snapshots
------------------------------------------------------------------------------

DROP FUNCTION pgml.train(text, text, text, text, text, jsonb, real, text, boolean, jsonb);
DROP FUNCTION pgml._train(text, text, text, text, text, jsonb, real, text, boolean, jsonb);
DROP FUNCTION pgml._fit(text, text, text, jsonb, real, text, bigint, jsonb);

CREATE FUNCTION pgml._fit(
    relation_name text, y_column_name text[], task text, hyperparams jsonb,
    test_size real, test_sampling text, seed bigint, preprocess jsonb,
    algorithm text, search text, search_params jsonb, search_args jsonb,
    OUT model bytea, OUT metrics jsonb, OUT feature_names text[], OUT feature_types text[],
    OUT classes double precision[], OUT num_rows bigint, OUT num_train_rows bigint,
    OUT num_test_rows bigint, OUT preprocessing jsonb)
    RETURNS record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgml_fit';
COMMENT ON FUNCTION pgml._fit IS 'Internal: trains and scores one model (after a search, the best candidate); pgml.train() records it.';

-- The body of pgml.train and pgml.train_joint. It pins search_path, so the
-- relation arrives already resolved (by the caller, with the user's
-- search_path).
CREATE FUNCTION pgml._train(
    project_name         text,
    task                 text,
    relation_name        text,
    y_column_name        text[],
    algorithm            text,
    hyperparams          jsonb,
    test_size            real,
    test_sampling        text,
    automatic_deploy     boolean,
    preprocess           jsonb,
    search               text,
    search_params        jsonb,
    search_args          jsonb,
    runtime              text,
    materialize_snapshot boolean)
RETURNS SETOF pgml.train_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    proj        pgml.projects;
    snap        pgml.snapshots;
    fit         record;
    model_id    bigint;
    score_key   text;
    new_score   double precision;
    cur_model   bigint;
    cur_score   double precision;
    do_deploy   boolean := false;
    chosen      jsonb;
BEGIN
    IF project_name IS NULL THEN
        RAISE EXCEPTION 'project_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF _train.algorithm IS NULL OR _train.algorithm NOT IN ('xgboost', 'xgboost_random_forest') THEN
        RAISE EXCEPTION 'algorithm "%" is not supported', _train.algorithm
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'pgml_worker trains the algorithms XGBoost provides: xgboost and xgboost_random_forest.';
    END IF;
    -- PostgresML chooses between its Python and Rust XGBoost; here XGBoost's
    -- C library always trains.
    IF runtime IS NOT NULL AND runtime NOT IN ('python', 'rust') THEN
        RAISE EXCEPTION 'unknown runtime "%"', runtime
            USING ERRCODE = 'invalid_parameter_value', HINT = 'runtime is python or rust (both train with XGBoost''s C library here).';
    END IF;
    IF _train.task IS NOT NULL AND _train.task NOT IN ('regression', 'classification') THEN
        RAISE EXCEPTION 'unknown task "%"', _train.task
            USING ERRCODE = 'invalid_parameter_value', HINT = 'The task is regression or classification.';
    END IF;
    hyperparams := coalesce(hyperparams, '{}');
    preprocess := coalesce(preprocess, '{}');
    search_params := coalesce(search_params, '{}');
    search_args := coalesce(search_args, '{}');

    -- The project row stays locked until commit: trainings and deployments
    -- of one project take turns.
    SELECT * INTO proj FROM pgml.projects p WHERE p.name = project_name FOR UPDATE;
    IF NOT FOUND THEN
        IF _train.task IS NULL THEN
            RAISE EXCEPTION 'project "%" does not exist', project_name
                USING ERRCODE = 'undefined_object',
                      HINT = 'Pass task => ''regression'' or ''classification'' to create it.';
        END IF;
        IF relation_name IS NULL THEN
            RAISE EXCEPTION 'project "%" does not exist', project_name
                USING ERRCODE = 'undefined_object', HINT = 'Pass relation_name to create it.';
        END IF;
        INSERT INTO pgml.projects (name, task) VALUES (project_name, _train.task)
            ON CONFLICT (name) DO NOTHING;
        SELECT * INTO STRICT proj FROM pgml.projects p WHERE p.name = project_name FOR UPDATE;
    END IF;
    IF _train.task IS NOT NULL AND _train.task <> proj.task THEN
        RAISE EXCEPTION 'project "%" is a % project, not %', proj.name, proj.task, _train.task
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Leave task out to reuse the project''s task, or train a new project.';
    END IF;

    IF relation_name IS NULL THEN
        SELECT s.* INTO snap FROM pgml.models m JOIN pgml.snapshots s ON s.id = m.snapshot_id
         WHERE m.project_id = proj.id ORDER BY m.id DESC LIMIT 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'project "%" has no snapshot to reuse', proj.name
                USING ERRCODE = 'undefined_object', HINT = 'Pass relation_name and y_column_name.';
        END IF;
    ELSE
        IF y_column_name IS NULL THEN
            RAISE EXCEPTION 'y_column_name must not be NULL when relation_name is given'
                USING ERRCODE = 'null_value_not_allowed', HINT = 'Name the label column.';
        END IF;
        snap := pgml._take_snapshot(relation_name, y_column_name, test_size, test_sampling,
                                    coalesce(materialize_snapshot, false));
    END IF;

    fit := pgml._fit(pgml._snapshot_source(snap), snap.y_column_name, proj.task, hyperparams,
                     snap.test_size, snap.test_sampling, snap.seed, preprocess,
                     _train.algorithm, search, search_params, search_args);

    IF relation_name IS NOT NULL THEN
        UPDATE pgml.snapshots s
           SET columns = (SELECT jsonb_agg(jsonb_build_object('name', n, 'type', t) ORDER BY i)
                            FROM unnest(fit.feature_names, fit.feature_types) WITH ORDINALITY AS c(n, t, i)),
               analysis = jsonb_build_object('num_rows', fit.num_rows,
                                             'num_train_rows', fit.num_train_rows,
                                             'num_test_rows', fit.num_test_rows)
         WHERE s.id = snap.id;
    END IF;

    -- After a search, the model's hyperparams are those it was trained
    -- with: the fixed ones and the best candidate's.
    chosen := fit.metrics -> 'search_results' -> 'params' -> ((fit.metrics -> 'search_results' ->> 'best_index')::int);
    INSERT INTO pgml.models (project_id, snapshot_id, algorithm, hyperparams, metrics,
                             num_features, feature_names, classes, data, preprocessing)
    VALUES (proj.id, snap.id, _train.algorithm, hyperparams || coalesce(chosen, '{}'), fit.metrics,
            cardinality(fit.feature_names), fit.feature_names, fit.classes, fit.model,
            fit.preprocessing)
    RETURNING id INTO model_id;

    -- Deploy the new model unless the deployed one scores better.
    IF automatic_deploy THEN
        score_key := CASE proj.task WHEN 'regression' THEN 'r2' ELSE 'f1' END;
        new_score := (fit.metrics ->> score_key)::double precision;
        SELECT d.id, (d.metrics ->> score_key)::double precision INTO cur_model, cur_score
          FROM pgml.deployed_models d WHERE d.name = proj.name;
        do_deploy := cur_model IS NULL OR cur_score IS NULL
                     OR (new_score IS NOT NULL AND new_score >= cur_score);
        IF do_deploy THEN
            INSERT INTO pgml.deployments (project_id, model_id, strategy)
                VALUES (proj.id, model_id, 'new_score');
        END IF;
    END IF;
    UPDATE pgml.projects p SET updated_at = clock_timestamp() WHERE p.id = proj.id;

    RETURN QUERY SELECT proj.name, proj.task, _train.algorithm, do_deploy;
END;
$$;
COMMENT ON FUNCTION pgml._train IS 'Internal: the body of pgml.train() and pgml.train_joint().';

-- PostgresML's arguments; those it has that 0.5 did not (search,
-- search_params, search_args, runtime, materialize_snapshot) come after
-- 0.5's, so that calls by position keep working. test_sampling is now
-- stratified by default, as in PostgresML.
CREATE FUNCTION pgml.train(
    project_name         text,
    task                 text DEFAULT NULL,
    relation_name        text DEFAULT NULL,
    y_column_name        text DEFAULT NULL,
    algorithm            text DEFAULT 'xgboost',
    hyperparams          jsonb DEFAULT '{}',
    test_size            real DEFAULT 0.25,
    test_sampling        text DEFAULT 'stratified',
    automatic_deploy     boolean DEFAULT true,
    preprocess           jsonb DEFAULT '{}',
    search               text DEFAULT NULL,
    search_params        jsonb DEFAULT '{}',
    search_args          jsonb DEFAULT '{}',
    runtime              text DEFAULT NULL,
    materialize_snapshot boolean DEFAULT false)
RETURNS SETOF pgml.train_result
LANGUAGE sql VOLATILE
AS $$
    SELECT * FROM pgml._train(project_name, task, pgml._resolve_relation(relation_name),
                              CASE WHEN y_column_name IS NOT NULL THEN ARRAY[y_column_name] END,
                              algorithm, hyperparams, test_size,
                              test_sampling, automatic_deploy, preprocess, search,
                              search_params, search_args, runtime, materialize_snapshot)
$$;
COMMENT ON FUNCTION pgml.train IS 'Trains an XGBoost model (boosted trees or a random forest) of a project on a relation, optionally searching hyperparameters by cross-validation, and deploys it if it scores no worse.';

------------------------------------------------------------------------------
-- Joint regression: several labels, one XGBoost multi-output model
------------------------------------------------------------------------------

-- PostgresML's pgml.train_joint, with its argument order; y_column_name
-- names the label columns. Joint models are regressions (XGBoost trains
-- one tree per target each round); stratified sampling stratifies on the
-- first label.
CREATE FUNCTION pgml.train_joint(
    project_name         text,
    task                 text DEFAULT NULL,
    relation_name        text DEFAULT NULL,
    y_column_name        text[] DEFAULT NULL,
    algorithm            text DEFAULT 'xgboost',
    hyperparams          jsonb DEFAULT '{}',
    search               text DEFAULT NULL,
    search_params        jsonb DEFAULT '{}',
    search_args          jsonb DEFAULT '{}',
    test_size            real DEFAULT 0.25,
    test_sampling        text DEFAULT 'stratified',
    runtime              text DEFAULT NULL,
    automatic_deploy     boolean DEFAULT true,
    materialize_snapshot boolean DEFAULT false,
    preprocess           jsonb DEFAULT '{}')
RETURNS SETOF pgml.train_result
LANGUAGE sql VOLATILE
AS $$
    SELECT * FROM pgml._train(project_name, task, pgml._resolve_relation(relation_name),
                              y_column_name, algorithm, hyperparams, test_size, test_sampling,
                              automatic_deploy, preprocess, search, search_params, search_args,
                              runtime, materialize_snapshot)
$$;
COMMENT ON FUNCTION pgml.train_joint IS 'Trains an XGBoost multi-output regression of a project on several label columns (y_column_name text[]); pgml.predict_joint answers all of them.';

-- A joint regression's predicted values, one per label column in the
-- order trained (a plain regression: its one value).
CREATE FUNCTION pgml.predict_joint(project_name text, features real[]) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_joint';
CREATE FUNCTION pgml.predict_joint(model_id bigint, features real[]) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_joint_model';
COMMENT ON FUNCTION pgml.predict_joint(text, real[]) IS
    'The values a joint regression (pgml.train_joint) predicts for a row of features, one per label column.';
