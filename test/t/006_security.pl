# Nobody gets in: training needs SELECT on the table, the catalog needs its
# grants, two databases with a project of the same name each get their own
# model through the one worker, odd relation and column names are never
# spliced into SQL, search_path cannot redirect the extension's functions,
# and a non-superuser cannot change the worker's settings.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../load";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgmlLoad;

my $node = preloaded_node('security', "max_connections = 60\n");

$node->safe_psql('postgres', q{
CREATE EXTENSION pgml_worker;
CREATE ROLE alice LOGIN;   -- trains: the grants the README gives a trainer
CREATE ROLE carol LOGIN;   -- predicts: SELECT on the catalog
CREATE ROLE bob LOGIN;     -- no rights on the catalog
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA pgml TO alice;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA pgml TO alice;
GRANT SELECT ON ALL TABLES IN SCHEMA pgml TO carol;
CREATE SCHEMA evil AUTHORIZATION bob;
CREATE TABLE secret AS SELECT g::real AS a, (g * 2)::real AS y FROM generate_series(1, 300) g;
CREATE TABLE alice_data AS SELECT g::real AS a, (g % 7)::real AS b, (g * 3)::real AS y FROM generate_series(1, 300) g;
GRANT SELECT ON alice_data TO alice;
CREATE TABLE bob_data AS SELECT g::real AS a, g::real AS y FROM generate_series(1, 300) g;
ALTER TABLE bob_data OWNER TO bob;
CREATE TABLE victim (x int);
});

