-- Extension, fixtures and helpers shared by the regression tests.
CREATE EXTENSION pgml_worker;
\dx pgml_worker
SELECT count(*) AS objects_in_extension FROM pg_depend
 WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgml_worker') AND deptype = 'e';
-- pgml.train's progress notices come after seconds that depend on the
-- machine's speed: off for the tests that follow, so outputs compare.
SELECT current_database() AS regress_db \gset
ALTER DATABASE :"regress_db" SET pgml_worker.train_progress = 0;

-- Deterministic data: no random(), so every run trains the same models.
-- Regression: y depends on every feature type; some feature values NULL.
CREATE TABLE reg_data (
    f_real   real,
    f_int    integer,
    f_small  smallint,
    f_big    bigint,
    f_double double precision,
    f_num    numeric,
    f_bool   boolean,
    y        double precision
);
INSERT INTO reg_data
SELECT (g % 97) / 10.0,
       g % 13,
       (g % 5)::smallint,
       (g * 7919) % 1000,
       CASE WHEN g % 11 = 0 THEN NULL ELSE sin(g) END,
       (g % 31)::numeric / 3,
       g % 2 = 0,
       3 * ((g % 97) / 10.0) + 2 * (g % 13) - 5 * (g % 5) + (CASE WHEN g % 2 = 0 THEN 4 ELSE 0 END)
         + coalesce(sin(g), 0)
  FROM generate_series(1, 1200) g;

-- Binary classification with a boolean label; multi-class with labels 10/20/30.
CREATE TABLE cls_binary (a real, b real, label boolean);
INSERT INTO cls_binary
SELECT (g % 50)::real, (g % 7)::real, (g % 50) + (g % 7) * 3 > 40 FROM generate_series(1, 800) g;

CREATE TABLE cls_multi (a real, b integer, label integer);
INSERT INTO cls_multi
SELECT (g % 60)::real, g % 4, CASE WHEN g % 60 < 20 THEN 10 WHEN g % 60 < 40 THEN 20 ELSE 30 END
  FROM generate_series(1, 900) g;

-- Runs a statement and reports 'SQLSTATE: message', or 'ok'.
CREATE FUNCTION try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END;
$$;

-- Row counts of the catalog, to show a failed call changed nothing.
CREATE VIEW catalog_counts AS
SELECT (SELECT count(*) FROM pgml.projects) AS projects,
       (SELECT count(*) FROM pgml.snapshots) AS snapshots,
       (SELECT count(*) FROM pgml.models) AS models,
       (SELECT count(*) FROM pgml.deployments) AS deployments;
