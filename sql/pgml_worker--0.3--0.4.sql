-- pgml_worker 0.3 -> 0.4. A fresh install of 0.4 runs 0.1's script and
-- each update after it.
\echo Use "ALTER EXTENSION pgml_worker UPDATE TO '0.4'" to load this file. \quit

-- Backends score models in place from compiled forests in shared memory:
-- worker_stats() counts those requests and shows the forests' memory. The
-- view over it is re-created with it (its columns changed).
DROP VIEW pgml.worker_status;
DROP FUNCTION pgml.worker_stats();
CREATE FUNCTION pgml.worker_stats(
    OUT running boolean, OUT pid integer, OUT started_at timestamptz, OUT threads integer,
    OUT queue_slots integer, OUT requests bigint, OUT batches bigint, OUT mean_batch double precision,
    OUT max_batch bigint, OUT queue_depth integer, OUT p50_us double precision,
    OUT p99_us double precision, OUT models_loaded bigint, OUT model_bytes bigint,
    OUT free_slots integer, OUT in_place bigint, OUT forests integer, OUT forest_bytes bigint,
    OUT forest_memory bigint)
    RETURNS record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgml_worker_stats';
COMMENT ON FUNCTION pgml.worker_stats IS 'The serving worker: process, requests queued to its pool, batches, queue depth, enqueue-to-answer latency (p50/p99, microseconds), models held; requests backends scored in place, and the compiled forests in shared memory (count, bytes, and the arena''s size, pgml_worker.forest_memory).';

CREATE VIEW pgml.worker_status AS SELECT * FROM pgml.worker_stats();
COMMENT ON VIEW pgml.worker_status IS 'pgml.worker_stats() as a view.';
