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

------------------------------------------------------------------------------
-- Categorical, array and preprocessed columns; predictions from a row
------------------------------------------------------------------------------

-- How a model turns a row's columns into its features: each feature
-- column's kind (numeric, categorical, array), width, the preprocess
-- options it was trained with and what they fitted on the training rows.
-- NULL for models trained before 0.5 (their columns are all numbers) and
-- for imported models.
ALTER TABLE pgml.models ADD COLUMN preprocessing jsonb;
COMMENT ON COLUMN pgml.models.preprocessing IS
    'The feature columns and their preprocessing fitted on the training rows (categories, statistics, imputed values, scaling), applied again to rows predicted with pgml.predict(project, row).';

-- train gains preprocess => jsonb (PostgresML's argument); _fit and
-- _train with it. pgml.train is dropped first: its body calls _train.
DROP FUNCTION pgml.train(text, text, text, text, text, jsonb, real, text, boolean);
DROP FUNCTION pgml._train(text, text, text, text, text, jsonb, real, text, boolean);
DROP FUNCTION pgml._fit(text, text, text, jsonb, real, text, bigint);

CREATE FUNCTION pgml._fit(
    relation_name text, y_column_name text, task text, hyperparams jsonb,
    test_size real, test_sampling text, seed bigint, preprocess jsonb,
    OUT model bytea, OUT metrics jsonb, OUT feature_names text[], OUT feature_types text[],
    OUT classes double precision[], OUT num_rows bigint, OUT num_train_rows bigint,
    OUT num_test_rows bigint, OUT preprocessing jsonb)
    RETURNS record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgml_fit';
COMMENT ON FUNCTION pgml._fit IS 'Internal: trains and scores one model; pgml.train() records it.';

-- The body of pgml.train. It pins search_path, so the relation arrives
-- already resolved (by pgml.train, with the caller's search_path).
CREATE FUNCTION pgml._train(
    project_name     text,
    task             text,
    relation_name    text,
    y_column_name    text,
    algorithm        text,
    hyperparams      jsonb,
    test_size        real,
    test_sampling    text,
    automatic_deploy boolean,
    preprocess       jsonb)
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
BEGIN
    IF project_name IS NULL THEN
        RAISE EXCEPTION 'project_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF _train.algorithm IS DISTINCT FROM 'xgboost' THEN
        RAISE EXCEPTION 'algorithm "%" is not supported', _train.algorithm
            USING ERRCODE = 'feature_not_supported', HINT = 'pgml_worker trains xgboost models.';
    END IF;
    IF _train.task IS NOT NULL AND _train.task NOT IN ('regression', 'classification') THEN
        RAISE EXCEPTION 'unknown task "%"', _train.task
            USING ERRCODE = 'invalid_parameter_value', HINT = 'The task is regression or classification.';
    END IF;
    IF test_sampling IS NULL OR test_sampling NOT IN ('first', 'last', 'random') THEN
        RAISE EXCEPTION 'unknown test_sampling "%"', test_sampling
            USING ERRCODE = 'invalid_parameter_value', HINT = 'test_sampling is first, last or random.';
    END IF;
    IF test_size IS NULL OR NOT test_size > 0 OR test_size = 'Infinity' THEN
        RAISE EXCEPTION 'test_size must be positive, not %', test_size
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Below 1 it is a fraction of the rows, from 1 on a row count.';
    END IF;
    IF hyperparams IS NULL THEN
        hyperparams := '{}';
    END IF;
    IF preprocess IS NULL THEN
        preprocess := '{}';
    END IF;

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
        INSERT INTO pgml.snapshots (relation_name, y_column_name, test_size, test_sampling, seed)
            VALUES (relation_name, y_column_name, test_size, test_sampling, 0)
            RETURNING * INTO snap;
        UPDATE pgml.snapshots s SET seed = snap.id WHERE s.id = snap.id;
        snap.seed := snap.id;
    END IF;

    fit := pgml._fit(snap.relation_name, snap.y_column_name, proj.task, hyperparams,
                     snap.test_size, snap.test_sampling, snap.seed, preprocess);

    IF relation_name IS NOT NULL THEN
        UPDATE pgml.snapshots s
           SET columns = (SELECT jsonb_agg(jsonb_build_object('name', n, 'type', t) ORDER BY i)
                            FROM unnest(fit.feature_names, fit.feature_types) WITH ORDINALITY AS c(n, t, i)),
               analysis = jsonb_build_object('num_rows', fit.num_rows,
                                             'num_train_rows', fit.num_train_rows,
                                             'num_test_rows', fit.num_test_rows)
         WHERE s.id = snap.id;
    END IF;

    INSERT INTO pgml.models (project_id, snapshot_id, algorithm, hyperparams, metrics,
                             num_features, feature_names, classes, data, preprocessing)
    VALUES (proj.id, snap.id, 'xgboost', hyperparams, fit.metrics,
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

    RETURN QUERY SELECT proj.name, proj.task, 'xgboost'::text, do_deploy;
END;
$$;
COMMENT ON FUNCTION pgml._train IS 'Internal: the body of pgml.train().';

CREATE FUNCTION pgml.train(
    project_name     text,
    task             text DEFAULT NULL,
    relation_name    text DEFAULT NULL,
    y_column_name    text DEFAULT NULL,
    algorithm        text DEFAULT 'xgboost',
    hyperparams      jsonb DEFAULT '{}',
    test_size        real DEFAULT 0.25,
    test_sampling    text DEFAULT 'last',
    automatic_deploy boolean DEFAULT true,
    preprocess       jsonb DEFAULT '{}')
RETURNS SETOF pgml.train_result
LANGUAGE sql VOLATILE
AS $$
    SELECT * FROM pgml._train(project_name, task, pgml._resolve_relation(relation_name),
                              y_column_name, algorithm, hyperparams, test_size,
                              test_sampling, automatic_deploy, preprocess)
$$;
COMMENT ON FUNCTION pgml.train IS 'Trains an XGBoost model of a project on a relation (text, varchar, char and enum columns as categories, arrays flattened, preprocess options per column) and deploys it if it scores no worse.';

-- Predictions from a row: a row of the training relation, or a row
-- constructor of its feature columns in order.
CREATE FUNCTION pgml.predict(project_name text, "row" anyelement) RETURNS real
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_row';
CREATE FUNCTION pgml.predict(model_id bigint, "row" anyelement) RETURNS real
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_row_model';
CREATE FUNCTION pgml.predict_proba(project_name text, "row" anyelement) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_proba_row';
CREATE FUNCTION pgml.predict_proba(model_id bigint, "row" anyelement) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_proba_row_model';
COMMENT ON FUNCTION pgml.predict(text, anyelement) IS
    'Predicts with the deployed model of a project from a row: its columns found by name (a table row) or position (a row constructor), preprocessed as at training.';

-- pgml.predict and predict_proba for every array type PostgresML takes:
-- with only real[], double precision[] and integer[], a smallint[],
-- bigint[] or numeric[] argument could be cast to more than one of them
-- ("function is not unique"), and boolean[] to none.
CREATE FUNCTION pgml.predict(project_name text, features smallint[]) RETURNS real
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict';
CREATE FUNCTION pgml.predict(project_name text, features bigint[]) RETURNS real
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict';
CREATE FUNCTION pgml.predict(project_name text, features numeric[]) RETURNS real
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict';
CREATE FUNCTION pgml.predict(project_name text, features boolean[]) RETURNS real
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict';
CREATE FUNCTION pgml.predict(model_id bigint, features smallint[]) RETURNS real
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_model';
CREATE FUNCTION pgml.predict(model_id bigint, features bigint[]) RETURNS real
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_model';
CREATE FUNCTION pgml.predict(model_id bigint, features numeric[]) RETURNS real
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_model';
CREATE FUNCTION pgml.predict(model_id bigint, features boolean[]) RETURNS real
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_model';
CREATE FUNCTION pgml.predict_proba(project_name text, features smallint[]) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_proba';
CREATE FUNCTION pgml.predict_proba(project_name text, features bigint[]) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_proba';
CREATE FUNCTION pgml.predict_proba(project_name text, features numeric[]) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_proba';
CREATE FUNCTION pgml.predict_proba(project_name text, features boolean[]) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_proba';
CREATE FUNCTION pgml.predict_proba(model_id bigint, features smallint[]) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_proba_model';
CREATE FUNCTION pgml.predict_proba(model_id bigint, features bigint[]) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_proba_model';
CREATE FUNCTION pgml.predict_proba(model_id bigint, features numeric[]) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_proba_model';
CREATE FUNCTION pgml.predict_proba(model_id bigint, features boolean[]) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_proba_model';

-- The features a row becomes for a model (what pgml.predict(project, row)
-- scores): to see what preprocessing does to a row.
CREATE FUNCTION pgml.encode_row(project_name text, "row" anyelement) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_encode_row';
CREATE FUNCTION pgml.encode_row(model_id bigint, "row" anyelement) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_encode_row_model';
COMMENT ON FUNCTION pgml.encode_row(text, anyelement) IS
    'The features a row becomes for the deployed model of a project, preprocessed as at training: what pgml.predict(project, row) scores.';
