# pgml_worker: PGXS build of the C++ sources, plus demo and test targets.
#
#   make          build            make install   install (as root)
#   make demo     build, install, and run the flights demo on a throwaway cluster
#   make test     install what is missing, build, install, run every test
#   make installcheck   the SQL, isolation and TAP suites against a running
#                 server that preloads pgml_worker
#   make soak     an hour of checked load with faults on a throwaway cluster
#   make bench    install what is missing, run the benchmark (bench/README.md)
#   make deb      the Debian package postgresql-15-pgml-worker (debian/), built
#                 in a temporary copy of the tree, into build/deb/
#   make sanitize-regress   the pg_regress and isolation suites against a
#                 build with AddressSanitizer and UndefinedBehaviorSanitizer,
#                 on a throwaway cluster (scripts/sanitize.sh; nothing installed
#                 into the system); make sanitize adds the TAP suites that
#                 exercise faults and bad input
#   make SANITIZE=address,undefined   (any -fsanitize= list) a sanitized build
#   make fuzz     the libFuzzer targets of fuzz/, FUZZ_SECONDS (600) each

EXTENSION   = pgml_worker
MODULE_big  = pgml_worker
DATA        = sql/pgml_worker--0.1.sql sql/pgml_worker--0.1--0.2.sql sql/pgml_worker--0.2--0.3.sql \
              sql/pgml_worker--0.3--0.4.sql sql/pgml_worker--0.4--0.5.sql \
              sql/pgml_worker--0.5--0.6.sql

# Pure C++ folders (no Postgres headers) and Postgres-facing ones; the
# layering between them is in scripts/check_layers.sh and src/README.md.
CORE_SRCS   = $(sort $(wildcard src/core/*.cpp src/shmem/*.cpp src/worker/pool/*.cpp))
PG_SRCS     = $(sort $(wildcard src/pg/*.cpp src/backend/*.cpp src/worker/*.cpp src/sqlapi/*.cpp))
CORE_OBJS   = $(CORE_SRCS:.cpp=.o)
OBJS        = $(CORE_OBJS) $(PG_SRCS:.cpp=.o)

PG_CXXFLAGS = -std=c++20 -Wno-register -fno-omit-frame-pointer
PG_CPPFLAGS = -I$(srcdir)/src
SHLIB_LINK  = -lxgboost -lgomp -lstdc++

# SANITIZE=address,undefined (any -fsanitize= list) instruments the
# extension's code, compiled and linked; empty (the default) changes
# nothing. The server that loads such a library needs the sanitizers'
# runtimes preloaded: scripts/sanitize.sh sets that up.
SANITIZE ?=
ifneq ($(strip $(SANITIZE)),)
SANITIZE_FLAGS = -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
PG_CXXFLAGS += $(SANITIZE_FLAGS)
SHLIB_LINK  += $(SANITIZE_FLAGS)
endif

# The suites, as contrib modules declare them: `make installcheck` runs
# them against a running server that preloads pgml_worker (as
# test/regress.conf sets up). `make test` runs them, and the unit tests,
# in throwaway clusters of its own (scripts/test.sh).
REGRESS      = setup upgrade train predict deploy import_export errors worker python_compare datasets preprocess search joint
ISOLATION    = deploy load_dataset
ISOLATION_OPTS = --inputdir=test/isolation
TAP_TESTS    = 1
PROVE_TESTS  = test/t/*.pl

# The built-in data sets of pgml.load_dataset (datasets/make_csv.py; the
# rules are below).
PYTHON3       ?= /usr/bin/python3
DATASETS      = breast_cancer diabetes digits iris linnerud wine
DATASET_FILES = $(DATASETS:%=datasets/%.csv)

# Set before including PGXS, whose clean rule tests it when it is read.
EXTRA_CLEAN = .layers-checked $(DATASET_FILES) build

# Postgres' LLVM JIT would want bitcode of every file; C++ gains nothing.
override with_llvm = no

PG_CONFIG  ?= pg_config
PGXS       := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# src/core, src/shmem and src/worker/pool are pure C++: compiled without the
# server headers on the include path, so an #include "postgres.h" there fails.
$(CORE_OBJS): CPPFLAGS = -I$(srcdir)/src -D_GNU_SOURCE

# Objects depend on the headers of their folders (a coarse but safe rule),
# and on the layering check: a file that includes a folder above its own
# fails the build.
$(OBJS): $(wildcard src/*/*.hpp src/*/*/*.hpp) .layers-checked
.layers-checked: scripts/check_layers.sh $(wildcard src/*/*.[ch]pp src/*/*/*.[ch]pp)
	@scripts/check_layers.sh
	@touch $@

# The built-in data sets of pgml.load_dataset: CSV files written at build
# time from the copies python3-sklearn ships (datasets/make_csv.py), then
# installed into the extension's share directory, where the function reads
# them. Nothing is downloaded, at build time or at run time.
datasetdir    = $(datadir)/extension/pgml_worker/datasets

all: $(DATASET_FILES)
datasets/%.csv: datasets/make_csv.py
	$(PYTHON3) $< $* $@

install: install-datasets
uninstall: uninstall-datasets
.PHONY: install-datasets uninstall-datasets
install-datasets: $(DATASET_FILES)
	$(MKDIR_P) '$(DESTDIR)$(datasetdir)'
	$(INSTALL_DATA) $(DATASET_FILES) '$(DESTDIR)$(datasetdir)/'
uninstall-datasets:
	rm -f $(addprefix '$(DESTDIR)$(datasetdir)'/, $(notdir $(DATASET_FILES)))
	-rmdir '$(DESTDIR)$(datasetdir)' '$(DESTDIR)$(datadir)/extension/pgml_worker'

.PHONY: deps demo demo-stop test soak bench deb sanitize-regress sanitize
deps:
	@scripts/deps.sh

demo: deps all
	@scripts/demo.sh start

demo-stop:
	@scripts/demo.sh stop

test: deps all
	@scripts/test.sh

# An hour of checked load with faults (SOAK_MINUTES to change).
soak: deps all
	@scripts/soak.sh

# The seed's benchmark against the Python microservice (bench/README.md).
bench: deps all
	@bench/run

# The Debian package, into build/deb/ (scripts/deb.sh; as root it installs
# its build dependencies first).
deb:
	@scripts/deb.sh

# The pg_regress and isolation suites against an ASan+UBSan build of the
# extension (about 3 min), in a scratch copy of the tree and a scratch copy
# of the PostgreSQL installation (scripts/sanitize.sh); make sanitize adds
# the TAP suites of faults, bad input, security and the worker's edges
# (about 10 min more).
sanitize-regress: deps
	@scripts/sanitize.sh

sanitize: deps
	@SANITIZE_TAP=1 scripts/sanitize.sh

# The libFuzzer targets of fuzz/ (scripts/fuzz.sh, README "Fuzzing"): built
# with clang++-14 into build/fuzz/, the regressions replayed, then each
# target fuzzed FUZZ_SECONDS (600) in turn. make test runs a short round.
.PHONY: fuzz
fuzz: deps
	@scripts/fuzz.sh
