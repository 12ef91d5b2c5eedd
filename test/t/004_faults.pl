# Faults under the checked load of 100 clients (deployments switching between
# two models): the worker terminated repeatedly, killed with SIGKILL, a fast
# restart of the server, training cancelled midway, training while serving,
# and the training table dropped or altered during training. For each: what
# the clients saw and how long until serving resumed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../load";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time sleep);
use PgmlLoad;

# The test framework turns crash restarts off; operators run with them on.
my $node = preloaded_node('faults2', qq{max_connections = 130
pgml_worker.timeout_ms = 3000
restart_after_crash = on
});
my ($A, $B) = setup_flights($node);
my %load = (clients => 100, models => "$A,$B", deploy_every => 0.25);
my $probe = qq{SET pgml_worker.predict_path = 'worker';
SELECT pgml.predict('p', $PgmlLoad::FEATURES) IN (e.a, e.b) FROM flights f JOIN expected e USING (id) WHERE id = 7};

# Seconds until the worker path answers again (a fresh connection each try).
sub until_serving {
	my ($t0, $timeout) = @_;
	my $deadline = $t0 + ($timeout // 60);
	while (time < $deadline) {
		my ($ret, $out) = try_psql($node, 'postgres', $probe);
		return time - $t0 if $ret == 0 && $out eq 't';
		sleep 0.02;
	}
	return undef;
}

# Errors other than the kinds a fault explains.
sub unexplained {
	my ($errors, @explained) = @_;
	my %ok = map { $_ => 1 } @explained;
	return { map { $_ => $errors->{$_} } grep { !$ok{$_} } keys %$errors };
}

# The worker terminated three times under load, on both serving paths.
for my $path ('worker', 'auto') {
	my $load = start_load($node, %load, seconds => 30, path => $path);
	my @resumed;
	for my $round (1 .. 3) {
		sleep 2;
		my $pid = worker_pid($node);
		my $t0 = time;
		$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
		ok(wait_for_new_worker($node, $pid) ne '', "$path path: terminated worker $round came back");
		push @resumed, until_serving($t0) // 99;
	}
	sleep 1;
	my $r = finish_load($load, 1);
	check_load($r, "terminate x3, $path path");
	# The worker path says "not available" (55000) while the worker restarts;
	# auto scores in the backend meanwhile and shows nothing.
	my @explained = $path eq 'worker' ? ('55000') : ();
	is_deeply(unexplained($r->{errors}, @explained), {}, "terminate x3, $path path: clients saw only " . (join(', ', @explained) || 'no error'))
	  or diag(errors_text($r->{errors}) . ' ' . JSON::PP::encode_json($r->{messages}));
	ok((grep { $_ < 10 } @resumed) == 3, "terminate x3, $path path: the worker path served again within 10 s each time");
	figure(sprintf('worker terminated x3 under 100 clients (%s path): %d requests, %d wrong, errors: %s; worker serving again after %s s; longest client gap %.2f s',
		$path, $r->{requests}, $r->{wrong}, errors_text($r->{errors}),
		join('/', map { sprintf('%.2f', $_) } @resumed), $r->{max_gap_s}));
}

# SIGKILL: Postgres treats it as a crash, disconnects everyone and
# reinitializes. Clients reconnect; the catalog and the models are intact.
{
	my $upto = $node->safe_psql('postgres', 'SELECT max(id) FROM pgml.deployments');
	my $before = catalog_fingerprint($node, 'postgres', $upto);
	my $load = start_load($node, %load, seconds => 30, path => 'auto');
	sleep 3;
	my $pid = worker_pid($node);
	like($pid, qr/^\d+$/, 'SIGKILL: the worker runs before the kill');
	my $t0 = time;
	kill 'KILL', $pid if $pid =~ /^\d+$/;
	my $back = until_serving($t0);
	ok(defined $back, 'SIGKILL: serving resumed');
	sleep 2;
	my $r = finish_load($load, 1);
	check_load($r, 'SIGKILL');
	# A crash restart drops every connection: clients see that and nothing
	# else (psycopg2 reports some drops as a bare DatabaseError).
	my @dropped = ('connection_lost', 'connect:connection_lost', 'DatabaseError', '57P01', '57P02', '57P03');
	is_deeply(unexplained($r->{errors}, @dropped), {}, 'SIGKILL: clients saw only dropped connections')
	  or diag(errors_text($r->{errors}));
	is(catalog_fingerprint($node, 'postgres', $upto), $before, 'SIGKILL: every catalog row and model byte as before');
	is($node->safe_psql('postgres', "SELECT count(*) FROM pgml.deployments WHERE id > $upto AND strategy <> 'specific'"),
		'0', 'SIGKILL: the only new deployments are the switcher\'s');
	is($node->safe_psql('postgres', qq{
SET pgml_worker.predict_path = 'worker';
SELECT count(*) FROM flights f JOIN expected e USING (id), pgml.deployed_models d
 WHERE f.id <= 2000 AND pgml.predict('p', $PgmlLoad::FEATURES) = CASE d.id WHEN $A THEN e.a ELSE e.b END}),
		'2000', 'SIGKILL: the worker path answers 2000 rows right afterwards');
	like(slurp_file($node->logfile), qr/background worker "pgml_worker" \(PID $pid\) was terminated by signal 9/,
		'SIGKILL: the log names the killed worker');
	figure(sprintf('worker SIGKILL under 100 clients (auto path): crash restart, serving again after %.2f s; clients saw %s; %d wrong; catalog and models intact',
		$back // 99, errors_text($r->{errors}), $r->{wrong}));
}

# Fast restart of the whole server under load; then models are served
# without anyone deploying again.
{
	my $load = start_load($node, %load, seconds => 30, path => 'auto');
	sleep 3;
	my $t0 = time;
	$node->restart;    # pg_ctl restart: fast mode
	my $back = until_serving($t0);
	ok(defined $back, 'fast restart: serving resumed');
	sleep 2;
	my $r = finish_load($load, 1);
	check_load($r, 'fast restart');
	is_deeply(unexplained($r->{errors}, 'connection_lost', 'connect:connection_lost', 'DatabaseError', '57P01', '57P03'), {},
		'fast restart: clients saw only dropped connections')
	  or diag(errors_text($r->{errors}));
	my $deployments = $node->safe_psql('postgres', 'SELECT count(*) FROM pgml.deployments');
	my $t1 = time;
	$node->restart;
	my $idle_back = until_serving($t1);
	is($node->safe_psql('postgres', qq{
SET pgml_worker.predict_path = 'worker';
SELECT count(*) FROM flights f JOIN expected e USING (id), pgml.deployed_models d
 WHERE f.id <= 2000 AND pgml.predict('p', $PgmlLoad::FEATURES) = CASE d.id WHEN $A THEN e.a ELSE e.b END}),
		'2000', 'fast restart: the deployed model serves through the worker, right on 2000 rows');
	is($node->safe_psql('postgres', 'SELECT count(*) FROM pgml.deployments'), $deployments,
		'fast restart: nobody deployed again');
	figure(sprintf('fast restart of the server under 100 clients: serving again after %.2f s (%.2f s idle); clients saw %s; %d wrong; models served without re-deploying',
		$back // 99, $idle_back // 99, errors_text($r->{errors}), $r->{wrong}));
}

# Training under the same load: cancelled midway, next to serving, and with
# its table dropped or altered meanwhile.
$node->safe_psql('postgres', q{
CREATE TABLE big AS SELECT f.* FROM flights_train f, generate_series(1, 3);
CREATE TABLE t_drop AS SELECT * FROM flights_train;
CREATE TABLE t_alter AS SELECT * FROM flights_train;
});
my $slow = q{'{"n_estimators": 5000, "max_depth": 8}'};

# A background psql running $sql; returns the handle and its output refs.
sub background {
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-At', '-h', $node->host, '-p', $node->port, '-d', 'postgres',
		  '-c', 'SET client_min_messages = warning', '-c', $sql ],
		'>', \$out, '2>', \$err);
	return ($h, \$out, \$err);
}

sub active_pid {
	my ($pattern) = @_;
	my $pid = '';
	wait_until(20, sub {
		$pid = $node->safe_psql('postgres', qq{SELECT pid FROM pg_stat_activity WHERE query LIKE '%$pattern%' AND state = 'active' AND pid <> pg_backend_pid()});
		return $pid ne '';
	});
	return $pid;
}

{
	my $load = start_load($node, %load, seconds => 120, path => 'worker');
	my $upto = $node->safe_psql('postgres', 'SELECT max(id) FROM pgml.deployments');
	my $before = catalog_fingerprint($node, 'postgres', $upto);

	# Cancelled midway by pg_cancel_backend.
	my ($h, $out, $err) = background("SELECT * FROM pgml.train('slow', 'regression', 'big', 'depdelayminutes', hyperparams => $slow)");
	my $pid = active_pid('slow');
	sleep 2;
	my $t0 = time;
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	$h->finish;
	my $cancel_s = time - $t0;
	like($$err, qr/canceling statement due to user request/, 'training cancelled midway by pg_cancel_backend');
	ok($cancel_s < 5, sprintf('the cancel took effect in %.2f s', $cancel_s));
	# ... and by statement_timeout.
	my ($ret, $o, $e) = $node->psql('postgres',
		"SET statement_timeout = '1500ms'; SELECT * FROM pgml.train('slow2', 'regression', 'big', 'depdelayminutes', hyperparams => $slow)");
	like($e, qr/canceling statement due to statement timeout/, 'training stopped by statement_timeout');
	is($node->safe_psql('postgres', q{SELECT count(*) FROM pgml.projects WHERE name LIKE 'slow%'}), '0',
		'cancelled trainings left no project');
	is(catalog_fingerprint($node, 'postgres', $upto), $before, 'cancelled trainings left no project, snapshot or model row');
	figure(sprintf('training cancelled midway (pg_cancel_backend after 2 s, statement_timeout 1.5 s) under load: stopped %.2f s after the cancel; no project, snapshot or model row left', $cancel_s));

	# Training next to serving: a new project, and a new undeployed model of
	# the project being served.
	my ($h1, $out1, $err1) = background(q{SELECT deployed FROM pgml.train('q', 'regression', 'big', 'depdelayminutes', hyperparams => '{"n_estimators": 20}')});
	my ($h2, $out2, $err2) = background(q{SELECT deployed FROM pgml.train('p', hyperparams => '{"n_estimators": 30}', automatic_deploy => false)});
	$h1->finish;
	$h2->finish;
	chomp($$out1, $$out2);
	is($$out1, 't', 'training project q while serving p succeeded') or diag($$err1);
	is($$out2, 'f', 'training an undeployed model of p while serving p succeeded') or diag($$err2);

	# The training table dropped, then altered, while training reads it: the
	# DDL waits for the training's lock; the training finishes on the table
	# as it was; a later retraining on the snapshot fails cleanly.
	for my $case (['drop', 'dropped', 't_drop', 'DROP TABLE t_drop'],
				  ['alter', 'altered', 't_alter', 'ALTER TABLE t_alter ALTER COLUMN distance TYPE point USING point(distance, 0)']) {
		my ($what, $done, $table, $ddl) = @$case;
		my ($th, $tout, $terr) = background(qq{SELECT deployed FROM pgml.train('q_$what', 'regression', '$table', 'depdelayminutes', hyperparams => '{"n_estimators": 150, "max_depth": 6}')});
		my $tpid = active_pid("q_$what");
		# The DDL goes in once the training holds its lock on the table.
		wait_until(10, sub {
			$node->safe_psql('postgres', qq{SELECT count(*) FROM pg_locks WHERE pid = $tpid AND relation = '$table'::regclass AND granted}) ne '0' });
		my ($dh, $dout, $derr) = background($ddl);
		my $waiting = wait_until(10, sub {
			$node->safe_psql('postgres', qq{SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query = '$ddl'}) eq '1' });
		my $training_still = $node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE pid = $tpid AND state = 'active'");
		ok($waiting && $training_still eq '1', "$what during training: the DDL waits for the training");
		$th->finish;
		$dh->finish;
		chomp($$tout);
		is($$tout, 't', "$what during training: the training finished and deployed") or diag($$terr);
		is($$derr, '', "$what during training: the DDL ran after it");
		($ret, $o, $e) = $node->psql('postgres', "SELECT * FROM pgml.train('q_$what')");
		like($e, $what eq 'drop' ? qr/ERROR:  relation "public.t_drop" does not exist|ERROR:.*t_drop/ : qr/ERROR:.*distance/,
			"$what during training: retraining on the snapshot fails cleanly");
		is($node->safe_psql('postgres', qq{SET pgml_worker.predict_path = 'worker';
SELECT pgml.predict('q_$what', $PgmlLoad::FEATURES) = pgml.predict((SELECT max(id) FROM pgml.models), $PgmlLoad::FEATURES) FROM flights WHERE id = 3}),
			't', "$what during training: the model serves through the worker");
		figure("table $done during training under load: the DDL waited for the training, which finished; retraining on the snapshot then failed cleanly: " . ($e =~ /ERROR:  (.*)/)[0]);
	}

	my $r = finish_load($load, 1);
	check_load($r, 'training under load');
	is_deeply(unexplained($r->{errors}), {}, 'training under load: clients saw no error')
	  or diag(errors_text($r->{errors}) . ' ' . JSON::PP::encode_json($r->{messages}));
	figure(sprintf('training (cancelled, concurrent, table dropped/altered) under 100 clients, worker path, %.0f s: %d requests, %d wrong, errors: %s, p99 %.1f ms',
		$r->{seconds}, $r->{requests}, $r->{wrong}, errors_text($r->{errors}), $r->{p99_ms}));
}

my @crashes = grep { !/terminated by signal 9/ } server_crashes($node);
is(scalar(@crashes), 0, 'no server process crashed (other than the SIGKILL)') or diag(join("\n", @crashes));
$node->stop;
done_testing();
