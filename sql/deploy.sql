-- Deployment strategies, automatic deployment, and transactional caching.
CREATE TEMP TABLE probe AS SELECT ARRAY[2.5, 7, 3, 10, 0.1, 2, 0]::real[] AS x;

-- A much weaker model is recorded but not deployed automatically.
SELECT d.id AS strong_id FROM pgml.deployed_models d WHERE d.name = 'reg' \gset
SELECT * FROM pgml.train('reg', hyperparams => '{"n_estimators": 1, "max_depth": 1}');
SELECT max(id) AS weak_id FROM pgml.models \gset
SELECT d.id = :strong_id AS strong_still_deployed FROM pgml.deployed_models d WHERE d.name = 'reg';

-- most_recent deploys the weak one; predict follows at once.
SELECT * FROM pgml.deploy('reg', 'most_recent');
SELECT d.id = :weak_id AS weak_deployed FROM pgml.deployed_models d WHERE d.name = 'reg';
SELECT pgml.predict('reg', x) = pgml.predict(:weak_id, x) AS predict_uses_weak FROM probe;

-- rollback returns to the model deployed before.
SELECT * FROM pgml.deploy('reg', 'rollback');
SELECT d.id = :strong_id AS strong_back FROM pgml.deployed_models d WHERE d.name = 'reg';
SELECT pgml.predict('reg', x) = pgml.predict(:strong_id, x) AS predict_uses_strong FROM probe;

-- best_score compares r2 as a number and picks the best model.
SELECT * FROM pgml.deploy('reg', 'best_score', 'xgboost');
SELECT d.id = (SELECT id FROM pgml.models m WHERE m.project_id = (SELECT id FROM pgml.projects WHERE name = 'reg')
                ORDER BY (metrics->>'r2')::float8 DESC LIMIT 1) AS best_deployed
  FROM pgml.deployed_models d WHERE d.name = 'reg';

-- A deployment is seen by the next statement of the transaction, and a
-- rolled-back deployment is never used.
SELECT pgml.predict('reg', x) AS before_deploy FROM probe \gset
BEGIN;
SELECT * FROM pgml.deploy(:weak_id);
SELECT pgml.predict('reg', x) = pgml.predict(:weak_id, x) AS sees_own_deploy FROM probe;
ROLLBACK;
SELECT pgml.predict('reg', x) = :'before_deploy'::real AS rollback_not_used FROM probe;
SELECT d.id <> :weak_id AS catalog_unchanged FROM pgml.deployed_models d WHERE d.name = 'reg';

-- Deploying by id, then a committed deployment in an open transaction.
BEGIN;
SELECT pgml.predict('reg', x) = :'before_deploy'::real AS old_model FROM probe;
SELECT * FROM pgml.deploy(:weak_id);
COMMIT;
SELECT pgml.predict('reg', x) = pgml.predict(:weak_id, x) AS committed_deploy_used FROM probe;

-- Strategy history: deployments record how each model was chosen.
SELECT strategy, count(*) FROM pgml.deployments d JOIN pgml.projects p ON p.id = d.project_id
 WHERE p.name = 'reg' GROUP BY strategy ORDER BY strategy;

-- Deploy errors.
SELECT try($$SELECT pgml.deploy('reg', 'worst_score')$$);
SELECT try($$SELECT pgml.deploy('nope', 'best_score')$$);
SELECT try($$SELECT pgml.deploy('reg', 'best_score', 'linear')$$);
SELECT try($$SELECT pgml.deploy(999999)$$);
SELECT try($$SELECT pgml.deploy('exact', 'rollback')$$);

-- A transaction that changed deployments cannot be prepared for two-phase
-- commit (its commit would not mark the shared table of deployed models
-- stale); it is rolled back, and nothing changed.
SELECT count(*) AS deployments_before FROM pgml.deployments \gset
BEGIN;
SELECT project FROM pgml.deploy('reg', 'most_recent');
PREPARE TRANSACTION 'pgml_deploy';
SELECT count(*) = :deployments_before AS nothing_changed FROM pgml.deployments;
