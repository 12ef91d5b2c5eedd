-- pgml.load_dataset: the six built-in sets in PostgresML's table shapes,
-- replacing, limit, bad input, privileges, and training on what it loaded.
-- The values are compared with scikit-learn's loaders by
-- test/python/compare_datasets.py.
SELECT pgml.version() AS version,
       pgml.version() = (SELECT extversion FROM pg_extension WHERE extname = 'pgml_worker') AS is_installed_version;

-- Every set, with the row count it reports and the count its table holds.
CREATE TEMP TABLE loaded AS
SELECT s.name, d.table_name, d.rows
  FROM unnest(ARRAY['breast_cancer', 'diabetes', 'digits', 'iris', 'linnerud', 'wine']) AS s(name),
       pgml.load_dataset(s.name) d;
CREATE FUNCTION row_count(rel text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s', rel) INTO n;
    RETURN n;
END;
$$;
SELECT name, table_name, rows, row_count(table_name) AS in_table FROM loaded ORDER BY name;

-- Columns, in order, with their types: PostgresML's CREATE TABLE statements.
SELECT c.relname, string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', '
                             ORDER BY a.attnum) AS columns
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = 'pgml'::regnamespace
   AND c.relname IN ('breast_cancer', 'diabetes', 'digits', 'iris', 'linnerud', 'wine')
 GROUP BY c.relname ORDER BY c.relname;
SELECT attndims AS digits_image_dims FROM pg_attribute WHERE attrelid = 'pgml.digits'::regclass AND attname = 'image';
-- The tables belong to the caller, not to the extension.
SELECT count(*) AS tables_in_extension FROM pg_depend
 WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgml_worker') AND deptype = 'e'
   AND classid = 'pg_class'::regclass
   AND objid IN (SELECT ('pgml.' || name)::regclass FROM loaded);

-- Facts of the sets as scikit-learn documents them.
SELECT target, count(*) FROM pgml.iris GROUP BY target ORDER BY target;
SELECT * FROM pgml.iris LIMIT 1;
SELECT malignant, count(*) FROM pgml.breast_cancer GROUP BY malignant ORDER BY malignant;
-- Malignant tumours are the larger ones.
SELECT avg("mean radius") FILTER (WHERE malignant) > avg("mean radius") FILTER (WHERE NOT malignant) AS malignant_larger
  FROM pgml.breast_cancer;
