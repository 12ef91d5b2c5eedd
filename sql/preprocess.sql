-- Categorical (text, varchar, char, enum) and array feature columns,
-- preprocess => jsonb (encode, impute, scale, fitted on the training rows
-- and applied again to predicted rows), and predictions from a row (a
-- table row, by column name, or a row constructor, by position).
-- test/python/compare_preprocess.py checks the features against
-- scikit-learn's encoders, imputers and scalers fitted on the same rows.
CREATE TYPE clarity AS ENUM ('I1', 'SI', 'VS', 'IF');
CREATE TABLE gems (
    carat    real,
    cut      text,
    color    varchar(10),
    grade    char(3),
    clarity  clarity,
    depth    double precision,
    dims     integer[],
    price    double precision
);
-- Deterministic rows: the price depends on every column; cut is NULL in
-- every 9th row, depth in every 7th.
INSERT INTO gems
SELECT (g % 40) / 10.0,
       CASE WHEN g % 9 = 0 THEN NULL ELSE (ARRAY['Ideal', 'Premium', 'Good', 'Fair'])[g % 4 + 1] END,
       (ARRAY['D', 'E', 'F', 'G', 'H'])[g % 5 + 1],
       (ARRAY['a', 'b'])[g % 2 + 1],
       (ARRAY['I1', 'SI', 'VS', 'IF'])[g % 4 + 1]::clarity,
       CASE WHEN g % 7 = 0 THEN NULL ELSE 58 + (g % 6) END,
       ARRAY[g % 3, (g * 7) % 10],
       1000 * ((g % 40) / 10.0) + 300 * (g % 4) + 40 * (g % 5) + 25 * (g % 2) + 10 * (g % 6) + 5 * (g % 3)
  FROM generate_series(1, 1600) g;

-- Text, varchar, char and enum columns are categories; an array column is
-- one feature per element. With no preprocess, categories are numbered
-- as the training rows first show them, NULL stays missing. The gems
-- trainings here split with test_sampling last: the training rows are
-- the first 1200 (training_gems), whose statistics the checks compute.
SELECT * FROM pgml.train('gems', 'regression', 'gems', 'price', hyperparams => '{"n_estimators": 30}', test_sampling => 'last');
SELECT num_features, feature_names FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = 'gems';
SELECT c->>'name' AS name, c->>'kind' AS kind, c->>'type' AS type, c->'width' AS width, c->'categories' AS categories
  FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id,
       jsonb_array_elements(m.preprocessing) c
 WHERE p.name = 'gems';

-- A table row is matched by column names (the label among them is left
-- out), a row constructor by position; both give the features the array
-- form takes, and the same answers.
SELECT pgml.encode_row('gems', g) AS features FROM gems g LIMIT 3;
SELECT bool_and(pgml.predict('gems', g) = pgml.predict('gems', pgml.encode_row('gems', g))) AS row_eq_array,
       bool_and(pgml.predict('gems', g) = pgml.predict('gems', (carat, cut, color, grade, clarity, depth, dims))) AS by_position,
       corr(pgml.predict('gems', g), price) > 0.95 AS tracks_price
  FROM gems g;
-- A category training never saw, and NULL, are missing values; char(n)
-- padding is not part of the value; an integer where the model had text
-- is its text.
SELECT pgml.encode_row('gems', (1.5::real, 'Unheard of'::text, 'D'::varchar, 'a  '::char(3), 'VS'::clarity, NULL::float8, ARRAY[1, 2])) AS unseen_and_null;
SELECT pgml.encode_row('gems', (1.5::real, 'Ideal'::text, 'D'::text, 'a'::text, 'VS'::text, 60::float8, ARRAY[1, 2]::smallint[]))
     = pgml.encode_row('gems', (1.5::real, 'Ideal'::text, 'D'::varchar, 'a'::char(3), 'VS'::clarity, 60::float8, ARRAY[1, 2])) AS text_matches_types;
-- By model id too, and predict_proba for classifiers (below).
SELECT pgml.predict(d.id, g) = pgml.predict('gems', g) AS by_model_id
  FROM pgml.deployed_models d, gems g WHERE d.name = 'gems' LIMIT 1;

