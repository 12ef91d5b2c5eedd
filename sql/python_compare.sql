-- Predictions equal those of XGBoost's own Python package on the exported
-- model bytes, to float precision: the script scores the same rows with
-- xgboost.Booster.inplace_predict and prints any difference.
\set VERBOSITY terse
\copy (SELECT 'model', 'regression', encode(pgml.export_model(d.id), 'base64') FROM pgml.deployed_models d WHERE d.name = 'reg' UNION ALL SELECT 'row', x::text, pgml.predict('reg', x)::text FROM (SELECT ARRAY[f_real, f_int, f_small, f_big, coalesce(f_double, 'NaN'), f_num, f_bool::int]::real[] AS x FROM reg_data) r) TO PROGRAM '/usr/bin/python3 "$PG_ABS_SRCDIR/test/python/compare_predictions.py" "$PG_ABS_BUILDDIR/python_reg.out"' (FORMAT csv)
\copy (SELECT 'model', 'classification', encode(pgml.export_model(d.id), 'base64') FROM pgml.deployed_models d WHERE d.name = 'multi' UNION ALL SELECT 'row', x::text, pgml.predict_proba('multi', x)::text FROM (SELECT ARRAY[a, b]::real[] AS x FROM cls_multi) r) TO PROGRAM '/usr/bin/python3 "$PG_ABS_SRCDIR/test/python/compare_predictions.py" "$PG_ABS_BUILDDIR/python_multi.out"' (FORMAT csv)
\copy (SELECT 'model', 'classification', encode(pgml.export_model(d.id), 'base64') FROM pgml.deployed_models d WHERE d.name = 'bin' UNION ALL SELECT 'row', x::text, pgml.predict_proba('bin', x)::text FROM (SELECT ARRAY[a, b]::real[] AS x FROM cls_binary) r) TO PROGRAM '/usr/bin/python3 "$PG_ABS_SRCDIR/test/python/compare_predictions.py" "$PG_ABS_BUILDDIR/python_bin.out"' (FORMAT csv)
-- The script's verdicts, read back so they land in this test's output.
CREATE TEMP TABLE verdicts (line text);
\getenv builddir PG_ABS_BUILDDIR
\set reg_file :builddir '/python_reg.out'
\set multi_file :builddir '/python_multi.out'
\set bin_file :builddir '/python_bin.out'
COPY verdicts FROM :'reg_file';
COPY verdicts FROM :'multi_file';
COPY verdicts FROM :'bin_file';
SELECT line FROM verdicts;
