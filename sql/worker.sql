-- The serving worker: the same answers as the backend path, its statistics,
-- its settings.
SELECT running, threads > 0 AS has_threads, queue_slots >= 20 AS slots_for_every_backend
  FROM pgml.worker_stats();

CREATE TEMP TABLE rows_reg AS
SELECT ARRAY[f_real, f_int, f_small, f_big, coalesce(f_double, 'NaN'), f_num, f_bool::int]::real[] AS x
  FROM reg_data;
CREATE TEMP TABLE rows_multi AS SELECT ARRAY[a, b]::real[] AS x FROM cls_multi;

-- Every row gets the same answer from every path: the backend's XGBoost,
-- the default (in place from the shared forest, or queued), forced in
-- place, forced queued, and auto.
SET pgml_worker.predict_path = 'backend';
CREATE TEMP TABLE by_backend AS
SELECT x, pgml.predict('reg', x) AS reg, NULL::real[] AS proba FROM rows_reg
UNION ALL SELECT x, pgml.predict('multi', x), pgml.predict_proba('multi', x) FROM rows_multi;
SET pgml_worker.predict_path = 'worker';
SELECT requests + in_place AS requests_before FROM pgml.worker_stats() \gset
CREATE TEMP TABLE by_worker AS
SELECT x, pgml.predict('reg', x) AS reg, NULL::real[] AS proba FROM rows_reg
UNION ALL SELECT x, pgml.predict('multi', x), pgml.predict_proba('multi', x) FROM rows_multi;
SELECT requests + in_place - :requests_before >= (SELECT count(*) FROM rows_reg) + 2 * (SELECT count(*) FROM rows_multi)
       AS every_request_counted
  FROM pgml.worker_stats();
SET pgml_worker.predict_path = 'inplace';
SELECT in_place AS in_place_before FROM pgml.worker_stats() \gset
CREATE TEMP TABLE by_inplace AS
SELECT x, pgml.predict('reg', x) AS reg, NULL::real[] AS proba FROM rows_reg
UNION ALL SELECT x, pgml.predict('multi', x), pgml.predict_proba('multi', x) FROM rows_multi;
SELECT in_place - :in_place_before = (SELECT count(*) FROM rows_reg) + 2 * (SELECT count(*) FROM rows_multi)
       AS all_in_place
  FROM pgml.worker_stats();
SET pgml_worker.predict_path = 'queued';
SELECT in_place AS in_place_before, requests AS queued_before FROM pgml.worker_stats() \gset
CREATE TEMP TABLE by_queued AS
SELECT x, pgml.predict('reg', x) AS reg, NULL::real[] AS proba FROM rows_reg
UNION ALL SELECT x, pgml.predict('multi', x), pgml.predict_proba('multi', x) FROM rows_multi;
SELECT in_place = :in_place_before AS none_in_place,
       requests - :queued_before >= (SELECT count(*) FROM rows_reg) + 2 * (SELECT count(*) FROM rows_multi)
       AS all_queued
  FROM pgml.worker_stats();
SET pgml_worker.predict_path = 'auto';
CREATE TEMP TABLE by_auto AS
SELECT x, pgml.predict('reg', x) AS reg, NULL::real[] AS proba FROM rows_reg
UNION ALL SELECT x, pgml.predict('multi', x), pgml.predict_proba('multi', x) FROM rows_multi;
RESET pgml_worker.predict_path;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE b.reg = w.reg AND b.proba IS NOT DISTINCT FROM w.proba) AS worker_equal,
       count(*) FILTER (WHERE b.reg = i.reg AND b.proba IS NOT DISTINCT FROM i.proba) AS inplace_equal,
       count(*) FILTER (WHERE b.reg = q.reg AND b.proba IS NOT DISTINCT FROM q.proba) AS queued_equal,
       count(*) FILTER (WHERE b.reg = a.reg AND b.proba IS NOT DISTINCT FROM a.proba) AS auto_equal
  FROM (SELECT row_number() OVER () AS i, * FROM by_backend) b
  JOIN (SELECT row_number() OVER () AS i, * FROM by_worker) w USING (i)
  JOIN (SELECT row_number() OVER () AS i, * FROM by_inplace) i USING (i)
  JOIN (SELECT row_number() OVER () AS i, * FROM by_queued) q USING (i)
  JOIN (SELECT row_number() OVER () AS i, * FROM by_auto) a USING (i);