-- Every preprocess option. Training rows: the first 1200 (test_sampling
-- last, test_size 0.25).
SELECT * FROM pgml.train('gems_pp', 'regression', 'gems', 'price', hyperparams => '{"n_estimators": 30}', test_sampling => 'last',
    preprocess => '{"carat": {"scale": "standard"},
                    "cut": {"encode": "one_hot", "impute": "mode"},
                    "color": {"encode": "target"},
                    "grade": {"encode": {"ordinal": ["b", "a"]}},
                    "clarity": {"encode": {"ordinal": ["I1", "SI", "VS", "IF"]}, "scale": "min_max"},
                    "depth": {"impute": "median", "scale": "robust"}}');
SELECT feature_names FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = 'gems_pp';
-- The statistics kept are those of the training rows, as SQL computes them.
CREATE TEMP VIEW training_gems AS SELECT * FROM gems ORDER BY ctid LIMIT 1200;
SELECT abs((c->'statistics'->>'mean')::float8 - (SELECT avg(carat::float8) FROM training_gems)) < 1e-9 AS carat_mean,
       abs((c->'statistics'->>'std_dev')::float8 - (SELECT stddev_pop(carat::float8) FROM training_gems)) < 1e-9 AS carat_std,
       (c->>'shift')::float8 = (c->'statistics'->>'mean')::float8 AS standard_shift
  FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id, jsonb_array_elements(m.preprocessing) c
 WHERE p.name = 'gems_pp' AND c->>'name' = 'carat';
WITH med AS (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY depth) AS m FROM training_gems),
     iqr AS (SELECT percentile_cont(0.75) WITHIN GROUP (ORDER BY coalesce(depth, m))
                  - percentile_cont(0.25) WITHIN GROUP (ORDER BY coalesce(depth, m)) AS r FROM training_gems, med)
SELECT (c->>'fill')::float8 = m AS depth_median, (c->>'scale_by')::float8 = r AS depth_iqr,
       (c->'statistics'->>'missing')::int = (SELECT count(*) FILTER (WHERE depth IS NULL) FROM training_gems) AS depth_missing
  FROM med, iqr, pgml.models m JOIN pgml.projects p ON p.id = m.project_id, jsonb_array_elements(m.preprocessing) c
 WHERE p.name = 'gems_pp' AND c->>'name' = 'depth';
-- Target encoding: each color is the mean price of its training rows.
SELECT bool_and(abs(v::float8 - (SELECT avg(price) FROM training_gems t WHERE t.color = k)) < 1e-6) AS target_means
  FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id, jsonb_array_elements(m.preprocessing) c,
       jsonb_array_elements_text(c->'categories') WITH ORDINALITY k(k, i)
       JOIN jsonb_array_elements_text(c->'values') WITH ORDINALITY v(v, j) ON i = j
 WHERE p.name = 'gems_pp' AND c->>'name' = 'color';
-- A row: one_hot sets one column, NULL takes the mode (impute mode),
-- ordinal follows the list, min_max puts IF at 1.
SELECT pgml.encode_row('gems_pp', (2.0::real, 'Good'::text, 'E'::text, 'b'::text, 'IF'::clarity, 60::float8, ARRAY[0, 0])) AS good,
       pgml.encode_row('gems_pp', (2.0::real, NULL::text, 'E'::text, 'a'::text, 'I1'::clarity, NULL::float8, ARRAY[0, 0])) AS nulls;
SELECT bool_and(pgml.predict('gems_pp', g) = pgml.predict('gems_pp', pgml.encode_row('gems_pp', g))) AS row_eq_array,
       corr(pgml.predict('gems_pp', g), price) > 0.95 AS tracks_price
  FROM gems g;

-- The other imputes, each the statistic of the training rows.
SELECT i AS impute, (pgml.encode_row('gems_' || i, (1::real, 'Good'::text, 'E'::text, 'a'::text, 'VS'::clarity, NULL::float8, ARRAY[0, 0])))[6] AS depth_filled
  FROM unnest(ARRAY['mean', 'min', 'max', 'zero', 'mode']) i,
       LATERAL pgml.train('gems_' || i, 'regression', 'gems', 'price', hyperparams => '{"n_estimators": 2}', test_sampling => 'last',
                          preprocess => jsonb_build_object('depth', jsonb_build_object('impute', i))) t;
SELECT avg(depth)::real AS mean, min(depth)::real AS min, max(depth)::real AS max FROM training_gems;
-- max_abs divides by the largest magnitude.
SELECT (pgml.encode_row('gems_ma', (2::real, 'Good'::text, 'E'::text, 'a'::text, 'VS'::clarity, 60::float8, ARRAY[0, 0])))[1] AS carat_2_of_max_3_9
  FROM pgml.train('gems_ma', 'regression', 'gems', 'price', hyperparams => '{"n_estimators": 2}', test_sampling => 'last',
                  preprocess => '{"carat": {"scale": "max_abs"}}');

