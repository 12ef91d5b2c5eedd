# Many connections predicting for the first time at once (after a restart,
# or after a deployment) miss the shared table of deployed models together;
# one of them reads the catalog and the others wait for its answer
# (src/shmem/deployed.hpp). Counted by the scans of pgml.projects, which
# every catalog read of a project's deployment makes once.
#
# And the wait never decides the answer nor outlives its bound: a waiter
# whose resolver hangs on a lock reads the catalog itself, and a resolver
# that is cancelled or terminated leaves no claim behind (else the next
# herd's waiters would each wait out the bound and read the catalog).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../load";
use PgmlLoad;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $clients = 50;
my $node = preloaded_node('first_predict', "max_connections = 80\n");
$node->safe_psql('postgres', q{
CREATE EXTENSION pgml_worker;
CREATE TABLE d AS SELECT (g % 50)::real AS a, (g % 7)::real AS b, ((g % 50) * 3 + g % 7)::real AS y
  FROM generate_series(1, 3000) g;
SELECT * FROM pgml.train('p', 'regression', 'd', 'y', hyperparams => '{"n_estimators": 20}');
SELECT * FROM pgml.train('q', 'regression', 'd', 'y', hyperparams => '{"n_estimators": 30}');
SELECT * FROM pgml.train('r', 'regression', 'd', 'y', hyperparams => '{"n_estimators": 40}');
});
my %expected = map {
	$_ => $node->safe_psql('postgres', "SELECT pgml.predict('$_', ARRAY[10, 3]::real[])")
} qw(p q r);

my $scans = sub {
	$node->safe_psql('postgres', q{
SELECT seq_scan + coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relid = 'pgml.projects'::regclass});
};
my $others_gone = sub {
	$node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()})
	  or die 'connections did not go away';
};
# A background psql running $sql; its handle and output.
sub background {
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-At', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-c', $sql ],
		'>', \$out, '2>', \$err);
	return { h => $h, out => \$out, err => \$err };
}
# The pid of the one session running $pattern, once it waits on $event.
sub waiting_on {
	my ($pattern, $event) = @_;
	my $pid = '';
	wait_until(30, sub {
		$pid = $node->safe_psql('postgres', qq{
SELECT pid FROM pg_stat_activity WHERE query LIKE '%$pattern%' AND wait_event = '$event' AND pid <> pg_backend_pid()});
		return $pid ne '';
	});
	return $pid;
}
# Every catalog read blocks behind this lock until the session holding it
# is cancelled.
sub lock_catalog {
	my $s = background('LOCK TABLE pgml.projects IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(301)');
	$s->{pid} = waiting_on('pg_sleep(301)', 'PgSleep') or die 'pgml.projects was not locked';
	return $s;
}

