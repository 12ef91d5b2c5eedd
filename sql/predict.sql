-- pgml.predict and pgml.predict_proba with every overload.
-- real[], double precision[] and integer[] features give the same answer.
SELECT pgml.predict('reg', ARRAY[1.5, 3, 2, 100, 0.5, 4, 1]::real[])
     = pgml.predict('reg', ARRAY[1.5, 3, 2, 100, 0.5, 4, 1]::float8[]) AS real_eq_double;
SELECT pgml.predict('reg', ARRAY[1, 3, 2, 100, 0, 4, 1])
     = pgml.predict('reg', ARRAY[1, 3, 2, 100, 0, 4, 1]::real[]) AS int_eq_real;
-- By model id: the deployed model's id gives the project's answer.
SELECT pgml.predict(d.id, ARRAY[1.5, 3, 2, 100, 0.5, 4, 1]::real[])
         = pgml.predict('reg', ARRAY[1.5, 3, 2, 100, 0.5, 4, 1]::real[]) AS id_real,
       pgml.predict(d.id, ARRAY[1.5, 3, 2, 100, 0.5, 4, 1]::float8[])
         = pgml.predict('reg', ARRAY[1.5, 3, 2, 100, 0.5, 4, 1]::real[]) AS id_double,
       pgml.predict(d.id, ARRAY[1, 3, 2, 100, 0, 4, 1])
         = pgml.predict('reg', ARRAY[1, 3, 2, 100, 0, 4, 1]) AS id_int
  FROM pgml.deployed_models d WHERE d.name = 'reg';

-- Predictions track the label on training rows (the model learned y).
SELECT corr(pgml.predict('reg', ARRAY[f_real, f_int, f_small, f_big, coalesce(f_double, 'NaN'), f_num, f_bool::int]::real[]), y) > 0.95
       AS predictions_track_label
  FROM reg_data;
-- NaN is a missing value, as NULL was in training.
SELECT pgml.predict('reg', ARRAY[1.5, 3, 2, 100, 'NaN', 4, 1]::real[]) IS NOT NULL AS nan_is_missing;

-- Classification predict returns the label value; predict_proba one
-- probability per class, summing to 1, whose argmax is the predicted class.
SELECT pgml.predict('bin', ARRAY[49, 6]::real[]) AS bin_high, pgml.predict('bin', ARRAY[1, 1]::real[]) AS bin_low;
SELECT array_length(p, 1) AS classes, abs(p[1] + p[2] - 1) < 1e-6 AS sums_to_one, p[2] > p[1] AS class_1_likely
  FROM (SELECT pgml.predict_proba('bin', ARRAY[49, 6]::real[]) AS p) s;
SELECT a, pgml.predict('multi', ARRAY[a, 1]::real[]) AS class,
       array_length(pgml.predict_proba('multi', ARRAY[a, 1]::real[]), 1) AS n,
       abs((SELECT sum(x) FROM unnest(pgml.predict_proba('multi', ARRAY[a, 1]::real[])) x) - 1) < 1e-5 AS sums_to_one
  FROM unnest(ARRAY[5, 25, 55]::real[]) a;
SELECT pgml.predict_proba('multi', ARRAY[5, 1]::float8[]) = pgml.predict_proba('multi', ARRAY[5, 1]::real[]) AS double_eq_real,
       pgml.predict_proba('multi', ARRAY[5, 1]) = pgml.predict_proba('multi', ARRAY[5, 1]::real[]) AS int_eq_real,
       pgml.predict_proba(d.id, ARRAY[5, 1]::real[]) = pgml.predict_proba('multi', ARRAY[5, 1]::real[]) AS by_id
  FROM pgml.deployed_models d WHERE d.name = 'multi';
-- Accuracy over the table through predict matches the label mostly.
SELECT avg((pgml.predict('multi', ARRAY[a, b]::real[]) = label)::int) > 0.95 AS accurate FROM cls_multi;

-- The path setting: worker by default; bad values are refused.
SHOW pgml_worker.predict_path;
SELECT try($$SET pgml_worker.predict_path = 'nowhere'$$);

-- predict_batch: one answer per row, in order, equal to predict's, whether
-- the rows come as rows x features or as one flat array; classifiers answer
-- with label values.
WITH rows AS (
    SELECT row_number() OVER () AS i,
           ARRAY[f_real, f_int, f_small, f_big, coalesce(f_double, 'NaN'), f_num, f_bool::int]::real[] AS x
      FROM reg_data),