# $sql as $role: (SQLSTATE or 'ok', output).
sub as_role {
	my ($role, $sql, $db) = @_;
	my ($ret, $out, $err) = $node->psql($db // 'postgres', "SET ROLE $role; SET client_min_messages = warning; \\set VERBOSITY verbose\n$sql");
	return ('ok', $out) if $ret == 0;
	my ($state) = $err =~ /ERROR:  ([0-9A-Z]{5}):/;
	return ($state // "?: $err", $out);
}

my $denied = 0;
sub denied {
	my ($role, $sql, $what, $db) = @_;
	my ($state) = as_role($role, $sql, $db);
	is($state, '42501', "$role: $what is denied (42501)");
	$denied++;
}

# Training reads the relation as the caller.
denied('alice', q{SELECT * FROM pgml.train('s', 'regression', 'secret', 'y')}, 'training on a table without SELECT');
denied('bob', q{SELECT * FROM pgml.train('s', 'regression', 'secret', 'y')}, 'training on a table without SELECT');
my ($state) = as_role('alice', q{SELECT * FROM pgml.train('ap', 'regression', 'alice_data', 'y', hyperparams => '{"n_estimators": 5}')});
is($state, 'ok', 'alice trains on a table she may read');
my $model = $node->safe_psql('postgres', 'SELECT max(id) FROM pgml.models');
my $bytes = $node->safe_psql('postgres', "SELECT encode(pgml.export_model($model), 'hex')");
my $fingerprint = catalog_fingerprint($node);

# A role without rights on the catalog can neither read nor replace
# another's models, on either serving path.
denied('bob', 'SELECT count(*) FROM pgml.models', 'reading pgml.models');
denied('bob', "SELECT length(pgml.export_model($model))", 'exporting a model');
denied('bob', "SELECT pgml.predict('ap', ARRAY[1, 2]::real[])", 'predicting through the worker');
denied('bob', "SET pgml_worker.predict_path = 'backend'; SELECT pgml.predict('ap', ARRAY[1, 2]::real[])", 'predicting in the backend');
denied('bob', "SELECT pgml.predict($model, ARRAY[1, 2]::real[])", 'predicting by model id');
denied('bob', q{SELECT pgml.deploy('ap', 'most_recent')}, 'deploying by strategy');
denied('bob', "SELECT pgml.deploy($model)", 'deploying by model id');
denied('bob', "SELECT pgml.import_model('ap', 'regression', '\\x$bytes'::bytea)", 'importing a model into the project');
denied('bob', q{SELECT * FROM pgml.train('ap', relation_name => 'bob_data', y_column_name => 'y')}, 'training the project on his own table');
denied('bob', q{SELECT * FROM pgml.train('mine', 'regression', 'bob_data', 'y')}, 'creating a project');
denied('bob', q{UPDATE pgml.models SET data = '\x00'}, 'overwriting model bytes');
denied('bob', q{DELETE FROM pgml.deployments}, 'deleting deployments');
denied('bob', q{TRUNCATE pgml.projects CASCADE}, 'truncating the catalog');
# A role that may only read the catalog predicts, and changes nothing.
($state, my $out) = as_role('carol', q{SELECT pgml.predict('ap', ARRAY[10, 3]::real[]) > 0});
is("$state $out", 'ok t', 'carol (SELECT on the catalog) predicts through the worker');
denied('carol', q{SELECT pgml.deploy('ap', 'most_recent')}, 'deploying');
denied('carol', "SELECT pgml.import_model('ap', 'regression', '\\x$bytes'::bytea)", 'importing a model');
denied('carol', q{UPDATE pgml.models SET data = '\x00'}, 'overwriting model bytes');
is(catalog_fingerprint($node), $fingerprint, 'the catalog is unchanged after every denied attempt');

# What the extension grants by default: usage of the schema and execution
# of its functions to everyone; no table, view or sequence to anyone.
is($node->safe_psql('postgres', q{
SELECT count(*) FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
 WHERE c.relnamespace = 'pgml'::regnamespace AND c.relkind IN ('r', 'v', 'S', 'm')
   AND a.grantee NOT IN (c.relowner, 'alice'::regrole, 'carol'::regrole)}), '0',
	'no table, view or sequence of pgml is granted to PUBLIC or any other role by default');
is($node->safe_psql('postgres', q{SELECT has_schema_privilege('bob', 'pgml', 'USAGE') AND NOT has_schema_privilege('bob', 'pgml', 'CREATE')}),
	't', 'schema pgml: USAGE for everyone, CREATE for nobody but its owner');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgml_worker') AND NOT has_function_privilege('bob', p.oid, 'EXECUTE')}),
	'0', 'every function of the extension is executable by everyone (they run as the caller)');
figure("privileges: $denied attempts by roles without the needed grant denied with 42501; catalog unchanged; by default PUBLIC gets USAGE on schema pgml and EXECUTE on its functions, nothing on its tables, views or sequences");

# Every SQL or PL/pgSQL function of the extension pins search_path, except
# pgml.train, train_joint and snapshot, which must resolve the relation with the
# caller's path and schema-qualify all they call.
is($node->safe_psql('postgres', q{
SELECT coalesce(string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.oid::regprocedure::text), '') FROM pg_proc p
  JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
  JOIN pg_language l ON l.oid = p.prolang
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgml_worker')
   AND l.lanname IN ('sql', 'plpgsql')
   AND NOT coalesce(p.proconfig @> '{"search_path=pg_catalog, pg_temp"}', false)}),
	'pgml.snapshot(text,text,real,text,jsonb), pgml.train(text,text,text,text,text,jsonb,real,text,boolean,jsonb,text,jsonb,jsonb,text,boolean), pgml.train_joint(text,text,text,text[],text,jsonb,text,jsonb,jsonb,real,text,text,boolean,boolean,jsonb)',
	'every SQL and PL/pgSQL function pins search_path = pg_catalog, pg_temp, but pgml.train, train_joint and snapshot (they resolve the relation with the caller\'s)');