# $clients fresh connections (pgbench) predicting for the first time, once
# per project named, all at the same moment: each first waits at a gate
# (an advisory lock taken in the same statement, so that its parsing and
# planning are done when the gate opens). A wrong answer divides by zero
# and fails the run. Returns how many catalog reads they made (their
# statistics are flushed when they exit).
#
# The catalog stays locked for the first 0.2 s after the gate opens, so the
# first catalog read lasts that long whatever the machine's speed: each
# connection that reads the catalog meanwhile blocks, and one that waits for
# that reader's answer shows the Extension wait event.
my $herds = 0;
sub herd {
	my ($what, @projects) = @_;
	$others_gone->();
	my $before = $scans->();
	my $lock = lock_catalog();
	my $gate = background('SELECT pg_advisory_xact_lock(1); SELECT pg_sleep(302)');
	$gate->{pid} = waiting_on('pg_sleep(302)', 'PgSleep') or die 'the gate did not close';
	my $file = $node->basedir . '/herd' . ++$herds . '.sql';
	open(my $fh, '>', $file) or die "$file: $!";
	print $fh "SELECT pg_advisory_xact_lock_shared(1), 1 / (pgml.predict('$_', ARRAY[10, 3]::real[]) = '$expected{$_}'::real)::int;\n"
	  for @projects;
	close $fh;
	my ($out, $err) = ('', '');
	my $bench = IPC::Run::start(
		[ 'pgbench', '-n', '-c', $clients, '-j', '2', '-t', '1', '-f', $file, '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', \$out, '2>', \$err);
	ok($node->poll_query_until('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'advisory'},
			$clients), "$what: $clients connections wait at the gate");
	my ($opened, undef, $blocked) = split /\n/, $node->safe_psql('postgres', qq{
SELECT pg_cancel_backend($gate->{pid});
SELECT pg_sleep(0.2);
SELECT count(*) FILTER (WHERE wait_event = 'relation') FROM pg_stat_activity WHERE backend_type = 'client backend';
SELECT pg_cancel_backend($lock->{pid})});
	is($opened, 't', "$what: the gate opened");
	cmp_ok($blocked, '<=', 1,
		"$what: 0.2 s later, $blocked connection(s) read the catalog (and wait for its lock)");
	$_->{h}->finish for $gate, $lock;
	ok($bench->finish, "$what: $clients connections predicted for the first time at once, every answer right")
	  or diag($err);
	like($out, qr{processed: $clients/$clients}, "$what: every transaction ran");
	$others_gone->();
	return $scans->() - $before;
}

# --- after a restart: the table is empty
$node->restart;
my $reads = herd('after a restart', 'p');
cmp_ok($reads, '<=', 2, "after a restart, $clients connections read the catalog $reads time(s) between them");
figure("first predict of $clients connections at once after a restart: $reads catalog read(s)");

# --- a resolver that hangs, is cancelled, or is terminated
my $lock = lock_catalog();
# q's resolver, blocked; then a second backend for q gives up waiting for it
# after the bound and reads (and blocks) itself.
my $resolver = background(q{SELECT /* resolver */ pgml.predict('q', ARRAY[10, 3]::real[])});
my $resolver_pid = waiting_on('/* resolver */', 'relation');
ok($resolver_pid, "q's resolver waits for the lock");
my $waiter = background(q{SELECT /* waiter */ pgml.predict('q', ARRAY[10, 3]::real[])});
ok(waiting_on('/* waiter */', 'relation'), "a backend waiting for q's blocked resolver reads the catalog itself in the end");
# r's resolver, blocked, will be terminated (a FATAL: only its exit hook runs).
my $doomed = background(q{SELECT /* doomed */ pgml.predict('r', ARRAY[10, 3]::real[])});
my $doomed_pid = waiting_on('/* doomed */', 'relation');
ok($doomed_pid, "r's resolver waits for the lock");

is($node->safe_psql('postgres', "SELECT pg_cancel_backend($resolver_pid)"), 't', "q's resolver cancelled");
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($doomed_pid)"), 't', "r's resolver terminated");
$_->{h}->finish for $resolver, $doomed;
like(${ $resolver->{err} }, qr/canceling statement due to user request/, 'the cancelled resolver got the cancel');
is($node->safe_psql('postgres', "SELECT pg_cancel_backend($lock->{pid})"), 't', 'the lock released');
$_->{h}->finish for $lock, $waiter;
is(${ $waiter->{out} }, "$expected{q}\n", 'the waiter that read the catalog itself has the right answer')
  or diag(${ $waiter->{err} });

# A catalog change makes every entry stale. Had a claim of q or r been left
# behind, every connection of this herd would wait out the bound and read.
$node->safe_psql('postgres', 'UPDATE pgml.projects SET updated_at = updated_at WHERE false');
$reads = herd('after a cancelled and a terminated resolver', 'q', 'r');
cmp_ok($reads, '<=', 2, "then, $clients connections predicting q and r read the catalog $reads time(s) between them");

$node->stop;
done_testing();
