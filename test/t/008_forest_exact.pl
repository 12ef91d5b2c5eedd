# Every answer of the serving paths equals XGBoost's, bit for bit: for a
# sweep of models trained here with pgml.train (regression, binary and
# multi-class; depths 1 to 12; 1 to 500 trees; base_score other than 0.5;
# NULL features in training; hist and exact) and for models trained by
# XGBoost's Python package and imported (hist, exact, approx), pgml.predict,
# pgml.predict_proba and pgml.predict_batch under each path of @PATHS give
# on 10,000 rows per model what python3-xgboost gives on the exported bytes.
# The rows come from each model's own split thresholds (exact, and their
# float neighbours), with NaN, ±Inf, ±FLT_MAX, ±0, denormals and realistic
# values (test/python/forest_exact.py). Models the forest compiler refuses
# (dart, gblinear) are served by XGBoost with the same answers, and
# pgml.worker_models() says which engine scores each model.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../load";
use PgmlLoad;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

# The serving paths compared (pgml_worker.predict_path): in place from the
# shared compiled forest, and the worker's pool. 'worker' (the default
# policy choosing between the two) and 'backend' (XGBoost in the connection)
# may be added. PGML_EXACT_PATHS (comma-separated) overrides the list.
my @PATHS = $ENV{PGML_EXACT_PATHS} ? split(/,/, $ENV{PGML_EXACT_PATHS}) : ('inplace', 'queued');
my $ROWS = 10_000;    # rows per model
my $CLIENTS = 10;     # sessions scoring at once per model and path, so the pool scores batches
my $python = '/usr/bin/python3';
my $script = "$FindBin::Bin/../python/forest_exact.py";
my $started = time;

# The pool scores batches: its one thread waits (up to 2 ms) for a request
# of each of the $CLIENTS sessions and scores them together, tree by tree
# over the batch. A generous timeout: a loaded CI machine is slow, not wrong.
my $node = preloaded_node('forest_exact',
	"pgml_worker.threads = 1\npgml_worker.max_batch = $CLIENTS\npgml_worker.max_wait_us = 2000\n"
	  . "pgml_worker.timeout_ms = 60000\n");
my $dir = $node->basedir . '/exact';
mkdir $dir or die "mkdir $dir: $!";
my $sessions = 0;    # psql scripts written (start_psql)

# --- training data (deterministic): continuous, integer-valued (ties at
# thresholds), few-level and skewed features; copies with NULLs (missing
# values) in about 12 % of the feature cells.
$node->safe_psql('postgres', q{
CREATE EXTENSION pgml_worker;
SELECT setseed(0.42);
CREATE TABLE base AS
SELECT g AS id, (random() * 100)::real AS a, (g % 37)::real AS b, (random() * 2 - 1)::real AS c,
       floor(random() * 5)::real AS d, (random() ^ 3 * 1e6)::real AS e, (random() < 0.3)::int::real AS f,
       random() AS noise, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5
  FROM generate_series(1, 3000) g;
CREATE VIEW score AS
SELECT *, a * 0.5 + sin(c * 3) * 10 + b * 0.2 + d * 3 + ln(1 + e) + f * 4 + noise * 4 AS s FROM base;
CREATE TABLE reg AS SELECT s::real AS y, a, b, c, d, e, f FROM score ORDER BY id;
CREATE TABLE reg_nan AS
SELECT s::real AS y, CASE WHEN r1 < 0.12 THEN NULL ELSE a END AS a, b,
       CASE WHEN r2 < 0.12 THEN NULL ELSE c END AS c, CASE WHEN r3 < 0.12 THEN NULL ELSE d END AS d,
       CASE WHEN r4 < 0.12 THEN NULL ELSE e END AS e, CASE WHEN r5 < 0.5 THEN NULL ELSE f END AS f
  FROM score ORDER BY id;
CREATE TABLE reg_unit AS SELECT (1 / (1 + exp(-(s - 40) / 8)))::real AS y, a, b, c, d, e, f FROM score ORDER BY id;
CREATE TABLE bin AS SELECT (s > 45)::int AS y, a, b, c, d, e, f FROM score ORDER BY id;
CREATE TABLE bin_nan AS SELECT (y > 45)::int AS y, a, b, c, d, e, f FROM reg_nan;
CREATE TABLE multi3 AS
SELECT CASE WHEN s < 35 THEN 10 WHEN s < 50 THEN 20 ELSE 30 END AS y, a, b, c, d, e, f FROM score ORDER BY id;
CREATE TABLE multi5_nan AS
SELECT least(4, greatest(0, floor((y - 20) / 10)))::int AS y, a, b, c, d, e, f FROM reg_nan;
});