-- diabetes holds the original measurements (PostgresML's file), not the
-- scaled columns of load_diabetes(): age in years, sex 1 or 2.
SELECT min(age), max(age), array_agg(DISTINCT sex) AS sex, min(target), max(target) FROM pgml.diabetes;
SELECT target, count(*) FROM pgml.wine GROUP BY target ORDER BY target;
-- hue and color_intensity hold their own values (PostgresML's table swaps them).
SELECT min(hue), max(hue), min(color_intensity), max(color_intensity) FROM pgml.wine;
SELECT * FROM pgml.linnerud LIMIT 1;
SELECT array_dims(image), count(*) FROM pgml.digits GROUP BY 1;
SELECT min(x), max(x), pg_typeof(x) FROM pgml.digits, unnest(image) x GROUP BY 3;
SELECT count(DISTINCT target) AS digit_classes FROM pgml.digits;

-- Every value against scikit-learn's loaders.
\copy (SELECT * FROM pgml.breast_cancer) TO PROGRAM '/usr/bin/python3 "$PG_ABS_SRCDIR/test/python/compare_datasets.py" breast_cancer "$PG_ABS_BUILDDIR/datasets_breast_cancer.out"' (FORMAT csv, HEADER)
\copy (SELECT * FROM pgml.diabetes) TO PROGRAM '/usr/bin/python3 "$PG_ABS_SRCDIR/test/python/compare_datasets.py" diabetes "$PG_ABS_BUILDDIR/datasets_diabetes.out"' (FORMAT csv, HEADER)
\copy (SELECT * FROM pgml.digits) TO PROGRAM '/usr/bin/python3 "$PG_ABS_SRCDIR/test/python/compare_datasets.py" digits "$PG_ABS_BUILDDIR/datasets_digits.out"' (FORMAT csv, HEADER)
\copy (SELECT * FROM pgml.iris) TO PROGRAM '/usr/bin/python3 "$PG_ABS_SRCDIR/test/python/compare_datasets.py" iris "$PG_ABS_BUILDDIR/datasets_iris.out"' (FORMAT csv, HEADER)
\copy (SELECT * FROM pgml.linnerud) TO PROGRAM '/usr/bin/python3 "$PG_ABS_SRCDIR/test/python/compare_datasets.py" linnerud "$PG_ABS_BUILDDIR/datasets_linnerud.out"' (FORMAT csv, HEADER)
\copy (SELECT * FROM pgml.wine) TO PROGRAM '/usr/bin/python3 "$PG_ABS_SRCDIR/test/python/compare_datasets.py" wine "$PG_ABS_BUILDDIR/datasets_wine.out"' (FORMAT csv, HEADER)
-- The check can fail: 10 rows of iris are not scikit-learn's 150.
\copy (SELECT * FROM pgml.iris LIMIT 10) TO PROGRAM '/usr/bin/python3 "$PG_ABS_SRCDIR/test/python/compare_datasets.py" iris "$PG_ABS_BUILDDIR/datasets_short.out"' (FORMAT csv, HEADER)
\copy (SELECT sepal_length, sepal_width, petal_width, petal_length, target FROM pgml.iris) TO PROGRAM '/usr/bin/python3 "$PG_ABS_SRCDIR/test/python/compare_datasets.py" iris "$PG_ABS_BUILDDIR/datasets_order.out"' (FORMAT csv, HEADER)
\copy (SELECT alcohol, malic_acid, ash, alcalinity_of_ash, magnesium, total_phenols, flavanoids, nonflavanoid_phenols, proanthocyanins, color_intensity AS hue, hue AS color_intensity, "od280/od315_of_diluted_wines", proline, target FROM pgml.wine) TO PROGRAM '/usr/bin/python3 "$PG_ABS_SRCDIR/test/python/compare_datasets.py" wine "$PG_ABS_BUILDDIR/datasets_swapped.out"' (FORMAT csv, HEADER)
CREATE TEMP TABLE verdicts (line text);
\getenv builddir PG_ABS_BUILDDIR
\set f :builddir '/datasets_breast_cancer.out'
COPY verdicts FROM :'f';
\set f :builddir '/datasets_diabetes.out'
COPY verdicts FROM :'f';
\set f :builddir '/datasets_digits.out'
COPY verdicts FROM :'f';
\set f :builddir '/datasets_iris.out'
COPY verdicts FROM :'f';
\set f :builddir '/datasets_linnerud.out'
COPY verdicts FROM :'f';
\set f :builddir '/datasets_wine.out'
COPY verdicts FROM :'f';
\set f :builddir '/datasets_short.out'
COPY verdicts FROM :'f';
\set f :builddir '/datasets_order.out'
COPY verdicts FROM :'f';
\set f :builddir '/datasets_swapped.out'
COPY verdicts FROM :'f';
SELECT line FROM verdicts;

-- "limit" keeps the first rows, in the file's order; 0 keeps none, more
-- than the set keeps all; the table is replaced each time.
SELECT * FROM pgml.load_dataset('iris', "limit" => 10);
SELECT count(*), count(*) FILTER (WHERE target = 0) AS setosa, min(sepal_length), max(sepal_length) FROM pgml.iris;
SELECT * FROM pgml.load_dataset('digits', "limit" => 0);
SELECT count(*) FROM pgml.digits;
SELECT * FROM pgml.load_dataset('wine', "limit" => 1000);
-- subset and kwargs are accepted and ignored, as PostgresML does for these sets.
SELECT * FROM pgml.load_dataset('linnerud', subset => 'anything', "limit" => 5, kwargs => '{"split": "train"}');
SELECT count(*) FROM pgml.linnerud;
-- Called in the select list, as PostgresML's examples do.
SELECT pgml.load_dataset('digits');

-- Replacing: a column added to the old table is gone with it, and so are
-- its rows.
ALTER TABLE pgml.iris ADD COLUMN note text;
INSERT INTO pgml.iris (target, note) VALUES (7, 'mine');
SELECT * FROM pgml.load_dataset('iris');
SELECT count(*), max(target) FROM pgml.iris;
SELECT count(*) AS note_columns FROM pg_attribute WHERE attrelid = 'pgml.iris'::regclass AND attname = 'note';
-- Inside a transaction that rolls back, the old table stays.
BEGIN;
SELECT * FROM pgml.load_dataset('iris', "limit" => 3);
ROLLBACK;
SELECT count(*) FROM pgml.iris;

-- Bad input: an ERROR with a SQLSTATE, and nothing left behind.
SELECT * FROM catalog_counts \gset before_
SELECT count(*) AS pgml_tables_before FROM pg_class WHERE relnamespace = 'pgml'::regnamespace \gset
SELECT try($$SELECT * FROM pgml.load_dataset('nope')$$);
SELECT try($$SELECT * FROM pgml.load_dataset('Iris')$$);
SELECT try($$SELECT * FROM pgml.load_dataset('')$$);
SELECT try($$SELECT * FROM pgml.load_dataset('pgml.iris')$$);
SELECT try($$SELECT * FROM pgml.load_dataset('imdb', 'plain_text')$$);
SELECT try($$SELECT * FROM pgml.load_dataset(NULL)$$);
SELECT try($$SELECT * FROM pgml.load_dataset('iris', "limit" => -1)$$);
-- The message names the sets.
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT * FROM pgml.load_dataset('titanic');
-- A view on the table makes replacing it an error (no silent CASCADE); the
-- old table is left as it was.
CREATE VIEW iris_setosa AS SELECT * FROM pgml.iris WHERE target = 0;
SELECT * FROM pgml.load_dataset('iris', "limit" => 5);
SELECT try($$SELECT * FROM pgml.load_dataset('iris', "limit" => 5)$$);
SELECT count(*) FROM iris_setosa;
DROP VIEW iris_setosa;
-- Not in a read-only transaction.
BEGIN READ ONLY;
SELECT * FROM pgml.load_dataset('iris');
ROLLBACK;
\set VERBOSITY terse
SELECT count(*) FROM pgml.iris;
SELECT count(*) - :pgml_tables_before AS new_pgml_tables FROM pg_class WHERE relnamespace = 'pgml'::regnamespace;
SELECT c.projects = :before_projects AND c.snapshots = :before_snapshots AND c.models = :before_models
       AND c.deployments = :before_deployments AS catalog_unchanged
  FROM catalog_counts c;

-- Privileges: the caller creates the table, so it needs CREATE on schema
-- pgml, and must own a table it replaces.
CREATE ROLE pgml_dataset_user;
DROP TABLE pgml.linnerud;
SET ROLE pgml_dataset_user;
SELECT try($$SELECT * FROM pgml.load_dataset('linnerud')$$);
RESET ROLE;
GRANT CREATE ON SCHEMA pgml TO pgml_dataset_user;
SET ROLE pgml_dataset_user;
SELECT * FROM pgml.load_dataset('linnerud');
SELECT count(*) FROM pgml.linnerud;
-- Its own table it replaces; one of another role's it may not.
SELECT * FROM pgml.load_dataset('linnerud', "limit" => 2);
SELECT try($$SELECT * FROM pgml.load_dataset('wine')$$);
RESET ROLE;
SELECT tablename, tableowner FROM pg_tables
 WHERE schemaname = 'pgml' AND tablename IN ('linnerud', 'wine') ORDER BY tablename;
SELECT count(*) FROM pgml.wine;
-- A superuser replaces anyone's.
SELECT * FROM pgml.load_dataset('linnerud');
SELECT tableowner FROM pg_tables WHERE schemaname = 'pgml' AND tablename = 'linnerud';
REVOKE CREATE ON SCHEMA pgml FROM pgml_dataset_user;
DROP ROLE pgml_dataset_user;

-- Training on what it loaded, end to end: PostgresML's tutorials. (A busy
-- machine may make a training report its progress: not part of the output.)
SET client_min_messages = warning;
SELECT * FROM pgml.train('Iris', 'classification', 'pgml.iris', 'target', test_sampling => 'random');
SELECT avg((pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width]) = target)::int) > 0.9
       AS iris_accuracy_above_90
  FROM pgml.iris;
