# Thousands of generated bad calls: feature arrays of random length, with
# NULLs, NaN and infinities, a million elements, the wrong dimensionality;
# predict_proba on a regression; unknown and NULL projects; hyperparameters
# of wrong types; pgml.import_model with random, truncated and bit-flipped
# bytes. Each must end in an ERROR with a SQLSTATE and a message, crash no
# process, and leave the catalog as it was. The last section holds inputs
# that once crashed or hung a process (XGBoost's own checks miss them).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../load";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use PgmlLoad;

# A crash in one section must not take the rest of the test with it.
my $node = preloaded_node('bad', "pgml_worker.timeout_ms = 2000\nrestart_after_crash = on\n");
my ($A, $B) = setup_flights($node, rows => 5000);
$node->safe_psql('postgres', q{
CREATE TABLE cls_data AS SELECT (g % 17)::real AS a, (g % 5)::real AS b, (g % 3) AS label
  FROM generate_series(1, 600) g;
SELECT * FROM pgml.train('cls', 'classification', 'cls_data', 'label', hyperparams => '{"n_estimators": 5}');
CREATE TABLE small AS SELECT * FROM flights_train LIMIT 300;

-- One row per call tried: its section, serving path, number, SQLSTATE
-- ('accepted' when it succeeded; it is rolled back all the same).
CREATE TABLE tried (section text, path text, n int, sqlstate text, message text);
CREATE FUNCTION try_all(section text, calls text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
    path text := current_setting('pgml_worker.predict_path');
BEGIN
    FOR i IN 1 .. cardinality(calls) LOOP
        BEGIN
            EXECUTE calls[i];
            RAISE EXCEPTION 'accepted' USING ERRCODE = 'P0099';
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            INSERT INTO tried VALUES (section, path, i, CASE st WHEN 'P0099' THEN 'accepted' ELSE st END,
                                      CASE st WHEN 'P0099' THEN calls[i] ELSE msg END);
        END;
    END LOOP;
END $$;

-- Bad predict calls, generated from a seed: each kind is wrong in one way.
CREATE FUNCTION random_array(len int, elem text) RETURNS text LANGUAGE sql AS $$
    SELECT '{' || coalesce(string_agg(CASE elem WHEN 'num' THEN ((random() * 2000 - 1000)::real)::text
                                                WHEN 'int' THEN floor(random() * 2000 - 1000)::text
                                                ELSE elem END, ','), '') || '}'
      FROM generate_series(1, len)
$$;
CREATE FUNCTION bad_predicts(seed float8, n int) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    calls text[] := '{}';
    len int;
    arr text;
    kind int;
    types text[] := '{real[],float8[],int[]}';
    t text;
    num text;
BEGIN
    PERFORM setseed(seed);
    FOR i IN 1 .. n LOOP
        kind := i % 14;
        t := types[1 + floor(random() * 3)::int];
        len := (random() * 40)::int;
        IF len IN (2, 10) THEN len := len + 1; END IF;  -- the feature counts of cls and p
        num := CASE t WHEN 'int[]' THEN 'int' ELSE 'num' END;
        calls := calls || CASE kind
          WHEN 0 THEN format('SELECT pgml.predict(%L, %L::%s)', 'p', random_array(len, num), t)
          -- the right length with a NULL element somewhere
          WHEN 1 THEN format('SELECT pgml.predict(%L, %L::real[])', 'p',
                             regexp_replace(random_array(10, 'num'), '[^,{}]+', 'NULL', 1, 1 + floor(random() * 10)::int))
          -- more dimensions are read in storage order: 2 x 4 and 1 x 11 are
          -- 8 and 11 features, not p's 10
          WHEN 2 THEN format('SELECT pgml.predict(%L, %L::%s)', 'p',
                             '{' || random_array(4, num) || ',' || random_array(4, num) || '}', t)
          WHEN 3 THEN format('SELECT pgml.predict(%L, %L::real[])', 'p', '{{' || random_array(11, 'num') || '}}')
          WHEN 4 THEN format('SELECT pgml.predict(%L, %L::real[])', 'p',
                             random_array(len, (ARRAY['NaN', 'Infinity', '-Infinity'])[1 + floor(random() * 3)::int]))
          WHEN 5 THEN format('SELECT pgml.predict(%L, %L::real[])', md5(random()::text), random_array(10, 'num'))
          WHEN 6 THEN format('SELECT pgml.predict(NULL::text, %L::real[])', random_array(10, 'num'))
          WHEN 7 THEN format('SELECT pgml.predict(%L, NULL::%s)', 'p', t)
          WHEN 8 THEN format('SELECT pgml.predict_proba(%L, %L::real[])', 'p', random_array(10, 'num'))
          WHEN 9 THEN format('SELECT pgml.predict(%s::bigint, %L::real[])',
                             (ARRAY[-1, 0, 999999, -9223372036854775807])[1 + floor(random() * 4)::int], random_array(10, 'num'))
          WHEN 10 THEN format('SELECT pgml.predict(%L, %L::float8[])', 'p', random_array(len, '1e300'))
          WHEN 11 THEN format('SELECT pgml.predict_proba(%L, %L::real[])', 'cls', random_array(len, 'num'))
          WHEN 12 THEN format('SELECT pgml.predict(%L, %L::%s)', 'p', '[5:' || (4 + greatest(len, 1)) || ']=' || random_array(greatest(len, 1), num), t)
          ELSE format('SELECT pgml.predict_proba(NULL::bigint, %L::real[])', random_array(2, 'num'))
        END;
    END LOOP;
    -- A million elements, flat and in two dimensions.
    calls := calls || ARRAY[
        'SELECT pgml.predict(''p'', array_fill(1::real, ARRAY[1000000]))',
        'SELECT pgml.predict(''p'', array_fill(''NaN''::real, ARRAY[1000000]))',
        'SELECT pgml.predict(''p'', array_fill(1::float8, ARRAY[1000000]))',
        'SELECT pgml.predict(''p'', array_fill(1::real, ARRAY[1000, 1000]))',
        'SELECT pgml.predict_proba(''cls'', array_fill(1::real, ARRAY[1000000]))',
        'SELECT pgml.predict(''p'', (SELECT array_agg(NULL::real) FROM generate_series(1, 1000000)))'];
    RETURN calls;
END $$;
});
my $pid = worker_pid($node);
my $log_from = -s $node->logfile;
my $fingerprint = catalog_fingerprint($node);

# Every call of a section failed with a SQLSTATE and a message, none of
# them an internal error; returns "n calls: SQLSTATE xN, ...".
sub section_result {
	my ($section, $accepted_ok) = @_;
	my $total = $node->safe_psql('postgres', "SELECT count(*) FROM tried WHERE section = '$section'");
	my $by_state = $node->safe_psql('postgres', qq{
SELECT string_agg(sqlstate || ' x' || n, ', ' ORDER BY sqlstate) FROM
 (SELECT sqlstate, count(*) n FROM tried WHERE section = '$section' GROUP BY 1) s});
	is($node->safe_psql('postgres', qq{SELECT count(*) FROM tried WHERE section = '$section'
AND (sqlstate !~ '^[0-9A-Z]{5}\$' AND sqlstate NOT IN ('accepted', 'crash') OR sqlstate ~ '^XX' OR coalesce(message, '') = '')}),
		'0', "$section: every failure has a SQLSTATE (none internal) and a message")
	  or diag($node->safe_psql('postgres', qq{SELECT string_agg(DISTINCT sqlstate || ': ' || left(message, 150), E'\\n') FROM tried WHERE section = '$section' AND sqlstate ~ '^XX'}));
	unless ($accepted_ok) {
		is($node->safe_psql('postgres', "SELECT count(*) FROM tried WHERE section = '$section' AND sqlstate = 'accepted'"),
			'0', "$section: no bad call succeeded")
		  or diag($node->safe_psql('postgres', "SELECT string_agg(left(message, 150), E'\\n') FROM tried WHERE section = '$section' AND sqlstate = 'accepted'"));
	}
	return ($total, "$total calls: $by_state");
}

sub no_crash_since {
	my ($what) = @_;
	my @crashes = server_crashes($node, $log_from);
	is(scalar(@crashes), 0, "$what: no process crashed") or diag(join("\n", @crashes));
	is(worker_pid($node), $pid, "$what: the worker is the same process");
	is(catalog_fingerprint($node), $fingerprint, "$what: the catalog is unchanged");
}

# Bad predict calls, the same ones on each serving path.
for my $path ('worker', 'backend', 'auto') {
	$node->safe_psql('postgres', "SET pgml_worker.predict_path = '$path'; SELECT try_all('predict', bad_predicts(0.42, 1400))");
}
my ($n_predict, $predict_text) = section_result('predict');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT n FROM tried WHERE section = 'predict' GROUP BY n HAVING count(DISTINCT sqlstate) > 1) d}),
	'0', 'predict: each bad call fails with the same SQLSTATE on the worker, backend and auto paths')
  or diag($node->safe_psql('postgres', q{SELECT string_agg(path || ' ' || n || ' ' || sqlstate || ' ' || left(message, 100), E'\n') FROM tried
 WHERE section = 'predict' AND n IN (SELECT n FROM tried WHERE section = 'predict' GROUP BY n HAVING count(DISTINCT sqlstate) > 1 LIMIT 3)}));
