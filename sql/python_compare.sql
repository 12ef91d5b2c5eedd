-- Predictions equal those of XGBoost's own Python package on the exported
-- model bytes, to float precision: the script scores the same rows with
-- xgboost.Booster.inplace_predict and prints any difference.
\set VERBOSITY terse
\copy (SELECT 'model', 'regression', encode(pgml.export_model(d.id), 'base64') FROM pgml.deployed_models d WHERE d.name = 'reg' UNION ALL SELECT 'row', x::text, pgml.predict('reg', x)::text FROM (SELECT ARRAY[f_real, f_int, f_small, f_big, coalesce(f_double, 'NaN'), f_num, f_bool::int]::real[] AS x FROM reg_data) r) TO PROGRAM '/usr/bin/python3 "$PG_ABS_SRCDIR/test/python/compare_predictions.py" "$PG_ABS_BUILDDIR/python_reg.out"' (FORMAT csv)
\copy (SELECT 'model', 'classification', encode(pgml.export_model(d.id), 'base64') FROM pgml.deployed_models d WHERE d.name = 'multi' UNION ALL SELECT 'row', x::text, pgml.predict_proba('multi', x)::text FROM (SELECT ARRAY[a, b]::real[] AS x FROM cls_multi) r) TO PROGRAM '/usr/bin/python3 "$PG_ABS_SRCDIR/test/python/compare_predictions.py" "$PG_ABS_BUILDDIR/python_multi.out"' (FORMAT csv)
\copy (SELECT 'model', 'classification', encode(pgml.export_model(d.id), 'base64') FROM pgml.deployed_models d WHERE d.name = 'bin' UNION ALL SELECT 'row', x::text, pgml.predict_proba('bin', x)::text FROM (SELECT ARRAY[a, b]::real[] AS x FROM cls_binary) r) TO PROGRAM '/usr/bin/python3 "$PG_ABS_SRCDIR/test/python/compare_predictions.py" "$PG_ABS_BUILDDIR/python_bin.out"' (FORMAT csv)
-- A linear booster (no trees): XGBoost 1.7 cannot predict it in place, so
-- both sides score it through a DMatrix.
SELECT deployed FROM pgml.train('linear', 'regression', 'reg_data', 'y',
                                hyperparams => '{"booster": "gblinear", "n_estimators": 20}');
\copy (SELECT 'model', 'regression', encode(pgml.export_model(d.id), 'base64') FROM pgml.deployed_models d WHERE d.name = 'linear' UNION ALL SELECT 'row', x::text, pgml.predict('linear', x)::text FROM (SELECT ARRAY[f_real, f_int, f_small, f_big, coalesce(f_double, 'NaN'), f_num, f_bool::int]::real[] AS x FROM reg_data) r) TO PROGRAM '/usr/bin/python3 "$PG_ABS_SRCDIR/test/python/compare_predictions.py" "$PG_ABS_BUILDDIR/python_linear.out"' (FORMAT csv)
-- The script's verdicts, read back so they land in this test's output.
CREATE TEMP TABLE verdicts (line text);
\getenv builddir PG_ABS_BUILDDIR
\set reg_file :builddir '/python_reg.out'
\set multi_file :builddir '/python_multi.out'
\set bin_file :builddir '/python_bin.out'
\set linear_file :builddir '/python_linear.out'
COPY verdicts FROM :'reg_file';
COPY verdicts FROM :'multi_file';
COPY verdicts FROM :'bin_file';
COPY verdicts FROM :'linear_file';
SELECT line FROM verdicts;
