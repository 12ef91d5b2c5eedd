# The serving worker under load and faults: every answer checked against the
# backend path, the worker terminated and killed under load, cancel storms.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time sleep);

my $node = PostgreSQL::Test::Cluster->new('faults');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgml_worker'
max_connections = 60
pgml_worker.timeout_ms = 3000
# The test framework turns crash restarts off; operators run with them on.
restart_after_crash = on
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pgml_worker;
CREATE TABLE d AS
SELECT (g % 97)::real AS a, (g % 13)::real AS b, (g % 7)::real AS c,
       ((g % 97) * 2 + (g % 13) * 3 - (g % 7))::real AS y
  FROM generate_series(1, 5000) g;
SELECT * FROM pgml.train('p', 'regression', 'd', 'y', hyperparams => '{"n_estimators": 20}');
SET pgml_worker.predict_path = 'backend';
CREATE TABLE expected AS
SELECT row_number() OVER () AS i, ARRAY[a, b, c] AS x, pgml.predict('p', ARRAY[a, b, c]) AS y FROM d;
});

sub worker_pid { return $node->safe_psql('postgres', 'SELECT pid FROM pgml.worker_stats() WHERE running'); }

sub wait_for_new_worker {
	my ($old) = @_;
	my $deadline = time + 30;
	while (time < $deadline) {
		my $pid = worker_pid();
		return $pid if $pid ne '' && $pid ne $old;
		sleep 0.05;
	}
	return '';
}

ok(worker_pid() =~ /^\d+$/, 'the worker runs after start');

# A script whose every transaction checks one answer: a wrong result
# divides by zero, which aborts the pgbench client and fails the run.
my $check = q{
\set i random(1, 5000)
SELECT 1 / (pgml.predict('p', x) = y)::int FROM expected WHERE i = :i;
};

$node->pgbench('-n -M prepared -c 20 -j 2 -T 5', 0,
	[qr{number of failed transactions: 0}, qr{actually processed: [1-9]}], [qr{^$}],
	'20 clients through the worker: every answer equals the backend path',
	{ '001_check' => $check });

