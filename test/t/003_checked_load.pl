# 100 clients predict random rows of the flights sample through the worker
# while every answer is checked against the backend path's answers of the
# two models a switcher deploys in turn: steady load, a cancel storm, and
# far fewer request slots than clients.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../load";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgmlLoad;

my $node = preloaded_node('load', "max_connections = 130\n");
my ($A, $B) = setup_flights($node);
my $models = "$A,$B";

# Steady load without deployments: not a single error.
my $r = finish_load(start_load($node, clients => 100, seconds => 10, path => 'worker'));
check_load($r, 'steady load');
is(error_count($r->{errors}), 0, 'steady load: no client error') or diag(errors_text($r->{errors}));
figure(sprintf('steady load, 100 clients, worker path, 10 s: %d requests, %d wrong, errors: %s, p50 %.2f ms, p99 %.2f ms',
	$r->{requests}, $r->{wrong}, errors_text($r->{errors}), $r->{p50_ms}, $r->{p99_ms}));

# The worker's counts of requests scored in place and queued.
my $counts = sub { split /\|/, $node->safe_psql('postgres', 'SELECT in_place, requests FROM pgml.worker_stats()') };
my @before = $counts->();

# The same with a deployment every 0.25 s switching between A and B: every
# answer is A's or B's, and each client's next statement after a deployment
# commits uses it. Half the clients score in place, half are queued to the
# pool (both forced).
$r = finish_load(start_load($node, clients => 100, seconds => 15, path => 'mixed',
	models => $models, deploy_every => 0.25));
my @after = $counts->();
cmp_ok($after[0] - $before[0], '>', 1000, 'deploy switching: requests were scored in place (' . ($after[0] - $before[0]) . ')');
cmp_ok($after[1] - $before[1], '>', 1000, 'deploy switching: requests were queued to the pool (' . ($after[1] - $before[1]) . ')');
check_load($r, 'deploy switching');
# (A deployment every 0.25 s is asked for; the switcher shares the load
# driver's process with 100 busy clients, and got 19-60 through in 15 s
# on 2 cores. What matters is that answers stay right while they happen.)
cmp_ok($r->{deploys}, '>', 10, "deploy switching: $r->{deploys} deployments");
ok($r->{answers_a} > 0 && $r->{answers_b} > 0, 'deploy switching: both models answered');
cmp_ok($r->{stale_checked}, '>', 1000, "deploy switching: $r->{stale_checked} answers checked against the deployment of their whole request");
is_deeply($r->{deploy_errors}, {}, 'deploy switching: every deployment succeeded')
  or diag(errors_text($r->{deploy_errors}));
is(error_count($r->{errors}), 0, 'deploy switching: no client error on the worker path')
  or diag(errors_text($r->{errors}) . ': ' . JSON::PP::encode_json($r->{messages}));
figure(sprintf('deploy switching, 100 clients, half in place and half queued, 15 s, %d deployments: %d requests (A %d, B %d), %d wrong, %d stale, errors: %s',
	$r->{deploys}, $r->{requests}, $r->{answers_a}, $r->{answers_b}, $r->{wrong}, $r->{stale},
	errors_text($r->{errors})));

# Cancel storm: 30 of the 100 clients run with statement_timeout = 1ms, so
# their statements are cancelled while they wait on the worker. They see
# only cancels; the other clients never see one; every slot comes back.
$r = finish_load(start_load($node, clients => 100, seconds => 10, path => 'worker',
	storm_share => 0.3, models => $models, deploy_every => 0.25));
check_load($r, 'cancel storm');
my @storm_kinds = grep { $_ ne '57014' } keys %{ $r->{storm_errors} };
is(scalar(@storm_kinds), 0, 'cancel storm: cancelled clients see only 57014 (query_canceled)')
  or diag(errors_text($r->{storm_errors}));
