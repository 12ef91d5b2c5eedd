# The worker where it meets Postgres: a cancel leaves it serving; XGBoost
# starts no threads of its own in the worker or in a backend on the backend
# path; and after injected faults (a scoring thread throwing mid-batch, a
# model load throwing, a Postgres ERROR while a hand-over segment is
# attached) every request slot comes back and the worker goes on.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../load";
use PgmlLoad;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $threads = 2;
my $node = preloaded_node('edges', "pgml_worker.threads = $threads\npgml_worker.queue_slots = 16\n");
$node->safe_psql('postgres', q{
CREATE EXTENSION pgml_worker;
CREATE TABLE d AS SELECT (g % 50)::real AS a, (g % 7)::real AS b, ((g % 50) * 3 + g % 7)::real AS y
  FROM generate_series(1, 3000) g;
SELECT * FROM pgml.train('p1', 'regression', 'd', 'y', hyperparams => '{"n_estimators": 30}');
SELECT * FROM pgml.train('p2', 'regression', 'd', 'y', hyperparams => '{"n_estimators": 300}');
SELECT * FROM pgml.train('p3', 'regression', 'd', 'y', hyperparams => '{"n_estimators": 90}');
});
my $predict_all = q{SELECT pgml.predict('p1', ARRAY[10, 3]::real[]) > 0 AND pgml.predict('p2', ARRAY[10, 3]::real[]) > 0
  AND pgml.predict('p3', ARRAY[10, 3]::real[]) > 0};
is($node->safe_psql('postgres', $predict_all), 't', 'three models served by the worker');

# --- threads: the main thread and the scoring threads, nothing else
# (XGBoost 1.7's loader starts an OpenMP team for a model of a few hundred
# trees unless told otherwise, as p2 is)
my $wpid = worker_pid($node);
my $tasks = sub { $node->safe_psql('postgres', "SELECT count(*) FROM pg_ls_dir('/proc/$_[0]/task')") };
is($node->safe_psql('postgres', 'SELECT models_loaded FROM pgml.worker_stats()'), '3', 'the worker holds three models');
is($tasks->($wpid), 1 + $threads, "after loading three models the worker has 1 + $threads threads");
# (Two statements: an aggregate would count before the predictions ran.)
is($node->safe_psql('postgres', q{
SET pgml_worker.predict_path = 'backend';
SELECT pgml.predict('p1', ARRAY[10, 3]::real[]) > 0 AND pgml.predict('p2', ARRAY[10, 3]::real[]) > 0;
SELECT count(*) FROM pg_ls_dir('/proc/' || pg_backend_pid() || '/task')}), "t\n1",
	'a backend that loaded two boosters on the backend path has one thread');

# --- a cancel is not a restart
my $models = q{SELECT string_agg(model_id::text, ',' ORDER BY model_id) FROM pgml.worker_models()};
my $before = $node->safe_psql('postgres', $models);
is($node->safe_psql('postgres', "SELECT pg_cancel_backend($wpid)"), 't', 'the worker was sent a cancel');
sleep 1.5;    # a restart would be under way by now (bgw_restart_time = 1 s)
is(worker_pid($node), $wpid, 'after a cancel the worker is the same process');
is($node->safe_psql('postgres', $models), $before, 'and holds the same models');
is($node->safe_psql('postgres', $predict_all), 't', 'and answers');

# --- engines: tree models are scored by their compiled forests, checked
# against XGBoost at load; a linear model stays on XGBoost. Answers equal
# the backend path's (XGBoost in the backend) on every row of d.
$node->safe_psql('postgres', q{SELECT * FROM pgml.train('lin', 'regression', 'd', 'y', hyperparams => '{"booster": "gblinear", "n_estimators": 10}')});
is($node->safe_psql('postgres', q{SELECT pgml.predict('lin', ARRAY[10, 3]::real[]) > 0}), 't', 'the linear model is served');
my $log = slurp_file($node->logfile);
my $forests = () = $log =~ /is served by its compiled forest/g;
is($forests, 3, 'the three tree models are served by compiled forests');
like($log, qr/is served by XGBoost \(not compiled into a forest: booster gblinear/, 'the linear model by XGBoost, and the log says why');
like($node->safe_psql('postgres', q{SELECT engine || ': ' || coalesce(engine_note, '') FROM pgml.worker_models()
  WHERE model_id = (SELECT id FROM pgml.deployed_models WHERE name = 'lin')}),
	qr/^xgboost: not compiled into a forest: booster gblinear/, 'and so does pgml.worker_models()');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgml.worker_models() WHERE engine = 'forest' AND engine_note IS NULL}),
	'3', 'which lists the tree models on their forests');