# [project (and model) name, training table, task, hyperparams]
my @trained = (
	[ 'reg_d1_t1',      'reg',        'regression',     '{"n_estimators": 1, "max_depth": 1}' ],
	[ 'reg_d12_t50',    'reg',        'regression',     '{"n_estimators": 50, "max_depth": 12}' ],
	[ 'reg_d3_t500',    'reg',        'regression',     '{"n_estimators": 500, "max_depth": 3}' ],
	[ 'reg_base',       'reg',        'regression',     '{"n_estimators": 60, "max_depth": 6, "base_score": 42.5}' ],
	[ 'reg_nan_hist',   'reg_nan',    'regression',     '{"n_estimators": 60, "max_depth": 6, "base_score": -3.75}' ],
	[ 'reg_nan_exact',  'reg_nan',    'regression',     '{"n_estimators": 30, "max_depth": 6, "tree_method": "exact"}' ],
	[ 'reg_logistic',   'reg_unit',   'regression',     '{"n_estimators": 50, "max_depth": 5, "objective": "reg:logistic", "base_score": 0.3}' ],
	[ 'bin_d1_t1',      'bin',        'classification', '{"n_estimators": 1, "max_depth": 1}' ],
	[ 'bin_base02',     'bin',        'classification', '{"n_estimators": 60, "max_depth": 6, "base_score": 0.2}' ],
	[ 'bin_nan_d12',    'bin_nan',    'classification', '{"n_estimators": 40, "max_depth": 12, "base_score": 0.7}' ],
	[ 'multi3',         'multi3',     'classification', '{"n_estimators": 50, "max_depth": 4}' ],
	[ 'multi5_nan',     'multi5_nan', 'classification', '{"n_estimators": 30, "max_depth": 8, "base_score": 0.3}' ],
	[ 'multi5_d1_t1',   'multi5_nan', 'classification', '{"n_estimators": 1, "max_depth": 1}' ],
	# refused by the forest compiler: no trees
	[ 'lin',            'reg_nan',    'regression',     '{"booster": "gblinear", "n_estimators": 20}' ],
);
my %refused = (lin => 'gblinear', imp_dart => 'dart');