no_crash_since('predict');
figure("bad predict calls on the worker, backend and auto paths: $predict_text");

# NaN is a missing value and infinities are values: rows of the right
# length with them are answered, the same on both paths.
is($node->safe_psql('postgres', qq{
CREATE TEMP TABLE seeded AS SELECT 1 FROM (SELECT setseed(0.7)) s;
CREATE TEMP TABLE odd AS SELECT g, (SELECT array_agg(CASE WHEN random() < 0.3 THEN (ARRAY['NaN', 'Infinity', '-Infinity'])[1 + floor(random() * 3)::int]::real
                                         ELSE (random() * 5000)::real END) FROM generate_series(1, 10 + g * 0)) AS x
  FROM generate_series(1, 300) g;
SET pgml_worker.predict_path = 'backend';
CREATE TEMP TABLE odd_backend AS SELECT g, pgml.predict('p', x) AS y FROM odd;
SET pgml_worker.predict_path = 'worker';
SELECT count(*) FROM odd JOIN odd_backend USING (g) WHERE pgml.predict('p', x)::text = y::text}),
	'300', 'rows with NaN and infinities: 300 answered, equal on the worker and backend paths');

# Hyperparameters of wrong types and values; the ones XGBoost takes are
# trained and rolled back.
$node->safe_psql('postgres', q{
SELECT try_all('hyperparams', ARRAY(
  SELECT format('SELECT pgml.train(%L, %L, %L, %L, hyperparams => %L)', 'hp', 'regression', 'small', 'depdelayminutes',
                jsonb_build_object('n_estimators', 2) || jsonb_build_object(k, v::jsonb))
    FROM unnest('{n_estimators,max_depth,eta,subsample,min_child_weight,gamma,lambda,alpha,objective,tree_method,booster,max_bin,colsample_bytree,seed,no_such_key}'::text[]) k,
         unnest(ARRAY['"x"', 'true', 'null', '[]', '[1, 2]', '{}', '{"a": 1}', '-1', '1e300', '-1e300', '""', '3.5']) v
  UNION ALL
  SELECT format('SELECT pgml.train(%L, %L, %L, %L, hyperparams => %L)', 'hp', 'regression', 'small', 'depdelayminutes', h)
    FROM unnest(ARRAY['[]', '1', '"s"', 'null', 'true', '[{"n_estimators": 2}]']) h
  UNION ALL
  SELECT format('SELECT pgml.train(%L, %L, %L, %L, test_size => %s, test_sampling => %L)', 'hp', 'regression', 'small',
                'depdelayminutes', ts, tsm)
    FROM unnest(ARRAY['0', '-1', '''NaN''', '''Infinity''', '300', '1e30']) ts, unnest(ARRAY['last', 'middle', NULL]) tsm
  UNION ALL
  SELECT format('SELECT pgml.train(%L, %L, %L, %L)', pn, tk, rel, y)
    FROM unnest(ARRAY['hp', NULL]) pn, unnest(ARRAY['regression', 'clustering', NULL]) tk,
         unnest(ARRAY['small', 'no_such', 'small; DROP TABLE small', NULL, '']) rel, unnest(ARRAY['depdelayminutes', 'nope', NULL]) y))
});
my ($n_hp, $hp_text) = section_result('hyperparams', 1);
diag('hyperparams: accepted (XGBoost takes them): ' . $node->safe_psql('postgres', q{
SELECT string_agg(regexp_replace(coalesce(substring(message FROM 'hyperparams => ''([^'']*)'''),
                                          substring(message FROM 'test_size => (.*)\)$')), '10{200}0*', '1e300'), ' ')
  FROM tried WHERE section = 'hyperparams' AND sqlstate = 'accepted'}));