is($node->safe_psql('postgres', q{
CREATE TEMP TABLE on_worker AS SELECT a, b, pgml.predict('p2', ARRAY[a, b]) AS v, pgml.predict('lin', ARRAY[a, b]) AS l FROM d;
SET pgml_worker.predict_path = 'backend';
SELECT count(*) FROM on_worker WHERE v IS DISTINCT FROM pgml.predict('p2', ARRAY[a, b])
                                   OR l IS DISTINCT FROM pgml.predict('lin', ARRAY[a, b])}), '0',
	'every answer of the forest and of the worker\'s XGBoost equals the backend path\'s');

# --- injected faults: every slot comes back
my $slots = q{SELECT free_slots FROM pgml.worker_stats()};
my $set_fault = sub {
	my ($fault) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET pgml_worker.debug_inject_fault = '$fault'; SELECT pg_reload_conf()");
};
# Each request until the deadline fails; a few at once from several sessions.
my $storm = sub {
	my ($sql, $n) = @_;
	my @errs;
	for my $i (1 .. $n) {
		my ($ret, $out, $err) = $node->psql('postgres', $sql);
		push @errs, $err if $ret != 0;
	}
	return @errs;
};

# (The pool's threads throw; rows scored in place do not go through them.)
my $queued = q{SET pgml_worker.predict_path = 'queued'; };
$set_fault->('score');
ok(wait_until(10, sub { ($node->psql('postgres', $queued . q{SELECT pgml.predict('p1', ARRAY[1, 1]::real[])}))[0] != 0 }),
	'with the score fault, queued predictions fail');
my @errs = $storm->($queued . q{SELECT pgml.predict('p1', ARRAY[g, 1]::real[]) FROM generate_series(1, 20) g}, 10);
is(scalar(@errs), 10, 'every queued statement failed under the score fault');
like($errs[0], qr/injected fault: a scoring thread failed mid-batch/, 'with the scoring thread\'s error');
is($node->safe_psql('postgres', q{SET pgml_worker.predict_path = 'inplace'; SELECT count(pgml.predict('p1', ARRAY[g, 1]::real[])) FROM generate_series(1, 20) g}),
	'20', 'rows scored in place from the shared forest are answered meanwhile');
is($node->safe_psql('postgres', $slots), '16', 'every slot came back after scoring threads threw');

$set_fault->('load');
$node->safe_psql('postgres', q{SELECT * FROM pgml.train('p4', 'regression', 'd', 'y', hyperparams => '{"n_estimators": 5}')});
@errs = $storm->(q{SELECT pgml.predict('p4', ARRAY[1, 1]::real[])}, 5);
is(scalar(@errs), 5, 'a model that fails to load fails every prediction');
like($errs[0], qr/could not load model \d+: injected fault: loading a model failed/, 'with the load\'s error');
is($node->safe_psql('postgres', $slots), '16', 'every slot came back after loads threw');
is(worker_pid($node), $wpid, 'the worker kept running through both faults');

# A Postgres ERROR in the worker's main thread while it holds a hand-over
# segment: answered to the request, the segment released, the worker on.
# Every process maps the DSM control segment; count what comes on top.
my $dsm_maps = sub { my $m = slurp_file("/proc/$wpid/maps"); my $n = () = $m =~ m{/dev/shm/PostgreSQL\.}g; $n };
my $dsm_before = $dsm_maps->();
$set_fault->('handoff');
$node->safe_psql('postgres', q{SELECT * FROM pgml.train('p5', 'regression', 'd', 'y', hyperparams => '{"n_estimators": 5}')});
@errs = $storm->(q{SELECT pgml.predict('p5', ARRAY[1, 1]::real[])}, 5);
is(scalar(@errs), 5, 'a hand-over that fails in Postgres fails every prediction');
like($errs[0], qr/could not load model \d+: injected fault: reading a handed-over model failed/, 'with the ERROR\'s message');
is($node->safe_psql('postgres', $slots), '16', 'every slot came back after the hand-overs failed');
is(worker_pid($node), $wpid, 'the worker kept running through the ERRORs');
is($dsm_maps->(), $dsm_before, 'the worker has no hand-over segment mapped any more');

$set_fault->('none');
ok(wait_until(10, sub { ($node->psql('postgres', q{SELECT pgml.predict('p4', ARRAY[1, 1]::real[]) > 0 AND pgml.predict('p5', ARRAY[1, 1]::real[]) > 0}))[1] eq 't' }),
	'without the fault the models load and serve');
is($node->safe_psql('postgres', $predict_all), 't', 'and so do the others');
is($node->safe_psql('postgres', $slots), '16', 'all slots free at the end');

$node->stop;
done_testing();
