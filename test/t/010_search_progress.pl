# A long hyperparameter search reports its progress and stays cancellable:
# with pgml_worker.train_progress = 1 a search of several seconds sends
# "search fit i of n" NOTICEs (none with 0), and pg_cancel_backend stops a
# search in a few seconds at most, leaving no project, snapshot or model.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../load";
use PgmlLoad;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use IPC::Run;

my $node = preloaded_node('search_progress');
$node->safe_psql('postgres', q{
CREATE EXTENSION pgml_worker;
CREATE TABLE d AS SELECT (g % 50)::real AS a, (g % 7)::real AS b, sin(g)::real AS c,
                         ((g % 50) * 3 + g % 7 + sin(g))::real AS y
  FROM generate_series(1, 20000) g;
});

# A search of 6 candidates x 3 folds, each fit 500 rounds: several seconds
# here (3 notices at 300 rounds), at least one wherever it runs.
my $search = q{SELECT * FROM pgml.train('s', 'regression', 'd', 'y', hyperparams => '{"n_estimators": 500, "nthread": 1}',
  search => 'grid', search_params => '{"max_depth": [4, 6, 8], "eta": [0.1, 0.3]}', search_args => '{"cv": 3}')};

my ($rc, $out, $err) = $node->psql('postgres', "SET pgml_worker.train_progress = 1; $search");
is($rc, 0, 'the search trains') or diag($err);
my @fits = $err =~ /NOTICE:  pgml\.train: (?:cross-validation fit|search fit) (\d+) of 18/g;
ok(@fits >= 1, 'progress notices name the search fit out of 18 (' . scalar(@fits) . ' notices)');
my @sorted = sort { $a <=> $b } @fits;
is("@fits", "@sorted", 'the fits reported only go forward');
like($err, qr/search fit \d+ of 18: boosting round \d+ of 500/, 'a notice inside a fit says which fit and which round');

($rc, $out, $err) = $node->psql('postgres', "SET pgml_worker.train_progress = 0; $search");
is($rc, 0, 'the search trains again');
unlike($err, qr/pgml\.train:/, 'train_progress = 0: no notices');

# Cancel in the middle of a search.
my $before = $node->safe_psql('postgres', q{SELECT (SELECT count(*) FROM pgml.models) || '/' || (SELECT count(*) FROM pgml.snapshots)});
my ($bout, $berr) = ('', '');
my $h = IPC::Run::start(
	[ 'psql', '-X', '-q', '-At', '-h', $node->host, '-p', $node->port, '-d', 'postgres',
	  '-c', $search =~ s/'s'/'cancelled'/r ],
	'>', \$bout, '2>', \$berr);
my $pid = '';
wait_until(30, sub {
	$pid = $node->safe_psql('postgres', q{
SELECT pid FROM pg_stat_activity WHERE query LIKE '%cancelled%' AND state = 'active' AND pid <> pg_backend_pid()});
	return $pid ne '';
}) or die 'the search did not start';
sleep 1;
my $t0 = time;
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$h->finish;
my $took = time - $t0;
like($berr, qr/canceling statement due to user request/, 'the search was cancelled');
ok($took < 10, sprintf('the cancelled search stopped in %.2f s', $took));
is($node->safe_psql('postgres', q{SELECT (SELECT count(*) FROM pgml.models) || '/' || (SELECT count(*) FROM pgml.snapshots)}),
	$before, 'nothing of the cancelled search is in the catalog');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgml.projects WHERE name = 'cancelled'}), '0', 'no project either');
figure(sprintf('search progress: %d notices over a 18-fit search with train_progress = 1, none with 0; a cancel stopped a search in %.2f s, catalog unchanged',
	scalar(@fits), $took));

$node->stop;
done_testing();