# Out of every parameter's range: must not slip past XGBoost's checks.
is($node->safe_psql('postgres', q{SELECT count(*) FROM tried WHERE section = 'hyperparams' AND sqlstate = 'accepted' AND message ~ '[0-9]{200}'}),
	'0', 'hyperparams: values of +-1e300 are refused like other out-of-range values');
no_crash_since('hyperparams');
figure("bad train arguments (hyperparameters of wrong types, test_size, names): $hp_text (accepted ones are values XGBoost takes; rolled back)");

# Model bytes: random, UBJSON-looking random, truncated at random points,
# with 1 to 8 bits flipped, and the right bytes with the wrong task.
$node->safe_psql('postgres', qq{
CREATE TEMP TABLE seeded AS SELECT 1 FROM (SELECT setseed(0.9)) s;
CREATE TABLE good AS SELECT pgml.export_model($A) AS m;
CREATE FUNCTION random_bytes(len int) RETURNS bytea LANGUAGE sql AS
  \$\$ SELECT decode(coalesce(string_agg(lpad(to_hex((random() * 255)::int), 2, '0'), ''), ''), 'hex') FROM generate_series(1, len) \$\$;
CREATE FUNCTION flip(m bytea, bits int) RETURNS bytea LANGUAGE plpgsql AS \$\$
DECLARE pos int;
BEGIN
    FOR k IN 1 .. bits LOOP
        pos := (random() * (length(m) * 8 - 1))::int;
        m := set_bit(m, pos, 1 - get_bit(m, pos));
    END LOOP;
    RETURN m;
END \$\$;
CREATE TABLE bad_models AS
SELECT 'random' AS kind, random_bytes((random() * 3000)::int) AS m FROM generate_series(1, 150)
UNION ALL SELECT 'ubjson-like', '\\x7b'::bytea || random_bytes((random() * 3000)::int) FROM generate_series(1, 150)
UNION ALL SELECT 'truncated', substring(good.m FROM 1 FOR (random() * (length(good.m) - 1))::int) FROM good, generate_series(1, 300)
UNION ALL SELECT 'bit flips', flip(good.m, 1 + floor(random() * 4)::int) FROM good, generate_series(1, 400);
});
$node->safe_psql('postgres', q{
CREATE TABLE import_calls AS
SELECT row_number() OVER () AS i, kind, c FROM (
  SELECT kind, format('SELECT pgml.import_model(%L, %L, %L::bytea)', 'imp', 'regression', m) AS c FROM bad_models
  UNION ALL SELECT 'wrong task', format('SELECT pgml.import_model(%L, %L, %L::bytea)', 'imp', t, good.m)
    FROM good, unnest(ARRAY['classification', 'clustering', NULL]) t
  UNION ALL SELECT 'wrong task', format('SELECT pgml.import_model(%L, %L, %L::bytea)', 'cls', 'classification', good.m) FROM good
  UNION ALL SELECT 'empty', 'SELECT pgml.import_model(''imp'', ''regression'', NULL)'
  UNION ALL SELECT 'empty', 'SELECT pgml.import_model(''imp'', ''regression'', ''\x'')') c;
});
# One call a transaction, so that a crash loses only the call that crashed;
# it is recorded as 'crash' and the run goes on after the restart.
$node->safe_psql('postgres', q{
CREATE PROCEDURE try_from(section text, first bigint) LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
    c record;
BEGIN
    FOR c IN SELECT i, calls.c FROM import_calls calls WHERE i >= first ORDER BY i LOOP
        BEGIN
            EXECUTE c.c;
            RAISE EXCEPTION 'accepted' USING ERRCODE = 'P0099';
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            INSERT INTO tried VALUES (section, 'import', c.i, CASE st WHEN 'P0099' THEN 'accepted' ELSE st END, msg);
        END;
        COMMIT;
    END LOOP;
END $$;
});
my $n_calls = $node->safe_psql('postgres', 'SELECT count(*) FROM import_calls');
my $first = 1;
my $import_crashes = 0;
while ($first <= $n_calls) {
	my ($ret, $out, $err) = try_psql($node, 'postgres', "CALL try_from('import', $first)");
	last if $ret == 0;
	sleep 0.3;
	server_back($node);
	my $crashed = 1 + $node->safe_psql('postgres', "SELECT coalesce(max(n), $first - 1) FROM tried WHERE section = 'import'");
	$node->safe_psql('postgres', "INSERT INTO tried VALUES ('import', 'import', $crashed, 'crash', 'the server process crashed')");
	$import_crashes++;
	$first = $crashed + 1;
}
is($import_crashes, 0, 'import: no call crashed the server process')
  or diag($node->safe_psql('postgres', q{SELECT 'crashed, the first ten: ' || string_agg(kind || ' #' || n, ', ') FROM
 (SELECT b.kind, t.n FROM tried t JOIN import_calls b ON b.i = t.n
   WHERE t.section = 'import' AND t.sqlstate = 'crash' ORDER BY t.n LIMIT 10) c}));