# search_path hijack: bob's schema shadows the functions and operators the
# extension's functions use. Callers with bob's schema first in their path
# (and pg_catalog after it) run train, deploy, predict, export and import:
# none of bob's objects may run.
my ($hstate, $hout) = as_role('bob', q{
CREATE FUNCTION evil.caught() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked by bob'; END $$;
CREATE FUNCTION evil.clock_timestamp() RETURNS timestamptz LANGUAGE sql AS 'SELECT CASE WHEN evil.caught() THEN now() END';
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql AS 'SELECT CASE WHEN evil.caught() THEN pg_catalog.now() END';
CREATE FUNCTION evil.cardinality(anyarray) RETURNS int LANGUAGE sql AS 'SELECT CASE WHEN evil.caught() THEN 1 END';
CREATE FUNCTION evil.jsonb_build_object(VARIADIC text[]) RETURNS jsonb LANGUAGE sql AS 'SELECT CASE WHEN evil.caught() THEN ''{}''::jsonb END';
CREATE FUNCTION evil.generate_series(int, int) RETURNS SETOF int LANGUAGE sql AS 'SELECT 1 WHERE evil.caught()';
CREATE FUNCTION evil.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE sql AS 'SELECT NULL WHERE evil.caught()';
CREATE FUNCTION evil.current_setting(text) RETURNS text LANGUAGE sql AS 'SELECT CASE WHEN evil.caught() THEN '''' END';
CREATE FUNCTION evil.eq(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT evil.caught()';
CREATE FUNCTION evil.eq(bigint, bigint) RETURNS boolean LANGUAGE sql AS 'SELECT evil.caught()';
CREATE FUNCTION evil.ge(double precision, double precision) RETURNS boolean LANGUAGE sql AS 'SELECT evil.caught()';
CREATE FUNCTION evil.arrow(jsonb, text) RETURNS text LANGUAGE sql AS 'SELECT CASE WHEN evil.caught() THEN '''' END';
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.eq);
CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.eq);
CREATE OPERATOR evil.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.eq);
CREATE OPERATOR evil.>= (LEFTARG = double precision, RIGHTARG = double precision, FUNCTION = evil.ge);
CREATE OPERATOR evil.->> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = evil.arrow);
GRANT USAGE ON SCHEMA evil TO PUBLIC;
SELECT 1 = 1;});
is($hstate, 'ok', 'bob created his shadowing functions and operators');
my ($probe_state) = as_role('alice', q{SET search_path = evil, pg_catalog; SELECT 'a'::text = 'b'::text});
is($probe_state, 'P0001', 'the shadowing operator does catch unqualified use');
for my $role ('alice', 'postgres') {
	my ($st, $o) = as_role($role, qq{
SET search_path = evil, pg_catalog, public;
SELECT * FROM pgml.train('hijack_$role', 'regression', 'alice_data', 'y', hyperparams => '{"n_estimators": 3}');
SELECT * FROM pgml.train('hijack_$role', hyperparams => '{"n_estimators": 4}');
SELECT * FROM pgml.deploy('hijack_$role', 'best_score');
SELECT * FROM pgml.deploy('hijack_$role', 'rollback');
SELECT * FROM pgml.deploy((SELECT max(id) FROM pgml.models));
SELECT pgml.predict('hijack_$role', ARRAY[1, 2]::real[]);
SET pgml_worker.predict_path = 'backend';
SELECT pgml.predict('hijack_$role', ARRAY[1, 2]::real[]);
SELECT pgml.predict((SELECT max(id) FROM pgml.models), ARRAY[1, 2]::real[]);
SELECT pgml.import_model('hijack_$role', 'regression', pgml.export_model((SELECT max(id) FROM pgml.models)));
SELECT count(*) FROM pgml.overview;
SELECT count(*) FROM pgml.deployed_models;
SELECT running FROM pgml.worker_stats();
SELECT 'passed';});
	is("$st " . (split /\n/, $o)[-1], 'ok passed', "search_path = evil, pg_catalog: train, deploy, predict, export, import as $role run none of bob's objects");
}
figure('search_path: every SQL/PL/pgSQL function pins search_path = pg_catalog, pg_temp except pgml.train, train_joint and snapshot (schema-qualified); train, deploy, predict, export and import with a hostile schema first in the path ran none of its 12 shadowing functions and operators');

# Two databases, one project name, one worker: each gets its own model
# (both have model id 1), checked under concurrent load.
my @dbs = ('tenant_a', 'tenant_b');
for my $i (0, 1) {
	my $db = $dbs[$i];
	my $sign = $i ? -10 : 1;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, qq{
CREATE EXTENSION pgml_worker;
CREATE TABLE d AS SELECT g AS id, (g % 50)::real AS a, (g % 9)::real AS b, ($sign * ((g % 50) * 3 + g % 9))::real AS y
  FROM generate_series(1, 2000) g;
CREATE VIEW d_train AS SELECT a, b, y FROM d;
SELECT * FROM pgml.train('same', 'regression', 'd_train', 'y', hyperparams => '{"n_estimators": 8}');
SET pgml_worker.predict_path = 'backend';
CREATE TABLE expected AS SELECT id, pgml.predict('same', ARRAY[a, b]) AS a, pgml.predict('same', ARRAY[a, b]) AS b FROM d;
});
	is($node->safe_psql($db, 'SELECT max(id) FROM pgml.models'), '1', "$db: its project 'same' has model id 1");
}
my @loads = map { start_load($node, dbname => $_, project => 'same', table => 'd', features => 'ARRAY[a, b]',
	clients => 15, seconds => 6, path => 'worker') } @dbs;
