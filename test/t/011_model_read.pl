# A model's bytes are read once per load (a hand-over to the worker, or a
# backend-path load) through a small ring of shared buffers, not into the
# buffer cache (src/backend/model_bytes.cpp): after a restart, loading a
# model of several MB both ways leaves at most a ring's worth of its TOAST
# pages in shared_buffers, and the answers are those of the model. A model
# whose bytes were stored compressed (read the ordinary way) serves the same
# answers.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../load";
use PgmlLoad;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = preloaded_node('model_read', "shared_buffers = 64MB\n");
$node->safe_psql('postgres', q{
CREATE EXTENSION pgml_worker;
CREATE EXTENSION pg_buffercache;
CREATE TABLE d AS SELECT (g % 97)::real AS a, (g % 13)::real AS b, (g * 7 % 101)::real AS c,
       ((g % 97) * 3 + (g % 13) * (g * 7 % 101) % 17)::real AS y
  FROM generate_series(1, 20000) g;
SELECT * FROM pgml.train('big', 'regression', 'd', 'y', hyperparams => '{"n_estimators": 300, "max_depth": 8}');
});
my $row = 'ARRAY[10, 3, 44]::real[]';
my $expected = $node->safe_psql('postgres', "SET pgml_worker.predict_path = 'backend'; SELECT pgml.predict('big', $row)");

# Pages of the model's TOAST value, and how many of them shared_buffers holds.
my $toast_pages = $node->safe_psql('postgres', q{
SELECT pg_relation_size(reltoastrelid) / current_setting('block_size')::int FROM pg_class WHERE oid = 'pgml.models'::regclass});
my $cached = sub {
	$node->safe_psql('postgres', q{
SELECT count(*) FROM pg_buffercache b JOIN pg_class c ON b.relfilenode = pg_relation_filenode(c.oid)
 WHERE c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = 'pgml.models'::regclass)
   AND b.reldatabase = (SELECT oid FROM pg_database WHERE datname = current_database())});
};
cmp_ok($toast_pages, '>', 400, "the model's TOAST value spans $toast_pages pages");

for my $path (qw(worker backend)) {
	$node->restart;
	is($cached->(), 0, "$path: after a restart no TOAST page of the model is cached");
	is($node->safe_psql('postgres', "SET pgml_worker.predict_path = '$path'; SELECT pgml.predict('big', $row)"),
		$expected, "$path: the model, read through the ring, gives its answer");
	my $n = $cached->();
	# The BAS_BULKREAD ring is 256 kB: 32 pages.
	cmp_ok($n, '<=', 32, "$path: loading the model left $n of its $toast_pages pages in shared_buffers");
}

# A copy of the model whose bytes are stored compressed (STORAGE EXTENDED for
# the import), which the ordinary detoasting reads.
$node->safe_psql('postgres', q{
ALTER TABLE pgml.models ALTER COLUMN data SET STORAGE EXTENDED;
SELECT pgml.import_model('packed', 'regression', pgml.export_model((SELECT id FROM pgml.models ORDER BY id LIMIT 1)));
ALTER TABLE pgml.models ALTER COLUMN data SET STORAGE EXTERNAL;
});
is($node->safe_psql('postgres', q{
SELECT pg_column_compression(data) IS NOT NULL FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = 'packed'}),
	't', 'the imported copy is stored compressed');
for my $path (qw(worker backend)) {
	is($node->safe_psql('postgres', "SET pgml_worker.predict_path = '$path'; SELECT pgml.predict('packed', $row)"),
		$expected, "$path: the compressed copy gives the same answer");
}

$node->stop;
done_testing();