my $t0 = time;
for my $m (@trained) {
	my ($name, $table, $task, $hp) = @$m;
	# One OpenMP thread: on a loaded machine XGBoost's thread team waits
	# for CPUs far longer than one thread computes.
	$hp =~ s/^\{/{"nthread": 1, /;
	my $t = time;
	$node->safe_psql('postgres', "SELECT * FROM pgml.train('$name', '$task', '$table', 'y', hyperparams => '$hp')");
	note(sprintf('trained %s in %.1f s', $name, time - $t));
}
note(sprintf('trained %d models in %.1f s', scalar(@trained), time - $t0));

# --- imported: trained by XGBoost's Python package
$t0 = time;
my @imported;
for my $line (split /\n/, run_python('imports', $dir)) {
	my $m = decode_json($line);
	$node->safe_psql('postgres',
		"SELECT pgml.import_model('$m->{name}', '$m->{task}', pg_read_binary_file('$m->{file}'))");
	push @imported, $m->{name};
}
note(sprintf('trained and imported %d models with XGBoost\'s Python package in %.1f s', scalar(@imported), time - $t0));
my @names = ((map { $_->[0] } @trained), @imported);

# --- the manifest and the exported bytes, XGBoost's side of each model
my @models;
for my $name (@names) {
	my ($id, $task, $classes) = split /\|/, $node->safe_psql('postgres', qq{
SELECT d.id || '|' || d.task || '|' || coalesce(array_to_json(m.classes)::text, 'null')
  FROM pgml.deployed_models d JOIN pgml.models m ON m.id = d.id WHERE d.name = '$name'});
	$node->safe_psql('postgres',
		"COPY (SELECT encode(pgml.export_model($id), 'hex')) TO '$dir/$name.hex'");
	push @models, { name => $name, id => $id + 0, task => $task, classes => decode_json($classes) };
}
open(my $fh, '>', "$dir/models.json") or die;
print $fh encode_json(\@models);
close $fh;

$t0 = time;
my %info;
for my $line (split /\n/, run_python('rows', $dir, $ROWS)) {
	my $i = decode_json($line);
	$info{ $i->{name} } = $i;
	note("$i->{name}: $i->{booster} $i->{objective}, base_score $i->{base_score}, $i->{trees} trees of depth up to $i->{depth}, "
		  . "$i->{features} features, $i->{thresholds} distinct thresholds; $i->{rows} rows "
		  . "($i->{nan_cells} NaN and $i->{inf_cells} ±Inf cells); XGBoost: $i->{xgboost}");
}
note(sprintf('generated the rows and XGBoost\'s answers in %.1f s', time - $t0));

# --- the rows, in Postgres; read back as bits to prove they arrived exact
$t0 = time;
for my $m (@models) {
	my $n = $m->{name};
	$node->safe_psql('postgres', qq{
CREATE TABLE rows_$n (id int PRIMARY KEY, x real[] NOT NULL);
COPY rows_$n FROM '$dir/$n.rows';
COPY (SELECT id, (SELECT string_agg(encode(float4send(u), 'hex'), ' ' ORDER BY o)
                    FROM unnest(x) WITH ORDINALITY q(u, o)) FROM rows_$n) TO '$dir/$n.inputs';
});
}
note(sprintf('loaded the rows in %.1f s', time - $t0));

# --- every path, every model: predict (and predict_proba) from $CLIENTS
# sessions at once, each a share of the rows; predict_batch on all rows.
my %errors;    # "model path" => error text
for my $path (@PATHS) {
	$t0 = time;
	my $stats_before = $node->safe_psql('postgres', 'SELECT requests || \'|\' || batches FROM pgml.worker_stats()');
	for my $m (@models) {
		my $n = $m->{name};
		my $set = "SET pgml_worker.predict_path = '$path';\n";
		my @sessions;
		for my $k (0 .. $CLIENTS - 1) {
			my $sql = $set . qq{COPY (SELECT id, encode(float4send(pgml.predict('$n', x)), 'hex') FROM rows_$n
  WHERE id % $CLIENTS = $k) TO '$dir/$n.$path.predict.$k';\n};
			$sql .= qq{COPY (SELECT id, (SELECT string_agg(encode(float4send(u), 'hex'), ' ' ORDER BY o)
                    FROM unnest(p) WITH ORDINALITY q(u, o))
  FROM (SELECT id, pgml.predict_proba('$n', x) AS p FROM rows_$n WHERE id % $CLIENTS = $k OFFSET 0) s)
  TO '$dir/$n.$path.proba.$k';\n} if $m->{task} eq 'classification';
			push @sessions, start_psql($sql);
		}
		push @sessions, start_psql($set . qq{COPY (SELECT o - 1, encode(float4send(v), 'hex')
  FROM pgml.predict_batch('$n', (SELECT array_agg(x ORDER BY id) FROM rows_$n)) WITH ORDINALITY t(v, o))
  TO '$dir/$n.$path.batch';\n});
		my @err = grep { defined } map { finish_psql($_) } @sessions;
		$errors{"$n $path"} = $err[0] if @err;
	}
	my ($r0, $b0) = split /\|/, $stats_before;
	my ($r1, $b1) = split /\|/, $node->safe_psql('postgres', 'SELECT requests || \'|\' || batches FROM pgml.worker_stats()');
	note(sprintf('path %s: every model scored in %.1f s; the worker scored %d requests in %d batches '
		  . '(%.2f a batch)', $path, time - $t0, $r1 - $r0, $b1 - $b0, ($b1 - $b0) ? ($r1 - $r0) / ($b1 - $b0) : 0));
}

# --- compare, bit for bit
$t0 = time;
my %result;
for my $line (split /\n/, run_python('check', $dir, join(',', @PATHS))) {
	my $r = decode_json($line);
	$result{"$r->{model} $r->{path}"} = $r;
}
note(sprintf('compared in %.1f s', time - $t0));

for my $m (@models) {
	my $n = $m->{name};
	my $r = $result{"$n (inputs)"};
	ok($r && !$r->{error} && $r->{rows} == $ROWS && $r->{differing}{inputs} == 0,
		"$n: the $ROWS rows reached Postgres bit for bit");
	diag(encode_json($r)) if !$r || $r->{error} || $r->{differing}{inputs};
	my $what = describe($m);
	for my $path (@PATHS) {
		my $r = $result{"$n $path"} // { error => 'no comparison', rows => 0, differing => {}, compared => {} };
		my @fns = grep { exists $r->{differing}{$_} } qw(predict proba batch);
		my $differing = 0;
		$differing += $r->{differing}{$_} for @fns;
		my $compared = join(', ', map { "$r->{compared}{$_} $_" } @fns);
		my $diff = join(', ', map { "$r->{differing}{$_} $_" } @fns);
		my $err = $errors{"$n $path"} // $r->{error};
		ok(!$err && $differing == 0 && @fns && !grep({ $r->{compared}{$_} < $ROWS } @fns),
			"$n ($what) on path $path: answers compared with XGBoost's: $compared; differing: $diff");
		diag("$n on path $path: $err") if $err;
		diag("$n on path $path, differing: " . encode_json($_)) for @{ $r->{examples} };
	}
}

# --- which engine scores each model
my $engines = $node->safe_psql('postgres', q{
SELECT d.name || '|' || w.engine || '|' || coalesce(w.engine_note, '')
  FROM pgml.worker_models() w JOIN pgml.deployed_models d ON d.id = w.model_id
 WHERE w.database = (SELECT oid FROM pg_database WHERE datname = current_database())});
my %engine = map { my ($n, $e, $note) = split /\|/, $_, 3; ($n => [ $e, $note ]) } split /\n/, $engines;
for my $m (@models) {
	my $n = $m->{name};
	my ($e, $note) = @{ $engine{$n} // [ 'not held by the worker', '' ] };
	if ($refused{$n}) {
		ok($e eq 'xgboost' && $note ne '', "$n ($refused{$n}) is served by XGBoost, and says why: $e: $note");
	} else {
		is($e, 'forest', "$n is served by its compiled forest");
	}
}

# --- a row XGBoost refuses (gblinear: ±Inf in a DMatrix) is refused, on
# every path, rather than answered with some number.
for my $n (grep { $info{$_}{inf_refused} } keys %info) {
	for my $path (@PATHS) {
		my ($ret, $out, $err) = $node->psql('postgres',
			"SET pgml_worker.predict_path = '$path'; SELECT pgml.predict('$n', '$info{$n}{inf_row}'::real[])");
		ok($ret != 0 && $err =~ /inf/, "$n on path $path: a row with Infinity is refused as XGBoost refuses it "
			  . "($info{$n}{inf_refused})");
		diag("answered '$out', $err") unless $ret != 0 && $err =~ /inf/;
	}
}

note(sprintf('the whole test took %.1f s', time - $started));
$node->stop;
done_testing();

sub describe {
	my ($m) = @_;
	my $i = $info{ $m->{name} };
	my $classes = $m->{classes} ? ', ' . scalar(@{ $m->{classes} }) . ' classes' : '';
	return "$i->{booster} $i->{objective}$classes, $i->{trees} trees, depth $i->{depth}, base_score $i->{base_score}";
}

sub run_python {
	my @args = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ $python, $script, @args ], '>', \$out, '2>', \$err)
	  or die "forest_exact.py @args failed:\n$err";
	return $out;
}

# A psql session running $sql, started now (its script is a file: IPC::Run
# would feed a script on stdin only once the session is waited for).
sub start_psql {
	my ($sql) = @_;
	my $file = "$dir/session." . $sessions++ . '.sql';
	open(my $fh, '>', $file) or die "$file: $!";
	print $fh $sql;
	close $fh;
	my %s = (out => '', err => '');
	$s{h} = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-f', $file ],
		'<', \undef, '>', \$s{out}, '2>', \$s{err});
	return \%s;
}

# undef, or the session's error
sub finish_psql {
	my ($s) = @_;
	my $ok = eval { $s->{h}->finish };
	note("psql said: $s->{err}") if $ok && $s->{err} ne '';
	return undef if $ok;
	return $s->{err} ne '' ? $s->{err} : "psql failed: " . ($@ || "exit " . ($? >> 8));
}