my ($n_import, $import_text) = section_result('import', 1);
# A few bits flipped in a float can still make a valid model; nothing else
# may be accepted.
is($node->safe_psql('postgres', q{SELECT count(*) FROM tried t JOIN import_calls c ON c.i = t.n
 WHERE t.section = 'import' AND t.sqlstate = 'accepted' AND c.kind <> 'bit flips'}), '0',
	'import: only bit-flipped models are ever accepted')
  or diag($node->safe_psql('postgres', q{SELECT string_agg(c.kind, ', ') FROM tried t JOIN import_calls c ON c.i = t.n
 WHERE t.section = 'import' AND t.sqlstate = 'accepted' AND c.kind <> 'bit flips'}));
no_crash_since('import');
figure("bad model bytes for pgml.import_model (150 random, 150 UBJSON-looking, 300 truncated, 400 with 1-4 bits flipped, 6 wrong tasks or empty): $import_text (accepted: bit flips that still make a valid model, rolled back)");

figure(sprintf('bad inputs tried: %d calls; crashes %d; catalog unchanged',
	$n_predict + $n_hp + $n_calls + 300, scalar(server_crashes($node, $log_from))));

# Inputs that crashed or hung a process before the extension refused them
# itself: each must fail cleanly.
# Crashes logged since $log_from, once the server is back; moves $log_from.
sub crashes_since {
	sleep 0.5;    # the postmaster logs a crash when it reaps the process
	server_back($node);
	my @crashes = server_crashes($node, $log_from);
	# A crash the log did not show yet still restarted the worker.
	push @crashes, 'the serving worker was restarted' if !@crashes && worker_pid($node) ne $pid;
	$log_from = -s $node->logfile;
	return @crashes;
}
crashes_since();