cmp_ok($r->{storm_errors}{'57014'} // 0, '>', 100, 'cancel storm: many statements were cancelled');
is(error_count($r->{checked_errors}, '57014', '58000', '55000'), 0,
	'cancel storm: the other 70 clients see no cancel, timeout or unavailable worker')
  or diag(errors_text($r->{checked_errors}));
ok(wait_until(10, sub { $node->safe_psql('postgres', 'SELECT free_slots = queue_slots FROM pgml.worker_stats()') eq 't' }),
	'cancel storm: every slot is free again');
figure(sprintf('cancel storm, 30 of 100 clients with statement_timeout 1 ms, 10 s: %d requests, %d cancelled, %d answered and checked, %d wrong; other clients errors: %s',
	$r->{requests}, $r->{storm_errors}{'57014'} // 0, $r->{ok}, $r->{wrong},
	errors_text($r->{checked_errors})));

# Eviction storm: pgml_worker.model_memory holds one of the two models
# only, so every switch of the deployment evicts the other model and
# retires its shared forest while clients still score it in place; it is
# handed over again at once. A forest freed under a reader would answer
# wrongly, fail (its poisoned header is checked) or crash the backend.
my $one = $node->safe_psql('postgres', "SELECT max(length(data)) FROM pgml.models WHERE id IN ($models)");
$node->safe_psql('postgres', "ALTER SYSTEM SET pgml_worker.model_memory = '" . (int($one / 1024) + 1) . "kB'");
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
my $loads = sub { my $log = slurp_file($node->logfile); my $n = () = $log =~ /is served by its compiled forest, in shared memory/g; $n };
my $loads_before = $loads->();
$r = finish_load(start_load($node, clients => 100, seconds => 10, path => 'mixed',
	models => $models, deploy_every => 0.25));
check_load($r, 'eviction storm');
my $reloads = $loads->() - $loads_before;
cmp_ok($reloads, '>', 4, "eviction storm: forests were retired and built again ($reloads times)");
is(error_count($r->{errors}, '58000', '55000', 'XX000'), 0, 'eviction storm: no timeout, unavailable worker or internal error')
  or diag(errors_text($r->{errors}));
ok(wait_until(10, sub { $node->safe_psql('postgres', q{
SELECT s.forests = m.n AND s.forest_bytes > 0
  FROM pgml.worker_stats() s, (SELECT count(*) AS n FROM pgml.worker_models() WHERE engine = 'forest') m}) eq 't' }),
	'eviction storm: afterwards the arena holds the forests of the models held, no more');
figure(sprintf('eviction storm, room for one of two models, 100 clients, half in place, 10 s: %d requests, %d forests built again, %d wrong, %d stale, errors: %s',
	$r->{requests}, $reloads, $r->{wrong}, $r->{stale}, errors_text($r->{errors})));
$node->safe_psql('postgres', 'ALTER SYSTEM RESET pgml_worker.model_memory');
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');

# Slot exhaustion: 8 request slots for 100 clients. Backends wait for a
# slot (cancellably) instead of failing.
$node->append_conf('postgresql.conf', "pgml_worker.queue_slots = 8\n");
$node->restart;
is($node->safe_psql('postgres', 'SELECT queue_slots FROM pgml.worker_stats()'), '8', 'restarted with 8 slots');
$r = finish_load(start_load($node, clients => 100, seconds => 10, path => 'worker',
	models => $models, deploy_every => 0.25));
check_load($r, '8 slots for 100 clients');
is(error_count($r->{errors}, '58000', '55000', '53000', '53300'), 0,
	'8 slots for 100 clients: nobody timed out or was refused')
  or diag(errors_text($r->{errors}));
ok(wait_until(10, sub { $node->safe_psql('postgres', 'SELECT free_slots = 8 FROM pgml.worker_stats()') eq 't' }),
	'8 slots for 100 clients: every slot is free again');
figure(sprintf('slot exhaustion, 8 slots for 100 clients, 10 s: %d requests, %d wrong, errors: %s, p99 %.1f ms, slowest %.2f s',
	$r->{requests}, $r->{wrong}, errors_text($r->{errors}), $r->{p99_ms}, $r->{max_latency_s}));

is(scalar(server_crashes($node)), 0, 'no server process crashed');
$node->stop;
done_testing();