-- Classification from rows, predict_proba included.
CREATE TABLE gem_class AS SELECT carat, cut, clarity, price > 2500 AS expensive FROM gems;
SELECT * FROM pgml.train('gem_class', 'classification', 'gem_class', 'expensive', hyperparams => '{"n_estimators": 10}');
SELECT avg((pgml.predict('gem_class', g) = g.expensive::int)::int) > 0.9 AS accurate,
       bool_and(pgml.predict_proba('gem_class', g) = pgml.predict_proba('gem_class', pgml.encode_row('gem_class', g))) AS proba_row_eq_array,
       bool_and(pgml.predict_proba(d.id, g) = pgml.predict_proba('gem_class', g)) AS proba_by_id
  FROM gem_class g, pgml.deployed_models d WHERE d.name = 'gem_class';

-- Bad preprocess: each a clear error, and nothing left in the catalog.
SELECT * FROM catalog_counts \gset before_
SELECT try($$SELECT pgml.train('bad', 'regression', 'gems', 'price', preprocess => '[1]')$$);
SELECT try($$SELECT pgml.train('bad', 'regression', 'gems', 'price', preprocess => '{"cut": "one_hot"}')$$);
SELECT try($$SELECT pgml.train('bad', 'regression', 'gems', 'price', preprocess => '{"cut": {"encoding": "one_hot"}}')$$);
SELECT try($$SELECT pgml.train('bad', 'regression', 'gems', 'price', preprocess => '{"cut": {"encode": "binary"}}')$$);
SELECT try($$SELECT pgml.train('bad', 'regression', 'gems', 'price', preprocess => '{"cut": {"encode": 1}}')$$);
SELECT try($$SELECT pgml.train('bad', 'regression', 'gems', 'price', preprocess => '{"depth": {"impute": "average"}}')$$);
SELECT try($$SELECT pgml.train('bad', 'regression', 'gems', 'price', preprocess => '{"depth": {"scale": "log"}}')$$);
SELECT try($$SELECT pgml.train('bad', 'regression', 'gems', 'price', preprocess => '{"depth": {"encode": "one_hot"}}')$$);
SELECT try($$SELECT pgml.train('bad', 'regression', 'gems', 'price', preprocess => '{"cut": {"impute": "mean"}}')$$);
SELECT try($$SELECT pgml.train('bad', 'regression', 'gems', 'price', preprocess => '{"cut": {"encode": "one_hot", "scale": "standard"}}')$$);
SELECT try($$SELECT pgml.train('bad', 'regression', 'gems', 'price', preprocess => '{"cut": {"encode": {"ordinal": []}}}')$$);
SELECT try($$SELECT pgml.train('bad', 'regression', 'gems', 'price', preprocess => '{"cut": {"encode": {"ordinal": "Ideal"}}}')$$);
SELECT try($$SELECT pgml.train('bad', 'regression', 'gems', 'price', preprocess => '{"cut": {"encode": {"ordinal": ["Ideal", "Ideal"]}}}')$$);
SELECT try($$SELECT pgml.train('bad', 'regression', 'gems', 'price', preprocess => '{"cut": {"encode": {"ordinal": ["Ideal", "Good"]}, "impute": "mode"}}')$$);
SELECT try($$SELECT pgml.train('bad', 'regression', 'gems', 'price', preprocess => '{"dims": {"scale": "standard"}}')$$);
SELECT try($$SELECT pgml.train('bad', 'regression', 'gems', 'price', preprocess => '{"price": {"scale": "standard"}}')$$);
SELECT try($$SELECT pgml.train('bad', 'regression', 'gems', 'price', preprocess => '{"Cut": {"impute": "mode"}}')$$);
-- A named column's impute defaults to error: NULL in training fails.
SELECT try($$SELECT pgml.train('bad', 'regression', 'gems', 'price', test_sampling => 'last', preprocess => '{"depth": {"scale": "standard"}}')$$);
-- Arrays must have one length.
CREATE TABLE ragged (x integer[], y real);
INSERT INTO ragged VALUES (ARRAY[1, 2], 1), (ARRAY[1, 2, 3], 2);
SELECT try($$SELECT pgml.train('bad', 'regression', 'ragged', 'y')$$);
CREATE TABLE no_elements (x integer[], y real);
INSERT INTO no_elements VALUES (NULL, 1), ('{}', 2);
SELECT try($$SELECT pgml.train('bad', 'regression', 'no_elements', 'y')$$);
-- Types that are neither numbers, categories nor arrays of numbers.
CREATE TABLE dated (d date, y real);
INSERT INTO dated VALUES ('2020-01-01', 1), ('2020-01-02', 2);
SELECT try($$SELECT pgml.train('bad', 'regression', 'dated', 'y')$$);
CREATE TABLE text_label (x real, y text);
INSERT INTO text_label VALUES (1, 'a'), (2, 'b');
SELECT try($$SELECT pgml.train('bad', 'classification', 'text_label', 'y')$$);
SELECT * FROM catalog_counts \gset after_
SELECT :before_projects = :after_projects AND :before_models = :after_models
   AND :before_snapshots = :after_snapshots AS catalog_unchanged;

