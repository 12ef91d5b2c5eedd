-- pgml_worker 0.1: catalog, training, deployment and in-backend prediction.
\echo Use "CREATE EXTENSION pgml_worker" to load this file. \quit

-- Every PL/pgSQL function pins search_path; the SQL-language pgml.train
-- cannot (it resolves the relation with the caller's search_path) and
-- schema-qualifies everything it calls instead.

------------------------------------------------------------------------------
-- Catalog
------------------------------------------------------------------------------

CREATE TABLE pgml.projects (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    task        text NOT NULL CHECK (task IN ('regression', 'classification')),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
COMMENT ON TABLE pgml.projects IS 'A named prediction target; its task is fixed when it is created.';

-- What a model was trained on. The rows themselves are not copied: the
-- relation is read again when a later pgml.train() reuses the snapshot, and
-- the stored seed reproduces a random split.
CREATE TABLE pgml.snapshots (
    id             bigserial PRIMARY KEY,
    relation_name  text NOT NULL,
    y_column_name  text NOT NULL,
    test_size      real NOT NULL,
    test_sampling  text NOT NULL CHECK (test_sampling IN ('first', 'last', 'random')),
    seed           bigint NOT NULL,
    columns        jsonb,
    analysis       jsonb,
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
COMMENT ON TABLE pgml.snapshots IS 'The relation, label and split a model was trained with.';

CREATE TABLE pgml.models (
    id             bigserial PRIMARY KEY,
    project_id     bigint NOT NULL REFERENCES pgml.projects ON DELETE CASCADE,
    snapshot_id    bigint REFERENCES pgml.snapshots ON DELETE SET NULL,
    algorithm      text NOT NULL,
    hyperparams    jsonb NOT NULL DEFAULT '{}',
    status         text NOT NULL DEFAULT 'successful',
    metrics        jsonb NOT NULL DEFAULT '{}',
    num_features   integer NOT NULL CHECK (num_features > 0),
    feature_names  text[],
    classes        double precision[],
    data           bytea NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
COMMENT ON TABLE pgml.models IS 'Trained or imported boosters (data: XGBoost UBJSON) and their test metrics.';
COMMENT ON COLUMN pgml.models.classes IS 'Classification: the label value of each class index.';
-- Boosters barely compress and are read whole: skip compression.
ALTER TABLE pgml.models ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE INDEX models_project_id_idx ON pgml.models (project_id);

-- The deployed model of a project is the model of its latest deployment.
CREATE TABLE pgml.deployments (
    id          bigserial PRIMARY KEY,
    project_id  bigint NOT NULL REFERENCES pgml.projects ON DELETE CASCADE,
    model_id    bigint NOT NULL REFERENCES pgml.models ON DELETE CASCADE,
    strategy    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
COMMENT ON TABLE pgml.deployments IS 'Deployment history; the latest row per project is in effect.';
CREATE INDEX deployments_project_id_idx ON pgml.deployments (project_id, id DESC);
CREATE INDEX deployments_model_id_idx ON pgml.deployments (model_id);

-- pg_dump keeps the catalog's rows.
SELECT pg_catalog.pg_extension_config_dump('pgml.projects', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.projects_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.snapshots', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.snapshots_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.models', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.models_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.deployments', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.deployments_id_seq', '');

-- Backends cache deployed boosters. Any change to deployments or models
-- queues an invalidation that reaches every backend (and hot standbys)
-- when, and only if, the change commits.
CREATE FUNCTION pgml._catalog_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'pgml_catalog_changed';
CREATE TRIGGER deployments_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pgml.deployments
    FOR EACH STATEMENT EXECUTE FUNCTION pgml._catalog_changed();
CREATE TRIGGER models_changed
    AFTER UPDATE OR DELETE OR TRUNCATE ON pgml.models
    FOR EACH STATEMENT EXECUTE FUNCTION pgml._catalog_changed();
CREATE TRIGGER projects_changed
    AFTER UPDATE OR DELETE OR TRUNCATE ON pgml.projects
    FOR EACH STATEMENT EXECUTE FUNCTION pgml._catalog_changed();

CREATE VIEW pgml.deployed_models AS
SELECT m.id, p.name, p.task, m.algorithm, d.created_at AS deployed_at, m.metrics
  FROM pgml.projects p
  JOIN LATERAL (SELECT d.model_id, d.created_at FROM pgml.deployments d
                 WHERE d.project_id OPERATOR(pg_catalog.=) p.id
                 ORDER BY d.id DESC LIMIT 1) d ON true
  JOIN pgml.models m ON m.id OPERATOR(pg_catalog.=) d.model_id;
COMMENT ON VIEW pgml.deployed_models IS 'The model each project serves now.';

CREATE VIEW pgml.overview AS
SELECT p.name, d.deployed_at, p.task, d.algorithm, s.relation_name, s.y_column_name,
       s.test_sampling, s.test_size
  FROM pgml.projects p
  LEFT JOIN pgml.deployed_models d ON d.name OPERATOR(pg_catalog.=) p.name
  LEFT JOIN pgml.models m ON m.id OPERATOR(pg_catalog.=) d.id
  LEFT JOIN pgml.snapshots s ON s.id OPERATOR(pg_catalog.=) m.snapshot_id;
COMMENT ON VIEW pgml.overview IS 'Projects, what they serve, and what it was trained on.';

------------------------------------------------------------------------------
-- Internal C functions
------------------------------------------------------------------------------

CREATE FUNCTION pgml._fit(
    relation_name text, y_column_name text, task text, hyperparams jsonb,
    test_size real, test_sampling text, seed bigint,
    OUT model bytea, OUT metrics jsonb, OUT feature_names text[], OUT feature_types text[],
    OUT classes double precision[], OUT num_rows bigint, OUT num_train_rows bigint,
    OUT num_test_rows bigint)
    RETURNS record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgml_fit';
COMMENT ON FUNCTION pgml._fit IS 'Internal: trains and scores one model; pgml.train() records it.';

CREATE FUNCTION pgml._model_info(model bytea, task text, OUT num_features integer, OUT num_classes integer)
    RETURNS record LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'pgml_model_info';
COMMENT ON FUNCTION pgml._model_info IS 'Internal: validates model bytes for pgml.import_model().';

------------------------------------------------------------------------------
-- Training
------------------------------------------------------------------------------

-- PostgresML 2.0 declares RETURNS TABLE(project, task, algorithm, deployed),
-- but Postgres does not allow output columns named like the task and
-- algorithm arguments; a composite type gives callers the same columns.
CREATE TYPE pgml.train_result AS (project text, task text, algorithm text, deployed boolean);

CREATE FUNCTION pgml._resolve_relation(relation_name text) RETURNS text
    LANGUAGE c STRICT STABLE AS 'MODULE_PATHNAME', 'pgml_resolve_relation';
COMMENT ON FUNCTION pgml._resolve_relation IS 'Internal: the schema-qualified name of a relation, resolved with the caller''s search_path.';

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
    automatic_deploy boolean)
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
                     snap.test_size, snap.test_sampling, snap.seed);

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
                             num_features, feature_names, classes, data)
    VALUES (proj.id, snap.id, 'xgboost', hyperparams, fit.metrics,
            cardinality(fit.feature_names), fit.feature_names, fit.classes, fit.model)
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
    automatic_deploy boolean DEFAULT true)
RETURNS SETOF pgml.train_result
LANGUAGE sql VOLATILE
AS $$
    SELECT * FROM pgml._train(project_name, task, pgml._resolve_relation(relation_name),
                              y_column_name, algorithm, hyperparams, test_size,
                              test_sampling, automatic_deploy)
$$;
COMMENT ON FUNCTION pgml.train IS 'Trains an XGBoost model of a project on a relation and deploys it if it scores no worse.';

------------------------------------------------------------------------------
-- Deployment
------------------------------------------------------------------------------

CREATE TYPE pgml.deploy_result AS (project text, strategy text, algorithm text);

CREATE FUNCTION pgml.deploy(project_name text, strategy text, algorithm text DEFAULT NULL)
RETURNS SETOF pgml.deploy_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    proj       pgml.projects;
    chosen     bigint;
    cur_model  bigint;
    score_key  text;
BEGIN
    IF project_name IS NULL OR strategy IS NULL THEN
        RAISE EXCEPTION 'project_name and strategy must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO proj FROM pgml.projects p WHERE p.name = project_name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'project "%" does not exist', project_name USING ERRCODE = 'undefined_object';
    END IF;
    SELECT d.id INTO cur_model FROM pgml.deployed_models d WHERE d.name = proj.name;
    score_key := CASE proj.task WHEN 'regression' THEN 'r2' ELSE 'f1' END;

    CASE strategy
    WHEN 'best_score' THEN
        -- Compared as numbers; models without the score (imports) come last.
        SELECT m.id INTO chosen FROM pgml.models m
         WHERE m.project_id = proj.id AND (deploy.algorithm IS NULL OR m.algorithm = deploy.algorithm)
         ORDER BY (m.metrics ->> score_key)::double precision DESC NULLS LAST, m.id DESC LIMIT 1;
    WHEN 'most_recent' THEN
        SELECT m.id INTO chosen FROM pgml.models m
         WHERE m.project_id = proj.id AND (deploy.algorithm IS NULL OR m.algorithm = deploy.algorithm)
         ORDER BY m.id DESC LIMIT 1;
    WHEN 'rollback' THEN
        -- The most recently deployed model other than the current one.
        SELECT d.model_id INTO chosen FROM pgml.deployments d JOIN pgml.models m ON m.id = d.model_id
         WHERE d.project_id = proj.id AND d.model_id IS DISTINCT FROM cur_model
           AND (deploy.algorithm IS NULL OR m.algorithm = deploy.algorithm)
         ORDER BY d.id DESC LIMIT 1;
        IF chosen IS NULL THEN
            RAISE EXCEPTION 'project "%" has no earlier deployment to roll back to', proj.name
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
    ELSE
        RAISE EXCEPTION 'unknown deployment strategy "%"', strategy
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The strategies are best_score, most_recent and rollback.';
    END CASE;
    IF chosen IS NULL THEN
        RAISE EXCEPTION 'project "%" has no % model to deploy', proj.name, coalesce(deploy.algorithm, '')
            USING ERRCODE = 'undefined_object';
    END IF;

    INSERT INTO pgml.deployments (project_id, model_id, strategy) VALUES (proj.id, chosen, strategy);
    RETURN QUERY SELECT proj.name, strategy, m.algorithm FROM pgml.models m WHERE m.id = chosen;
END;
$$;
COMMENT ON FUNCTION pgml.deploy(text, text, text) IS 'Deploys a model of a project chosen by strategy: best_score, most_recent or rollback.';

CREATE FUNCTION pgml.deploy(model_id bigint)
RETURNS SETOF pgml.deploy_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    m  pgml.models;
    p  pgml.projects;
BEGIN
    IF deploy.model_id IS NULL THEN
        RAISE EXCEPTION 'model_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO m FROM pgml.models mm WHERE mm.id = deploy.model_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model % does not exist', deploy.model_id USING ERRCODE = 'undefined_object';
    END IF;
    SELECT * INTO p FROM pgml.projects pp WHERE pp.id = m.project_id FOR UPDATE;
    INSERT INTO pgml.deployments (project_id, model_id, strategy) VALUES (p.id, m.id, 'specific');
    RETURN QUERY SELECT p.name, 'specific'::text, m.algorithm;
END;
$$;
COMMENT ON FUNCTION pgml.deploy(bigint) IS 'Deploys one model to its project.';

------------------------------------------------------------------------------
-- Prediction (in the calling backend)
------------------------------------------------------------------------------

CREATE FUNCTION pgml.predict(project_name text, features real[]) RETURNS real
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict';
CREATE FUNCTION pgml.predict(project_name text, features double precision[]) RETURNS real
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict';
CREATE FUNCTION pgml.predict(project_name text, features integer[]) RETURNS real
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict';
CREATE FUNCTION pgml.predict(model_id bigint, features real[]) RETURNS real
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_model';
CREATE FUNCTION pgml.predict(model_id bigint, features double precision[]) RETURNS real
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_model';
CREATE FUNCTION pgml.predict(model_id bigint, features integer[]) RETURNS real
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_model';
CREATE FUNCTION pgml.predict_proba(project_name text, features real[]) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_proba';
CREATE FUNCTION pgml.predict_proba(project_name text, features double precision[]) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_proba';
CREATE FUNCTION pgml.predict_proba(project_name text, features integer[]) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_proba';
CREATE FUNCTION pgml.predict_proba(model_id bigint, features real[]) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_proba_model';
CREATE FUNCTION pgml.predict_proba(model_id bigint, features double precision[]) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_proba_model';
CREATE FUNCTION pgml.predict_proba(model_id bigint, features integer[]) RETURNS real[]
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgml_predict_proba_model';
COMMENT ON FUNCTION pgml.predict(text, real[]) IS 'Predicts with the deployed model of a project: a value (regression) or a class.';
COMMENT ON FUNCTION pgml.predict_proba(text, real[]) IS 'One probability per class from the deployed classifier of a project.';

------------------------------------------------------------------------------
-- The serving worker
------------------------------------------------------------------------------

CREATE FUNCTION pgml.worker_stats(
    OUT running boolean, OUT pid integer, OUT started_at timestamptz, OUT threads integer,
    OUT queue_slots integer, OUT requests bigint, OUT batches bigint, OUT mean_batch double precision,
    OUT max_batch bigint, OUT queue_depth integer, OUT p50_us double precision,
    OUT p99_us double precision, OUT models_loaded bigint, OUT model_bytes bigint,
    OUT free_slots integer)
    RETURNS record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgml_worker_stats';
COMMENT ON FUNCTION pgml.worker_stats IS 'The serving worker: process, requests, batches, queue depth, enqueue-to-answer latency (p50/p99, microseconds), models held.';

CREATE FUNCTION pgml.worker_models(
    OUT database oid, OUT model_id bigint, OUT bytes bigint, OUT requests bigint,
    OUT loaded_at timestamptz)
    RETURNS SETOF record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgml_worker_models';
COMMENT ON FUNCTION pgml.worker_models IS 'The models the serving worker holds, once per cluster, with their size and request counts.';

CREATE VIEW pgml.worker_status AS SELECT * FROM pgml.worker_stats();
COMMENT ON VIEW pgml.worker_status IS 'pgml.worker_stats() as a view.';

------------------------------------------------------------------------------
-- Models in and out
------------------------------------------------------------------------------

CREATE FUNCTION pgml.export_model(model_id bigint) RETURNS bytea
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    bytes bytea;
BEGIN
    SELECT m.data INTO bytes FROM pgml.models m WHERE m.id = export_model.model_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model % does not exist', export_model.model_id USING ERRCODE = 'undefined_object';
    END IF;
    RETURN bytes;
END;
$$;
COMMENT ON FUNCTION pgml.export_model IS 'The model''s booster as XGBoost UBJSON (xgboost.Booster().load_model(bytearray(...))).';

CREATE FUNCTION pgml.import_model(project_name text, task text, model bytea) RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    info      record;
    proj      pgml.projects;
    new_id    bigint;
BEGIN
    IF project_name IS NULL OR task IS NULL OR model IS NULL THEN
        RAISE EXCEPTION 'project_name, task and model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF task NOT IN ('regression', 'classification') THEN
        RAISE EXCEPTION 'unknown task "%"', task
            USING ERRCODE = 'invalid_parameter_value', HINT = 'The task is regression or classification.';
    END IF;
    info := pgml._model_info(model, task);

    SELECT * INTO proj FROM pgml.projects p WHERE p.name = project_name FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO pgml.projects (name, task) VALUES (project_name, task) ON CONFLICT (name) DO NOTHING;
        SELECT * INTO STRICT proj FROM pgml.projects p WHERE p.name = project_name FOR UPDATE;
    END IF;
    IF proj.task <> task THEN
        RAISE EXCEPTION 'project "%" is a % project, not %', proj.name, proj.task, task
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    INSERT INTO pgml.models (project_id, algorithm, status, num_features, classes, data)
    VALUES (proj.id, 'xgboost', 'imported', info.num_features,
            CASE WHEN info.num_classes > 0
                 THEN ARRAY(SELECT generate_series(0, info.num_classes - 1)::double precision) END,
            model)
    RETURNING id INTO new_id;
    IF NOT EXISTS (SELECT FROM pgml.deployments d WHERE d.project_id = proj.id) THEN
        INSERT INTO pgml.deployments (project_id, model_id, strategy) VALUES (proj.id, new_id, 'import');
    END IF;
    RETURN new_id;
END;
$$;
COMMENT ON FUNCTION pgml.import_model IS 'Stores an XGBoost model trained elsewhere; deploys it if the project has no deployment.';

-- Who may do what: see the README's "Privileges". By default only the
-- extension's owner (and superusers) can read or change the catalog;
-- grant SELECT on it to roles that predict, and INSERT/UPDATE to roles that
-- train, import or deploy.
GRANT USAGE ON SCHEMA pgml TO PUBLIC;
