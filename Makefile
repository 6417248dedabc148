# The two commands of the README: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
JS_STAMP := tests/js/node_modules/.package-lock.json

.PHONY: serve test test-fast system-deps bench clean

$(UV):
	@echo "First run: creating $(VENV) with pip and uv (once, about 10 s)..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip uv 2>&1 | grep -v "^WARNING: Location" || true

$(RUN_STAMP): pyproject.toml | $(UV)
	@echo "Installing surestream with the gateway's dependencies into $(VENV) (again only when pyproject.toml changes)..."
	@$(UV) pip install -q --python $(PY) -e '.[gateway]'
	@touch $@

# The installed modules are then compiled to bytecode, as pip does by default: uv leaves it to
# the first import, and under PYTHONDONTWRITEBYTECODE to every import of every test process
# (the SDKs, pydantic and fastapi cost each worker seconds). Files that do not compile (some
# packages' test data) are left as they are.
$(TEST_STAMP): pyproject.toml Makefile | $(UV)
	@echo "Installing surestream with every extra and the test dependencies into $(VENV) (again only when pyproject.toml or the Makefile changes)..."
	@$(UV) pip install -q --python $(PY) -e '.[all,test]'
	@$(PY) -m compileall -qq -j 0 $(VENV)/lib || true
	@touch $@ $(RUN_STAMP)

# Start the gateway on http://127.0.0.1:8000 with the built-in demo model (reasoning briefly
# before it answers; given tools, it calls one: the whole agent vocabulary, offline). Exit
# status 3 is "the port is taken, nothing started": serve's own line says so, make adds none.
serve: $(RUN_STAMP)
	$(VENV)/bin/surestream serve --demo-reasoning $(ARGS) || [ $$? -eq 3 ]

# The real npm clients the tests run in Node (the AI SDK, eventsource, openai, ...), from the lock.
$(JS_STAMP): tests/js/package.json tests/js/package-lock.json | system-deps
	@cd tests/js && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Debian packages the tests drive for real (redis-server, chromium, nginx, node); installed when missing.
system-deps:
	@bash scripts/system-deps.sh

# pytest keeps each test module with its assertions rewritten, and Python each module it
# compiles, only where bytecode may be written: with PYTHONDONTWRITEBYTECODE set, every test
# process would compile every test module and surestream's own again (seconds per worker).
test test-fast: export PYTHONDONTWRITEBYTECODE :=

test: $(TEST_STAMP) system-deps $(JS_STAMP)
	$(PY) -m ruff check src tests benchmarks examples
	$(PY) -m ruff format --check src tests benchmarks examples
	$(PY) -m mypy
	$(PY) -m pytest $(PYTEST_ARGS)

# The sans-IO and single-process suites only, on two workers (1,623 tests in 33 s on 2 quiet cores,
# 35 s with make; 40-45 s when busy): no Chromium, Node, nginx or Redis, no subprocess; the markers are
# set in tests/support/markers.py. Each test file runs whole on one worker (--dist loadfile):
# its module's fixtures (a gateway, an upstream) start once rather than once per worker.
test-fast: $(TEST_STAMP)
	$(PY) -m pytest -m "not multiprocess and not slow" -n 2 --dist loadfile $(PYTEST_ARGS)

# Every benchmark of the README, in turn (a few minutes; the load benchmark has its own flags).
bench: $(TEST_STAMP)
	$(PY) benchmarks/codec.py
	$(PY) benchmarks/server.py
	$(PY) benchmarks/client.py
	$(PY) benchmarks/journal.py

clean:
	rm -rf $(VENV) tests/js/node_modules .mypy_cache .pytest_cache .ruff_cache .hypothesis