SELECT m.num_features, m.classes FROM pgml.deployed_models d JOIN pgml.models m ON m.id = d.id WHERE d.name = 'Iris';
SELECT project, task, deployed FROM pgml.train('Breast Cancer', 'classification', 'pgml.breast_cancer', 'malignant',
                                               test_sampling => 'random');
SELECT avg((pgml.predict('Breast Cancer', ARRAY["mean radius", "mean texture", "mean perimeter", "mean area",
         "mean smoothness", "mean compactness", "mean concavity", "mean concave points", "mean symmetry",
         "mean fractal dimension", "radius error", "texture error", "perimeter error", "area error",
         "smoothness error", "compactness error", "concavity error", "concave points error", "symmetry error",
         "fractal dimension error", "worst radius", "worst texture", "worst perimeter", "worst area",
         "worst smoothness", "worst compactness", "worst concavity", "worst concave points", "worst symmetry",
         "worst fractal dimension"]) = malignant::int)::int) > 0.9 AS cancer_accuracy_above_90
  FROM pgml.breast_cancer;
SELECT project, task, deployed FROM pgml.train('Diabetes Progression', 'regression', 'pgml.diabetes', 'target');
SELECT corr(pgml.predict('Diabetes Progression', ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6]), target) > 0.8
       AS diabetes_fit
  FROM pgml.diabetes;
RESET client_min_messages;
