# Shared by the TAP tests of test/t/: the flights sample with two models and
# their expected answers, the checked load driver (checked_load.py) run in
# the background, the worker's pid, a catalog fingerprint, and the
# "# figure:" lines that scripts/test.sh collects for the README.
package PgmlLoad;

use strict;
use warnings;
use Exporter 'import';
use File::Basename qw(dirname);
use File::Spec;
use IPC::Run;
use JSON::PP;
use Test::More;
use Time::HiRes qw(time sleep);

our @EXPORT = qw(preloaded_node check_load setup_flights start_load finish_load worker_pid wait_for_new_worker
  catalog_fingerprint figure errors_text error_count server_crashes wait_until try_psql
  server_back);

my $here = dirname(File::Spec->rel2abs(__FILE__));
my $driver = "$here/checked_load.py";
my $generator = "$here/../../bench/gen_flights.py";

our $FEATURES = 'ARRAY[year, quarter, month, distance, dayofweek, dayofmonth, '
  . 'flight_number_operating_airline, originairportid, destairportid, tail_number]';

# A started node with the library preloaded and the given settings.
sub preloaded_node {
	my ($name, $conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pgml_worker'\n" . ($conf // ''));
	$node->start;
	return $node;
}

# Every answer of a load run right (A's or B's for that row), none stale
# (from a model not deployed over the whole request), nobody hung.
sub check_load {
	my ($r, $what, $min_requests) = @_;
	cmp_ok($r->{requests}, '>', $min_requests // 500, "$what: load ran ($r->{requests} requests)");
	is($r->{wrong}, 0, "$what: no wrong answer");
	is($r->{stale}, 0, "$what: no answer from a model not deployed over the whole request");
	is($r->{hung}, 0, "$what: no client hung");
	diag("$what: examples: " . encode_json($r->{examples})) if @{ $r->{examples} };
}

# The flights sample (bench/gen_flights.py, seed 42) in table flights with
# an id, project p with model A (10 trees, deployed) and model B (20 trees),
# and table expected(id, a, b): each model's answer on the backend path.
# Returns (A, B) model ids.
sub setup_flights {
	my ($node, %o) = @_;
	my $db = $o{db} // 'postgres';
	my $rows = $o{rows} // 20000;
	my $csv = $node->basedir . '/flights.csv';
	system("/usr/bin/python3 '$generator' --rows $rows --seed 42 > '$csv'") == 0
	  or die "gen_flights.py failed";
	$node->safe_psql($db, qq{
CREATE EXTENSION IF NOT EXISTS pgml_worker;
CREATE TABLE flights_sample (
    depdelayminutes real NOT NULL, year real, quarter real, month real, distance real,
    dayofweek real, dayofmonth real, flight_number_operating_airline real,
    originairportid real, destairportid real, tail_number real);
COPY flights_sample FROM '$csv' (FORMAT csv);
CREATE TABLE flights AS SELECT row_number() OVER ()::int AS id, * FROM flights_sample;
ALTER TABLE flights ADD PRIMARY KEY (id);
DROP TABLE flights_sample;
CREATE VIEW flights_train AS SELECT depdelayminutes, year, quarter, month, distance, dayofweek,
    dayofmonth, flight_number_operating_airline, originairportid, destairportid, tail_number
  FROM flights;
SELECT * FROM pgml.train('p', 'regression', 'flights_train', 'depdelayminutes',
                         hyperparams => '{"n_estimators": 10}');
SELECT * FROM pgml.train('p', hyperparams => '{"n_estimators": 20, "max_depth": 4}',
                         automatic_deploy => false);
});
	my ($a, $b) = split /\|/, $node->safe_psql($db,
		q{SELECT min(m.id) || '|' || max(m.id) FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = 'p'});
	$node->safe_psql($db, qq{
SET pgml_worker.predict_path = 'backend';
CREATE TABLE expected AS
SELECT id, pgml.predict(${a}::bigint, $FEATURES) AS a, pgml.predict(${b}::bigint, $FEATURES) AS b FROM flights;
ALTER TABLE expected ADD PRIMARY KEY (id);
});
	return ($a, $b);
}

# Starts checked_load.py against the node; options are its flags without
# the dashes (clients => 100, seconds => 10, models => "1,2", ...).
sub start_load {
	my ($node, %o) = @_;
	my @cmd = ('/usr/bin/python3', $driver, '--host', $node->host, '--port', $node->port);
	for my $k (sort keys %o) {
		(my $flag = $k) =~ s/_/-/g;
		push @cmd, "--$flag", $o{$k};
	}
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(\@cmd, '>', \$out, '2>', \$err);
	return { h => $h, out => \$out, err => \$err };
}

# Waits for the driver and returns its summary (a hash); with $now, ends
# the run first.
sub finish_load {
	my ($load, $now) = @_;
	$load->{h}->signal('USR1') if $now;
	$load->{h}->finish;
	my ($line) = ${ $load->{out} } =~ /^checked_load: (\{.*\})$/m;
	if (!$line) {
		diag("checked_load printed no summary:\n" . ${ $load->{out} } . ${ $load->{err} });
		return { requests => 0, wrong => -1, stale => -1, hung => -1, errors => {}, gaps => [] };
	}
	return decode_json($line);
}

# $node->psql that survives a server going away mid-call (psql exits
# before reading its input: IPC::Run dies of the broken pipe).
sub try_psql {
	my ($node, $db, $sql) = @_;
	my @r = eval { $node->psql($db, $sql) };
	return @r ? @r : (-1, '', $@);
}

sub worker_pid {
	my ($node) = @_;
	my ($ret, $out) = try_psql($node, 'postgres', 'SELECT pid FROM pgml.worker_stats() WHERE running');
	return $ret == 0 ? $out : '';
}

# Waits (up to $timeout s) until the server answers and its worker runs.
sub server_back {
	my ($node, $timeout) = @_;
	return wait_until($timeout // 60, sub { worker_pid($node) ne '' });
}

# The pid of a worker other than $old, once one runs; '' after $timeout s.
sub wait_for_new_worker {
	my ($node, $old, $timeout) = @_;
	my $deadline = time + ($timeout // 30);
	while (time < $deadline) {
		my $pid = worker_pid($node);
		return $pid if $pid ne '' && $pid ne $old;
		sleep 0.02;
	}
	return '';
}

sub wait_until {
	my ($timeout, $cond) = @_;
	my $deadline = time + $timeout;
	while (time < $deadline) {
		return 1 if $cond->();
		sleep 0.05;
	}
	return 0;
}

# Every catalog row (models by the md5 of their bytes), deployments up to
# $upto (later ones are the load's deploy switcher).
sub catalog_fingerprint {
	my ($node, $db, $upto) = @_;
	$upto //= '(SELECT max(id) FROM pgml.deployments)';
	return $node->safe_psql($db // 'postgres', qq{
SELECT md5(concat_ws('/',
  (SELECT string_agg(concat_ws(',', id, name, task, created_at), ';' ORDER BY id) FROM pgml.projects),
  (SELECT string_agg(concat_ws(',', id, relation_name, y_column_name, seed, columns, analysis), ';' ORDER BY id) FROM pgml.snapshots),
  (SELECT string_agg(concat_ws(',', id, project_id, snapshot_id, hyperparams, metrics, md5(data)), ';' ORDER BY id) FROM pgml.models),
  (SELECT string_agg(concat_ws(',', id, project_id, model_id, strategy), ';' ORDER BY id) FROM pgml.deployments WHERE id <= $upto)))
  || ' ' || (SELECT count(*) FROM pgml.projects) || '/' || (SELECT count(*) FROM pgml.snapshots)
  || '/' || (SELECT count(*) FROM pgml.models) || '/' || (SELECT count(*) FROM pgml.deployments WHERE id <= $upto)});
}

sub errors_text {
	my ($errors) = @_;
	my @k = sort keys %$errors;
	return 'none' unless @k;
	return join(', ', map { "$_ x$errors->{$_}" } @k);
}

# Errors of the given kinds (all when none given).
sub error_count {
	my ($errors, @kinds) = @_;
	my $n = 0;
	for my $k (keys %$errors) {
		$n += $errors->{$k} if !@kinds || grep { $_ eq $k } @kinds;
	}
	return $n;
}

# Lines of the server log, from byte $from on, that show a crashed process.
sub server_crashes {
	my ($node, $from) = @_;
	my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile, $from // 0);
	return grep { /terminated by signal|was terminated by exception/ } split /\n/, $log;
}

# One "# figure:" line, collected by scripts/test.sh for the README.
sub figure {
	my ($text) = @_;
	diag("figure: $text");
}

1;
