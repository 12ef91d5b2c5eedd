# The worker on a hot standby (deployments replayed from the primary are
# used there), and the library loaded without shared_preload_libraries.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'pgml_worker'\n");
$primary->start;
$primary->safe_psql('postgres', q{
CREATE EXTENSION pgml_worker;
CREATE TABLE d AS SELECT (g % 50)::real AS a, (g % 9)::real AS b, ((g % 50) * 3 + g % 9)::real AS y
  FROM generate_series(1, 2000) g;
SELECT * FROM pgml.train('p', 'regression', 'd', 'y', hyperparams => '{"n_estimators": 10}');
SELECT * FROM pgml.train('p', hyperparams => '{"n_estimators": 1, "max_depth": 1}', automatic_deploy => false);
});
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

$standby->poll_query_until('postgres', 'SELECT running FROM pgml.worker_stats()', 't')
  or die 'no worker on the standby';
pass('the worker runs on a hot standby');

my $probe = q{SELECT pgml.predict('p', ARRAY[10, 3]::real[]) = pgml.predict((SELECT max(id) FROM pgml.models), ARRAY[10, 3]::real[])};
is($standby->safe_psql('postgres', $probe), 'f', 'standby serves the first model through its worker');
$primary->safe_psql('postgres', q{SELECT pgml.deploy('p', 'most_recent')});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $probe), 't', 'a deployment replayed on the standby is used by its next statement');

# Without preloading: a clear warning, the backend path works, the worker
# path says why it cannot serve.
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->start;
my ($ret, $out, $err) = $plain->psql('postgres', 'CREATE EXTENSION pgml_worker');
like($err, qr/pgml_worker is not in shared_preload_libraries/, 'loading without preloading warns');
$plain->safe_psql('postgres', q{
CREATE TABLE d AS SELECT (g % 50)::real AS a, ((g % 50) * 3)::real AS y FROM generate_series(1, 500) g;
SELECT * FROM pgml.train('p', 'regression', 'd', 'y', hyperparams => '{"n_estimators": 5}');
});
($ret, $out, $err) = $plain->psql('postgres', q{SELECT pgml.predict('p', ARRAY[3]::real[])});
like($err, qr/serving worker is not available: pgml_worker is not in shared_preload_libraries/,
	'worker path without preloading: clear error');
($ret, $out, $err) = $plain->psql('postgres',
	q{SET pgml_worker.predict_path = 'backend'; SELECT pgml.predict('p', ARRAY[3]::real[]) > 0});
is($out, 't', 'backend path works without preloading');
($ret, $out, $err) = $plain->psql('postgres',
	q{SET pgml_worker.predict_path = 'auto'; SELECT pgml.predict('p', ARRAY[3]::real[]) > 0});
is($out, 't', 'auto falls back to the backend path without preloading');

$standby->stop;
$primary->stop;
$plain->stop;
done_testing();