# A thread count XGBoost cannot start.
my ($ret, $out, $err) = try_psql($node, 'postgres',
	q{SELECT * FROM pgml.train('hp', 'regression', 'small', 'depdelayminutes', hyperparams => '{"n_estimators": 2, "nthread": 100000}')});
like($err, qr/ERROR/, 'hyperparams {"nthread": 100000}: an ERROR') or diag($err);
is(scalar(crashes_since()), 0, 'hyperparams {"nthread": 100000}: no process crashed');

# A model whose tree structure is inconsistent but well-formed UBJSON: the
# first tree's first left child points far outside the tree, or at itself.
# Model bytes are UBJSON: "left_children" is a typed int32 array.
sub with_left_child {
	my ($value) = @_;
	my $hex = $node->safe_psql('postgres', "SELECT encode(pgml.export_model($A), 'hex')");
	my $bytes = pack('H*', $hex);
	my $key = 'left_children';
	my $at = index($bytes, 'L' . pack('q>', length $key) . $key);
	die 'no left_children in the model' if $at < 0;
	$at += 1 + 8 + length($key);
	die 'left_children is not an int32 array' unless substr($bytes, $at, 4) eq '[$l#';
	# [ $ l # L <count: 8 bytes> then the elements
	substr($bytes, $at + 4 + 1 + 8, 4) = pack('l>', $value);
	return unpack('H*', $bytes);
}
my $far = with_left_child(1000000);
my $cycle = with_left_child(0);
# Neither may reach XGBoost, whose loader accepts both (then predict crashes
# on the first and loops for good on the second): pgml.import_model refuses
# them, and so does every load of a model whose stored bytes were replaced
# behind the extension's back (a superuser's INSERT), on both paths.
my %bad = ('a child index out of range' => $far, 'a cyclic tree' => $cycle);
for my $what (sort keys %bad) {
	my $hex = $bad{$what};
	($ret, $out, $err) = try_psql($node, 'postgres',
		"SELECT pgml.import_model('corrupt', 'regression', '\\x$hex'::bytea)");
	like($err, qr/not a valid XGBoost model: tree \d+, node \d+/, "model with $what: import_model refuses it, naming the node")
	  or diag($err);
	for my $path ('backend', 'worker') {
		($ret, $out, $err) = try_psql($node, 'postgres', qq{SET pgml_worker.predict_path = '$path';
SET statement_timeout = '5s';
BEGIN;
INSERT INTO pgml.models (project_id, algorithm, num_features, data)
SELECT project_id, algorithm, num_features, '\\x$hex'::bytea FROM pgml.models WHERE id = $B
RETURNING id AS corrupt_id \\gset
SELECT pgml.predict(:corrupt_id, $PgmlLoad::FEATURES) FROM flights WHERE id = 5;
ROLLBACK;});
		like($err, qr/not a valid XGBoost model/, "model with $what stored directly, $path path: predict refuses to load it")
		  or diag($err);
	}
	my @crashes = crashes_since();
	is(scalar(@crashes), 0, "model with $what: no process crashed") or diag(join("\n", @crashes));
}
($ret, $out, $err) = try_psql($node, 'postgres', qq{SET pgml_worker.predict_path = 'worker';
SELECT pgml.predict('p', $PgmlLoad::FEATURES) IN (a, b) FROM flights JOIN expected USING (id) WHERE id = 5});
is($out, 't', 'after the corrupt models, the worker still answers others') or diag($err);
figure('corrupt trees (a child index out of range, a cycle): refused by import_model and by every load, on both paths; no crash, no hang');

$node->stop;
done_testing();