batch AS (
    SELECT row_number() OVER () AS i, v
      FROM pgml.predict_batch('reg', (SELECT array_agg(x ORDER BY i) FROM rows)) v)
SELECT count(*) AS rows, bool_and(b.v = pgml.predict('reg', r.x)) AS batch_eq_predict
  FROM rows r JOIN batch b USING (i);
SELECT array_agg(v) AS flat_rows
  FROM pgml.predict_batch('bin', ARRAY[49, 6, 1, 1, 49, 6]::real[]) v;
SELECT array_agg(v) = ARRAY[pgml.predict('multi', ARRAY[5, 1]::real[]), pgml.predict('multi', ARRAY[55, 1]::real[])]
       AS multi_by_id
  FROM pgml.deployed_models d, pgml.predict_batch(d.id, ARRAY[[5, 1], [55, 1]]::real[]) v
 WHERE d.name = 'multi';
SELECT count(*) AS empty_input FROM pgml.predict_batch('reg', '{}'::real[]);
SELECT try($$SELECT pgml.predict_batch('reg', ARRAY[[1, 2], [3, 4]]::real[])$$);
SELECT try($$SELECT pgml.predict_batch('reg', ARRAY[1, 2, 3]::real[])$$);
SELECT try($$SELECT pgml.predict_batch('reg', ARRAY[[[1]]]::real[])$$);
SELECT try($$SELECT pgml.predict_batch('reg', ARRAY[1, NULL, 3, 4, 5, 6, 7]::real[])$$);
SELECT try($$SELECT pgml.predict_batch('reg', NULL)$$);
SELECT try($$SELECT pgml.predict_batch('no such project', ARRAY[1]::real[])$$);

-- A features array stored out of line (a table's column) is read block by
-- block as it is scored when it is stored uncompressed (STORAGE EXTERNAL),
-- and detoasted whole when compressed; either way the answers are
-- predict's row by row, in a target list (PostgresML's form, no answer
-- stored) and in FROM, over many blocks of 8192 rows, and on the backend
-- path over XGBoost's chunks of 65536 rows.
CREATE TEMP TABLE batch_expect AS
SELECT i, x, pgml.predict('reg', x) AS v
  FROM (SELECT i, ARRAY[(i % 97) / 7.0, i % 13, i % 5, (i * 37) % 1000,
                        CASE WHEN i % 11 = 0 THEN 'NaN' ELSE (i % 3)::real END, i % 7, i % 2]::real[] AS x
          FROM generate_series(1, 70000) i) s;
CREATE TEMP TABLE stored_rows (k text, a real[]);
ALTER TABLE stored_rows ALTER COLUMN a SET STORAGE EXTERNAL;
INSERT INTO stored_rows SELECT 'external', array_agg(x ORDER BY i) FROM batch_expect;
ALTER TABLE stored_rows ALTER COLUMN a SET STORAGE EXTENDED;
INSERT INTO stored_rows SELECT 'compressed', array_agg(x ORDER BY i) FROM batch_expect;
SELECT k, pg_column_compression(a) IS NOT NULL AS compressed, pg_column_size(a) > 8000 AS out_of_line
  FROM stored_rows ORDER BY k;
-- (DEBUG1 says when a stored array is read block by block: here once.)
SET jit = off;
SET client_min_messages = debug1;
SELECT s.k, count(*) AS rows, bool_and(b.v = e.v) AS from_eq_predict
  FROM stored_rows s, pgml.predict_batch('reg', s.a) WITH ORDINALITY b(v, i) JOIN batch_expect e USING (i)
 GROUP BY s.k ORDER BY s.k;
RESET client_min_messages;
RESET jit;
SELECT k, count(*) AS rows, sum(v::float8) = (SELECT sum(v::float8) FROM batch_expect) AS target_list_eq_predict
  FROM (SELECT k, pgml.predict_batch('reg', a) AS v FROM stored_rows) t
 GROUP BY k ORDER BY k;
SELECT array_agg(v) = (SELECT array_agg(v ORDER BY i) FROM batch_expect WHERE i <= 3) AS limit_stops_early
  FROM (SELECT pgml.predict_batch('reg', a) AS v FROM stored_rows WHERE k = 'external' LIMIT 3) t;
SET pgml_worker.predict_path = 'backend';
SELECT s.k, count(*) AS rows, bool_and(b.v = e.v) AS backend_eq_predict
  FROM stored_rows s, pgml.predict_batch('reg', s.a) WITH ORDINALITY b(v, i) JOIN batch_expect e USING (i)
 GROUP BY s.k ORDER BY s.k;