my @results = map { finish_load($_) } @loads;
for my $i (0, 1) {
	my $r = $results[$i];
	cmp_ok($r->{requests}, '>', 500, "$dbs[$i]: load ran ($r->{requests} requests)");
	is($r->{wrong}, 0, "$dbs[$i]: every answer through the worker is its own model's");
	is(error_count($r->{errors}), 0, "$dbs[$i]: no error") or diag(errors_text($r->{errors}));
}
is($node->safe_psql('postgres', q{SELECT count(DISTINCT database) FROM pgml.worker_models() WHERE model_id = 1 AND database IN
  (SELECT oid FROM pg_database WHERE datname IN ('tenant_a', 'tenant_b'))}), '2', 'the worker holds model 1 once per database');
# pgml.worker_models() lists other databases' models only to roles with
# pg_read_all_stats: what other tenants run is theirs to know.
my $tenant_a = $node->safe_psql('postgres', q{SELECT oid FROM pg_database WHERE datname = 'tenant_a'});
my ($listed, $seen) = as_role('bob', q{SELECT string_agg(DISTINCT database::text, ',') FROM pgml.worker_models()}, 'tenant_a');
is($listed, 'ok', 'bob may call pgml.worker_models()');
is((split /\n/, $seen)[-1], $tenant_a, "bob in tenant_a is shown tenant_a's models only");
$node->safe_psql('postgres', 'GRANT pg_read_all_stats TO bob');
($listed, $seen) = as_role('bob', q{SELECT count(DISTINCT database) FROM pgml.worker_models() WHERE database IN
  (SELECT oid FROM pg_database WHERE datname IN ('tenant_a', 'tenant_b'))}, 'tenant_a');
is($listed, 'ok', 'bob with pg_read_all_stats may call pgml.worker_models()');
is((split /\n/, $seen)[-1], '2', "with pg_read_all_stats bob is shown both tenants' models");
$node->safe_psql('postgres', 'REVOKE pg_read_all_stats FROM bob');
figure(sprintf('two databases, project "same" with model id 1 in each, 15 clients each through the one worker: %d + %d requests, %d wrong',
	$results[0]{requests}, $results[1]{requests}, $results[0]{wrong} + $results[1]{wrong}));

# Odd relation and column names: quotes, semicolons, spaces, mixed case.
$node->safe_psql('postgres', q{
CREATE SCHEMA "My Schema";
CREATE TABLE "My Schema"."Odd ""Name""; DROP TABLE victim; --" ("Col;1" real, "MiXeD" real, "quo""te" real, "La bel; DROP TABLE victim" real);
INSERT INTO "My Schema"."Odd ""Name""; DROP TABLE victim; --" SELECT g, g % 5, g % 3, g * 2 FROM generate_series(1, 300) g;
CREATE TABLE "MixedCase" (a real, y real);
INSERT INTO "MixedCase" SELECT g, g FROM generate_series(1, 100) g;
CREATE TABLE mixedcase (a real, b real, y real);
INSERT INTO mixedcase SELECT g, g, -g FROM generate_series(1, 100) g;
GRANT SELECT ON ALL TABLES IN SCHEMA public, "My Schema" TO alice;
GRANT USAGE ON SCHEMA "My Schema" TO alice;
});
my @names = (
	[ q{'"My Schema"."Odd ""Name""; DROP TABLE victim; --"'}, q{'La bel; DROP TABLE victim'}, 'ok', 3 ],
	[ q{'"MixedCase"'}, q{'y'}, 'ok', 1 ],
	[ q{'MixedCase'}, q{'y'}, 'ok', 2 ],    # unquoted: folds to mixedcase
	[ q{'victim; DROP TABLE victim'}, q{'x'}, 'error' ],
	[ q{'"unterminated'}, q{'y'}, 'error' ],
	[ q{'public.mixedcase.extra.parts'}, q{'y'}, 'error' ],
	[ q{'"My Schema"."Odd ""Name""; DROP TABLE victim; --"'}, q{'La bel'}, 'error' ],
	[ q{'mixedcase'}, q{'Y'}, 'error' ],
	[ q{'mixedcase'}, q{'y"; DROP TABLE victim; --'}, 'error' ],
	[ q{'mixedcase'}, q{''}, 'error' ],
	[ q{''}, q{'y'}, 'error' ],
);
my ($worked, $failed) = (0, 0);
for my $k (0 .. $#names) {
	my ($rel, $label, $want, $nfeat) = @{ $names[$k] };
	my ($st) = as_role('alice', "SELECT * FROM pgml.train('odd_$k', 'regression', $rel, $label, hyperparams => '{\"n_estimators\": 2}')");
	if ($want eq 'ok') {
		is($st, 'ok', "train on $rel, label $label works");
		is($node->safe_psql('postgres', "SELECT num_features FROM pgml.models WHERE id = (SELECT max(id) FROM pgml.models)"),
			$nfeat, "train on $rel: $nfeat feature columns, the right table");
		my ($rst) = as_role('alice', "SELECT * FROM pgml.train('odd_$k', hyperparams => '{\"n_estimators\": 3}')");
		is($rst, 'ok', "retraining odd_$k on its snapshot works");
		$worked++;
	} else {
		like($st, qr/^(42602|42P01|42703|42704|3F000|22023|22004|42601|0A000)$/, "train on $rel, label $label fails cleanly ($st)");
		$failed++;
	}
}
is($node->safe_psql('postgres', q{SELECT to_regclass('victim') IS NOT NULL}), 't', 'table victim still exists');
is($node->safe_psql('postgres', q{SELECT pgml.predict('odd_0', ARRAY[1, 2, 3]::real[]) IS NOT NULL}), 't',
	'the project trained on the odd names predicts through the worker');