-- The shared forests: one per model the worker holds on a forest, within
-- pgml_worker.forest_memory.
SELECT forests >= 2 AS has_forests, forest_bytes > 0 AND forest_bytes <= forest_memory AS within_arena
  FROM pgml.worker_stats();

-- By model id and with double precision features, through the worker.
SELECT pgml.predict(d.id, x::float8[]) = pgml.predict('reg', x) AS by_id_equal
  FROM pgml.deployed_models d, (SELECT x FROM rows_reg LIMIT 1) r WHERE d.name = 'reg';

-- The worker holds each deployed model once, keyed by database and id.
SELECT m.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AS this_database,
       m.bytes = length(pgml.export_model(m.model_id)) AS bytes_are_model_size,
       m.requests > 0 AS used
  FROM pgml.worker_models() m JOIN pgml.deployed_models d ON d.id = m.model_id
 WHERE d.name IN ('reg', 'multi') ORDER BY d.name;
SELECT count(*) = count(DISTINCT (database, model_id)) AS one_copy_each FROM pgml.worker_models();
-- Tree models are scored by their compiled forests (checked against
-- XGBoost when loaded); a model a forest does not cover says why.
SELECT d.name, m.engine, m.engine_note
  FROM pgml.worker_models() m JOIN pgml.deployed_models d ON d.id = m.model_id
 WHERE d.name IN ('reg', 'multi') ORDER BY d.name;
SELECT mean_batch >= 1 AS batches_counted, max_batch >= 1 AS max_batch_seen,
       p50_us > 0 AND p99_us >= p50_us AS latency_recorded, queue_depth >= 0 AS depth_shown,
       models_loaded >= 2 AS models_shown, model_bytes > 0 AS bytes_shown
  FROM pgml.worker_status;

-- Errors on the worker path are the backend path's errors.
SELECT try($$SELECT pgml.predict('reg', ARRAY[1, 2, 3]::real[])$$);
SELECT try($$SELECT pgml.predict_proba('reg', ARRAY[1, 2, 3, 4, 5, 6, 7]::real[])$$);

-- Settings: defaults, and who may change what.
SELECT name, setting, unit, context FROM pg_settings WHERE name LIKE 'pgml_worker.%' ORDER BY name;
SELECT try($$SET pgml_worker.max_batch = 8$$);
SELECT try($$SET pgml_worker.threads = 8$$);
SELECT try($$SET pgml_worker.predict_path = 'somewhere'$$);

-- A model nobody asks for is freed after model_idle_timeout, and handed over
-- again when someone asks.
SELECT pgml.predict('reg', x) AS reg_answer FROM rows_reg LIMIT 1 \gset
ALTER SYSTEM SET pgml_worker.model_idle_timeout = '1s';
SELECT pg_reload_conf();
DO $$
BEGIN
    FOR i IN 1..300 LOOP
        EXIT WHEN NOT EXISTS (SELECT FROM pgml.worker_models())
              AND (SELECT forests = 0 AND forest_bytes = 0 FROM pgml.worker_stats());
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT count(*) AS models_after_idle FROM pgml.worker_models();
SELECT forests AS forests_after_idle, forest_bytes AS forest_bytes_after_idle FROM pgml.worker_stats();
ALTER SYSTEM RESET pgml_worker.model_idle_timeout;
SELECT pg_reload_conf();
SELECT pgml.predict('reg', x) = :'reg_answer'::real AS handed_over_again FROM rows_reg LIMIT 1;