RESET pgml_worker.predict_path;
-- The checks of an array in memory hold for a stored one.
ALTER TABLE stored_rows ALTER COLUMN a SET STORAGE EXTERNAL;
INSERT INTO stored_rows
SELECT 'null', array_agg(CASE WHEN i = 5000 THEN NULL ELSE i END::real) FROM generate_series(1, 7 * 2000) i
UNION ALL
SELECT 'three-d', array_agg(ARRAY[ARRAY[i, i], ARRAY[i, i]]::real[]) FROM generate_series(1, 3000) i
UNION ALL
SELECT 'narrow', array_agg(ARRAY[i, i, i]::real[]) FROM generate_series(1, 3000) i;
SELECT k, try(format('SELECT count(*) FROM stored_rows, pgml.predict_batch(%L, a) WHERE k = %L', 'reg', k))
  FROM stored_rows WHERE k IN ('null', 'three-d', 'narrow') ORDER BY k;
DROP TABLE stored_rows, batch_expect;

-- Every array type PostgresML takes resolves to one function (no "not
-- unique"), and gives the answer of the same values as real[]: smallint,
-- bigint, numeric (NaN is missing there too) and boolean (true = 1).
WITH v(small, big, num, flags) AS (
    VALUES (ARRAY[2, 3, 2, 100, 1, 4, 1]::smallint[], ARRAY[2, 3, 2, 100, 1, 4, 1]::bigint[],
            ARRAY[1.5, 3, 2, 100, 'NaN', 4.25, 1]::numeric[], ARRAY[true, false, true, true, false, true, true]))
SELECT pgml.predict('reg', small) = pgml.predict('reg', small::real[]) AS smallint_eq_real,
       pgml.predict('reg', big) = pgml.predict('reg', big::real[]) AS bigint_eq_real,
       pgml.predict('reg', num) = pgml.predict('reg', ARRAY[1.5, 3, 2, 100, 'NaN', 4.25, 1]::real[]) AS numeric_eq_real,
       pgml.predict('reg', flags) = pgml.predict('reg', ARRAY[1, 0, 1, 1, 0, 1, 1]::real[]) AS bool_eq_real,
       pgml.predict(d.id, small) = pgml.predict('reg', small::real[]) AS by_id_smallint,
       pgml.predict(d.id, num) = pgml.predict('reg', ARRAY[1.5, 3, 2, 100, 'NaN', 4.25, 1]::real[]) AS by_id_numeric
  FROM v, pgml.deployed_models d WHERE d.name = 'reg';
-- A literal ARRAY of mixed integers and decimals is numeric[]: it resolves.
SELECT pgml.predict('reg', ARRAY[1.5, 3, 2, 100, 0.5, 4, 1])
     = pgml.predict('reg', ARRAY[1.5, 3, 2, 100, 0.5, 4, 1]::real[]) AS numeric_literal;
SELECT pgml.predict_proba('multi', ARRAY[5, 1]::smallint[]) = pgml.predict_proba('multi', ARRAY[5, 1]::real[]) AS proba_smallint,
       pgml.predict_proba('multi', ARRAY[5, 1]::bigint[]) = pgml.predict_proba('multi', ARRAY[5, 1]::real[]) AS proba_bigint,
       pgml.predict_proba('multi', ARRAY[5.0, 1]::numeric[]) = pgml.predict_proba('multi', ARRAY[5, 1]::real[]) AS proba_numeric,
       pgml.predict_proba('bin', ARRAY[true, false]) = pgml.predict_proba('bin', ARRAY[1, 0]::real[]) AS proba_bool;
-- Arrays of more dimensions are read in storage order (an image
-- smallint[][] is its pixels, row by row), the same as the flat array.
SELECT pgml.predict('multi', ARRAY[[5], [1]]::smallint[]) = pgml.predict('multi', ARRAY[5, 1]::real[]) AS two_d_eq_flat,
       pgml.predict('reg', ARRAY[[1.5, 3, 2, 100, 0.5, 4, 1]]::real[])
         = pgml.predict('reg', ARRAY[1.5, 3, 2, 100, 0.5, 4, 1]::real[]) AS one_by_seven;
SELECT try($$SELECT pgml.predict('reg', ARRAY[[1, 2], [3, 4]]::smallint[])$$) AS two_d_wrong_width;
SELECT try($$SELECT pgml.predict('reg', ARRAY[1, NULL, 3, 4, 5, 6, 7]::numeric[])$$) AS numeric_null;
SELECT try($$SELECT pgml.predict('reg', '{}'::bigint[])$$) AS empty;
