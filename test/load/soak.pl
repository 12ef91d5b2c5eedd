# make soak: the checked load of the TAP tests for SOAK_MINUTES (default 60)
# against a throwaway cluster, deployments switching between two models,
# with a fault every SOAK_FAULT_EVERY seconds (default 60) in turn: worker
# terminated, worker SIGKILL (crash restart), fast restart of the server, a
# cancel storm, a training cancelled midway. Prints the driver's counters
# every 30 s and a summary (through diag: PostgreSQL::Test::Utils sends
# plain output to the log); exits non-zero on a wrong, stale or hung answer.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time sleep);
use PgmlLoad;

my $minutes = $ENV{SOAK_MINUTES} // 60;
my $every = $ENV{SOAK_FAULT_EVERY} // 60;
my $clients = $ENV{SOAK_CLIENTS} // 100;
my $seconds = $minutes * 60;

my $node = preloaded_node('soak', "max_connections = @{[ $clients + 60 ]}\npgml_worker.timeout_ms = 3000\nrestart_after_crash = on\n");
my ($A, $B) = setup_flights($node);
$node->safe_psql('postgres', 'CREATE TABLE big AS SELECT f.* FROM flights_train f, generate_series(1, 3)');
diag "soak: $minutes min, $clients clients, a fault every $every s; models $A and $B\n";

my $load = start_load($node, clients => $clients, seconds => $seconds, path => 'auto',
	models => "$A,$B", deploy_every => 0.5, progress => 30);
# The driver's progress lines go to its stderr; show them as they come.
my $shown = 0;
sub show_progress {
	$load->{h}->pump_nb;
	my $err = ${ $load->{err} };
	diag($_) for split /\n/, substr($err, $shown);
	$shown = length $err;
}

sub serving_after {
	my ($t0) = @_;
	while (time < $t0 + 120) {
		my ($ret, $out) = try_psql($node, 'postgres',
			"SET pgml_worker.predict_path = 'worker'; SELECT pgml.predict('p', $PgmlLoad::FEATURES) IS NOT NULL FROM flights WHERE id = 1");
		return time - $t0 if $ret == 0 && $out eq 't';
		sleep 0.05;
	}
	return 999;
}

# What went wrong besides the load's own counts.
my @problems;

# [name, the fault, 1 when serving is timed from the fault's end (it runs
# for a while) rather than from its start]
my @faults = (
	[ 'worker terminated', sub { $node->safe_psql('postgres', 'SELECT pg_terminate_backend(pid) FROM pgml.worker_stats()') }, 0 ],
	[ 'worker SIGKILL', sub {
		my $pid = worker_pid($node);
		die "soak: no worker to kill\n" unless $pid =~ /^\d+$/;
		kill 'KILL', $pid;
	}, 0 ],
	[ 'fast restart', sub { $node->restart }, 0 ],
	[ 'cancel storm', sub {
		my $storm = start_load($node, clients => 20, seconds => 10, path => 'worker', storm_share => 1);
		my $r = finish_load($storm);
		diag "soak: cancel storm: $r->{requests} requests, errors " . errors_text($r->{errors}) . ", $r->{wrong} wrong\n";
		push @problems, "cancel storm: $r->{wrong} wrong, $r->{hung} hung" if $r->{wrong} || $r->{hung};
	}, 1 ],
	[ 'training cancelled', sub {
		my ($out, $err) = ('', '');
		my $h = IPC::Run::start([ 'psql', '-X', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-c',
			q{SELECT * FROM pgml.train('soak_slow', 'regression', 'big', 'depdelayminutes', hyperparams => '{"n_estimators": 5000}')} ],
			'>', \$out, '2>', \$err);
		# Cancel once the training runs (not before it has started).
		my $active = q{FROM pg_stat_activity WHERE query LIKE '%soak_slow%' AND state = 'active' AND pid <> pg_backend_pid()};
		my $t = time;
		sleep 0.1 while $node->safe_psql('postgres', "SELECT count(*) $active") eq '0' && time < $t + 30;
		sleep 1;
		$node->safe_psql('postgres', "SELECT pg_cancel_backend(pid) $active");
		$h->finish;
		my $left = $node->safe_psql('postgres', q{SELECT count(*) FROM pgml.projects WHERE name = 'soak_slow'});
		diag "soak: training cancelled: projects left $left\n";
		push @problems, "cancelled training left $left projects" if $left ne '0';
	}, 1 ],
);

my $start = time;
my ($k, %recovery) = (0);
while (time < $start + $seconds - $every / 2) {
	my $next = time + $every;
	while (time < $next && time < $start + $seconds) {
		show_progress();
		sleep 1;
	}
	last if time >= $start + $seconds - 5;
	my ($name, $fault, $from_end) = @{ $faults[ $k++ % @faults ] };
	my $t0 = time;
	$fault->();
	$t0 = time if $from_end;
	my $back = serving_after($t0);
	push @{ $recovery{$name} }, $back;
	push @problems, "not serving 120 s after $name" if $back >= 999;
	diag sprintf "soak: %s at %.0f s: serving again after %.2f s\n", $name, $t0 - $start, $back;
}
my $r = finish_load($load);
show_progress();
for my $name (sort keys %recovery) {
	my @t = sort { $a <=> $b } @{ $recovery{$name} };
	diag sprintf "soak: %-20s x%d, serving again after %.2f s at most\n", $name, scalar(@t), $t[-1];
}
diag sprintf "soak: %d requests, %d wrong, %d stale, %d hung, %d deployments, errors: %s, p99 %.1f ms, longest gap %.2f s\n",
	$r->{requests}, $r->{wrong}, $r->{stale}, $r->{hung}, $r->{deploys}, errors_text($r->{errors}),
	$r->{p99_ms} // 0, $r->{max_gap_s};
my @crashes = grep { !/terminated by signal 9/ } server_crashes($node);
diag "soak: crashes other than the SIGKILLs: " . scalar(@crashes) . "\n";
$node->stop('immediate');
diag "soak: $_\n" for @problems;
my $bad = $r->{wrong} || $r->{stale} || $r->{hung} || @crashes || @problems;
diag 'soak: ' . ($bad ? 'FAILED' : 'passed') . "\n";
Test::More->builder->no_ending(1);
exit($bad ? 1 : 0);