# Load in the background while the worker is terminated three times. With
# predict_path = auto the clients never see an error; the run must end on
# time (nobody hangs) with every answer right.
sub start_load {
	my ($seconds, $path) = @_;
	my ($out, $err) = ('', '');
	my $file = $node->basedir . '/check.sql';
	PostgreSQL::Test::Utils::append_to_file($file, $check) unless -e $file;
	local $ENV{PGOPTIONS} = "-c pgml_worker.predict_path=$path";
	my $h = IPC::Run::start(
		[ 'pgbench', '-n', '-M', 'prepared', '-c', '20', '-j', '2', '-T', $seconds,
		  '-f', $file, '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', \$out, '2>', \$err);
	return ($h, \$out, \$err);
}

my ($load, $out, $err) = start_load(10, 'auto');
my $started = time;
my @restarts;
for my $round (1 .. 3) {
	sleep 1.5;
	my $pid = worker_pid();
	my $t0 = time;
	is($node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)"), 't', "worker terminated ($round)");
	my $new = wait_for_new_worker($pid);
	ok($new ne '', "terminated worker $round came back (pid $new)");
	push @restarts, time - $t0;
	# The worker path answers again once it is back.
	is($node->safe_psql('postgres', q{SELECT pgml.predict('p', x) = y FROM expected WHERE i = 7}),
		't', "worker path answers after restart $round");
}
my $load_ok = $load->finish;
my $elapsed = time - $started;
# No forest leaks: what terminated workers left is freed once unpinned,
# and the arena holds the forests of the models the new worker holds.
my $forests_match = q{
SELECT s.forests = m.n AND s.forests > 0
  FROM pgml.worker_stats() s, (SELECT count(*) AS n FROM pgml.worker_models() WHERE engine = 'forest') m};
ok($node->poll_query_until('postgres', $forests_match, 't'),
	'after three terminations the arena holds only the forests of the models held');
ok($load_ok, 'load through three worker terminations: pgbench succeeded') or diag($$err);
like($$out, qr{number of failed transactions: 0}, 'no failed transaction during terminations');
ok($elapsed < 10 + 5, sprintf('no client hung (load took %.1fs for a 10s run)', $elapsed));
diag(sprintf('serving resumed %.2fs, %.2fs, %.2fs after each termination', @restarts));

# On the worker path (no fallback) a client sees a clear error while the
# worker restarts, never a hang.
{
	my $pid = worker_pid();
	$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
	my $t0 = time;
	my ($ret, $stdout, $stderr) = $node->psql('postgres',
		q{SET pgml_worker.predict_path = 'worker'; SELECT pgml.predict('p', ARRAY[1, 2, 3]::real[])});
	ok(time - $t0 < 5, 'worker path during a restart returns promptly');
	ok($ret == 0 || $stderr =~ /serving worker is not available/,
		'worker path during a restart answers or says the worker is not available');
	wait_for_new_worker($pid);
}

# SIGKILL: Postgres treats it as a crash and reinitializes; serving resumes
# by itself and the catalog is intact.
{
	my $models = $node->safe_psql('postgres', 'SELECT count(*) FROM pgml.models');
	my $pid = worker_pid();
	my ($h, $o, $e) = start_load(6, 'auto');
	sleep 1;
	my $t0 = time;
	kill 'KILL', $pid;
	$h->finish;
	ok(time - $t0 < 30, 'clients connected during SIGKILL returned (disconnected), none hung');
	$node->poll_query_until('postgres', 'SELECT running FROM pgml.worker_stats()', 't')
	  or die 'worker did not come back after SIGKILL';
	my $back = time - $t0;
	is($node->safe_psql('postgres', 'SELECT count(*) FROM pgml.models'), $models, 'catalog intact after SIGKILL');
	is($node->safe_psql('postgres', q{SELECT bool_and(pgml.predict('p', x) = y) FROM expected WHERE i <= 200}),
		't', 'worker path answers correctly after the crash restart');
	diag(sprintf('serving resumed %.2fs after SIGKILL', $back));
	ok($node->poll_query_until('postgres', $forests_match, 't'),
		'after SIGKILL the arena holds only the forests of the models held');
	like(PostgreSQL::Test::Utils::slurp_file($node->logfile), qr/background worker "pgml_worker" \(PID $pid\) was terminated by signal 9/,
		'the server log names the killed worker');
}

# Cancel storm: statements cancelled by a 1 ms statement_timeout while they
# wait on the worker. Every slot comes back, and answers stay right.
{
	my $result = $node->safe_psql('postgres', q{
DO $$
DECLARE cancelled int := 0;
BEGIN
  FOR k IN 1 .. 200 LOOP
    BEGIN
      SET LOCAL statement_timeout = '1ms';
      PERFORM count(pgml.predict('p', x)) FROM expected;
    EXCEPTION WHEN query_canceled THEN
      cancelled := cancelled + 1;
    END;
  END LOOP;
  RAISE NOTICE 'cancelled %', cancelled;
END $$;
SELECT 1;
});
	$node->poll_query_until('postgres', 'SELECT free_slots = queue_slots FROM pgml.worker_stats()', 't')
	  or die 'slots were not all returned after the cancel storm';
	pass('every slot is free again after 200 cancelled statements');
	is($node->safe_psql('postgres', q{SELECT bool_and(pgml.predict('p', x) = y) FROM expected}),
		't', 'every answer right after the cancel storm');
}

# Backends terminated while they wait on the worker (FATAL skips their
# error handlers): their slots must still come back. (Queued: in place,
# the statement would be over before the terminations.)
{
	my @sessions;
	for (1 .. 5) {
		my ($o, $e) = ('', '');
		push @sessions, IPC::Run::start(
			[ 'psql', '-X', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-c',
			  q{SET pgml_worker.predict_path = 'queued'; SELECT count(pgml.predict('p', x)) FROM expected, generate_series(1, 200)} ],
			'>', \$o, '2>', \$e);
	}
	sleep 1.5;
	my $killed = $node->safe_psql('postgres', q{
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
 WHERE query LIKE '%generate_series(1, 200)%' AND pid <> pg_backend_pid()});
	$_->finish for @sessions;
	is($killed, '5', 'five predicting backends terminated mid-wait');
	$node->poll_query_until('postgres', 'SELECT free_slots = queue_slots FROM pgml.worker_stats()', 't')
	  or die 'slots of terminated backends were not returned';
	pass('every slot of the terminated backends came back');
}

$node->stop;
done_testing();