-- Bad rows: each a clear error.
SELECT try($$SELECT pgml.predict('gems', (1.5::real, 'Ideal'::text, 'D'::text))$$);
SELECT try($$SELECT pgml.predict('gems', (1.5, 'Ideal', 'D', 'a', 'VS', 60, ARRAY[1, 2]))$$);
SELECT try($$SELECT pgml.predict('gems', ('x'::text, 'Ideal'::text, 'D'::text, 'a'::text, 'VS'::text, 60::float8, ARRAY[1, 2]))$$);
SELECT try($$SELECT pgml.predict('gems', (1.5::real, 'Ideal'::text, 'D'::text, 'a'::text, 'VS'::text, 60::float8, ARRAY[1, 2, 3]))$$);
SELECT try($$SELECT pgml.predict('gems', (1.5::real, 'Ideal'::text, 'D'::text, 'a'::text, 'VS'::text, 60::float8, 7))$$);
SELECT try($$SELECT pgml.predict('gems', 42)$$);
SELECT try($$SELECT pgml.predict('gems', NULL::gems)$$);
SELECT try($$SELECT pgml.predict('gems_pp', (1.5::real, 'Ideal'::text, 'D'::text, 'a'::text, 'VS'::text, NULL::float8, ARRAY[1, 2]))$$) AS median_fills_null;
SELECT try($$SELECT pgml.predict_proba('gems', g) FROM gems g LIMIT 1$$);
-- A model trained with impute error refuses a NULL at prediction too.
SELECT * FROM pgml.train('gems_err', 'regression', 'gems', 'price', hyperparams => '{"n_estimators": 2}', test_sampling => 'last',
                         preprocess => '{"carat": {"scale": "standard"}}');
SELECT try($$SELECT pgml.predict('gems_err', (NULL::real, 'Ideal'::text, 'D'::text, 'a'::text, 'VS'::text, 60::float8, ARRAY[1, 2]))$$);

-- PostgresML's image tutorial: digits' 8x8 smallint images are 64
-- features, and a 2-D image predicts as it is.
SELECT * FROM pgml.load_dataset('digits');
SELECT * FROM pgml.train('Handwritten Digits', 'classification', 'pgml.digits', 'target',
                         hyperparams => '{"n_estimators": 8, "max_depth": 4}');
SELECT num_features FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = 'Handwritten Digits';
SELECT avg((pgml.predict('Handwritten Digits', image) = target)::int) > 0.8 AS accurate,
       bool_and(pgml.predict('Handwritten Digits', image) = pgml.predict('Handwritten Digits', d)) AS image_eq_row
  FROM pgml.digits d;

-- The features against scikit-learn's, fitted on the same training rows.
\set VERBOSITY terse
\copy (SELECT 'model', m.preprocessing::text, array_to_json(m.feature_names)::text FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = 'gems_pp' UNION ALL (SELECT 'row', row_to_json(g)::text, array_to_json(pgml.encode_row('gems_pp', g))::text FROM gems g ORDER BY ctid)) TO PROGRAM '/usr/bin/python3 "$PG_ABS_SRCDIR/test/python/compare_preprocess.py" 1200 price "$PG_ABS_BUILDDIR/python_preprocess.out"' (FORMAT csv)
CREATE TEMP TABLE pp_verdicts (line text);
\getenv builddir PG_ABS_BUILDDIR
\set pp_file :builddir '/python_preprocess.out'
COPY pp_verdicts FROM :'pp_file';
SELECT line FROM pp_verdicts;
