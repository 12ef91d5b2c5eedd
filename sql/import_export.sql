-- pgml.export_model and pgml.import_model.
SELECT id AS reg_id FROM pgml.deployed_models WHERE name = 'reg' \gset
SELECT id AS multi_id FROM pgml.deployed_models WHERE name = 'multi' \gset

-- Exported bytes are XGBoost UBJSON ('{' then a typed key).
SELECT substring(pgml.export_model(:reg_id) FROM 1 FOR 1) = '\x7b'::bytea AS ubjson_object;

-- Importing them into a new project deploys them; predictions are equal.
SELECT pgml.import_model('reg_copy', 'regression', pgml.export_model(:reg_id)) AS copy_id \gset
SELECT name, algorithm FROM pgml.deployed_models WHERE name = 'reg_copy';
SELECT status, num_features, metrics FROM pgml.models WHERE id = :copy_id;
SELECT bool_and(pgml.predict('reg_copy', x) = pgml.predict(:reg_id, x)) AS same_predictions
  FROM (SELECT ARRAY[f_real, f_int, f_small, f_big, coalesce(f_double, 'NaN'), f_num, f_bool::int]::real[] AS x
          FROM reg_data LIMIT 200) r;

-- A classifier keeps its classes as 0..k-1 and its probabilities.
SELECT pgml.import_model('multi_copy', 'classification', pgml.export_model(:multi_id)) AS mcopy_id \gset
SELECT classes FROM pgml.models WHERE id = :mcopy_id;
SELECT pgml.predict_proba('multi_copy', ARRAY[5, 1]::real[]) = pgml.predict_proba('multi', ARRAY[5, 1]::real[]) AS same_proba;

-- A second import into a project with a deployment is stored, not deployed.
SELECT pgml.import_model('reg_copy', 'regression', pgml.export_model(:reg_id)) AS second_id \gset
SELECT id = :copy_id AS first_still_deployed FROM pgml.deployed_models WHERE name = 'reg_copy';

-- Bad model bytes: random, truncated, bit-flipped, empty; wrong task.
SELECT try($$SELECT pgml.import_model('bad', 'regression', '\xdeadbeef'::bytea)$$) LIKE '22P03: not a valid XGBoost model%' AS random_bytes;
SELECT try(format('SELECT pgml.import_model(%L, %L, %L::bytea)', 'bad', 'regression',
                  substring(pgml.export_model(:reg_id) FROM 1 FOR 100))) LIKE '22P03: %' AS truncated;
SELECT try($$SELECT pgml.import_model('bad', 'regression', ''::bytea)$$);
SELECT try($$SELECT pgml.import_model('bad', 'regression', convert_to('{"learner": {}}', 'UTF8'))$$);
-- Every truncation of a real model is refused before XGBoost parses it
-- (XGBoost 1.7 alone over-reads or allocates without bound on these).
SELECT left(try(format('SELECT pgml._model_info(%L::bytea, %L)', substring(m FROM 1 FOR n), 'regression')), 5) AS sqlstate,
       count(*) AS prefixes
  FROM (SELECT pgml.export_model(:reg_id) AS m) e, generate_series(1, length(m) - 1, 3) n
 GROUP BY 1;
-- Bit flips: each is refused or loads as some model; none crashes.
SELECT count(*) FILTER (WHERE r = 'ok' OR r LIKE '22%') = count(*) AS every_flip_handled,
       count(*) > 100 AS enough_flips FROM (
  SELECT try(format('SELECT pgml._model_info(%L::bytea, %L)',
                    set_bit(m, n, 1 - get_bit(m, n)), 'regression')) AS r
    FROM (SELECT pgml.export_model(:reg_id) AS m) e, generate_series(0, length(m) * 8 - 1, 101) n) f;
SELECT try(format('SELECT pgml.import_model(%L, %L, %L::bytea)', 'bad', 'classification', pgml.export_model(:reg_id)));
SELECT try(format('SELECT pgml.import_model(%L, %L, %L::bytea)', 'bad', 'regression', pgml.export_model(:multi_id)));
SELECT try(format('SELECT pgml.import_model(%L, %L, %L::bytea)', 'reg', 'classification', pgml.export_model(:multi_id)));
SELECT try($$SELECT pgml.import_model('bad', 'clustering', '\x00'::bytea)$$);
SELECT try($$SELECT pgml.import_model(NULL, 'regression', '\x00'::bytea)$$);
SELECT try($$SELECT pgml.export_model(999999)$$);
SELECT count(*) AS bad_projects FROM pgml.projects WHERE name = 'bad';