figure("odd names: $worked relations with quotes, semicolons, spaces and mixed case trained and retrained; $failed malformed names failed with a clean SQLSTATE; nothing spliced");

# Settings: a non-superuser cannot change any setting but the user ones
# (every other one, as pg_settings lists them: a new setting is covered too).
# SET fails with 55P02 for server-wide settings, 42501 for superuser ones.
my %context = map { split /=/ } split /\s+/, $node->safe_psql('postgres',
	q{SELECT string_agg(substr(name, 13) || '=' || context, ' ') FROM pg_settings WHERE name LIKE 'pgml_worker.%' AND context <> 'user'});
my @fixed = sort keys %context;
ok(@fixed >= 10, 'the worker has server-wide or superuser settings to protect (' . scalar(@fixed) . ')');
my $refused = 0;
for my $g (@fixed) {
	my $set_state = $context{$g} eq 'superuser' ? '42501' : '55P02';
	my ($st) = as_role('bob', "SET pgml_worker.$g = 1");
	$refused += is($st, $set_state, "bob: SET pgml_worker.$g fails ($set_state)");
	($st) = as_role('bob', "SELECT set_config('pgml_worker.$g', '1', false)");
	$refused += is($st, $set_state, "bob: set_config('pgml_worker.$g') fails ($set_state)");
	($st) = as_role('bob', "ALTER SYSTEM SET pgml_worker.$g = 1");
	$refused += is($st, '42501', "bob: ALTER SYSTEM SET pgml_worker.$g fails (42501)");
	($st) = as_role('bob', "ALTER ROLE bob SET pgml_worker.$g = 1");
	$refused += like($st, qr/^(42501|55P02)$/, "bob: ALTER ROLE bob SET pgml_worker.$g fails ($st)");
	($st) = as_role('bob', "ALTER DATABASE postgres SET pgml_worker.$g = 1");
	$refused += is($st, '42501', "bob: ALTER DATABASE SET pgml_worker.$g fails (42501)");
}
for my $g ('predict_path = backend', 'predict_path = auto', 'timeout_ms = 1', 'timeout_ms = 3600000', 'train_progress = 0') {
	my ($st) = as_role('bob', "SET pgml_worker.$g");
	is($st, 'ok', "bob may SET pgml_worker.$g (it affects his own session only)");
}
is($node->safe_psql('postgres', q{SELECT string_agg(name || '=' || context, ' ' ORDER BY name) FROM pg_settings WHERE name LIKE 'pgml_worker.%' AND context = 'user'}),
	'pgml_worker.predict_path=user pgml_worker.timeout_ms=user pgml_worker.train_progress=user',
	'only predict_path, timeout_ms and train_progress (the notices of his own trainings) are user settings');
is(worker_pid($node) =~ /^\d+$/ ? 1 : 0, 1, 'the worker still runs');
figure(sprintf('settings: %d attempts by a non-superuser to change the worker\'s settings (SET, set_config, ALTER SYSTEM/ROLE/DATABASE) refused; only predict_path, timeout_ms and train_progress are user settings', $refused));

is(scalar(server_crashes($node)), 0, 'no server process crashed');
$node->stop;
done_testing();
