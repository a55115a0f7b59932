# Two commands: `make run` and `make test`. Installs are stamped, so an unchanged
# reinstall takes seconds.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
JS_STAMP := node_modules/.installed
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run worker serve test typecheck lint lock bench bench-compare clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)

$(PY_STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.lock
	@touch $@

$(JS_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# Static files are compressed here, once, into build/precompressed/ (blueprints/assets.py);
# files already compressed are only hashed, so this takes well under a second.
install: $(PY_STAMP) $(JS_STAMP)
	$(BIN)/python -m blueprints.assets

# The app and, beside it, a queue consumer (alerts, reports, deliveries); Ctrl-C stops both.
run: export USAGE_PUBLIC_URL ?= http://$(HOST):$(PORT)
run: install
	$(BIN)/flask --app app setup
	@echo "Usage dashboard: http://$(HOST):$(PORT)"
	@$(BIN)/flask --app app worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(BIN)/flask --app app run --host $(HOST) --port $(PORT)

# A queue consumer alone (the database set up by `make run`, `make serve` or `flask setup`):
# with USAGE_QUEUE_URL=redis://…, run it on as many machines as needed. WORKER_ARGS=--workers 4
worker: install
	$(BIN)/flask --app app worker $(WORKER_ARGS)

# The production server (gunicorn, deploy/gunicorn.conf.py) on http://$(HOST):8000.
serve: export USAGE_PUBLIC_URL ?= http://$(HOST):8000
serve: install
	$(BIN)/flask --app app setup
	USAGE_BIND=$(HOST):8000 $(BIN)/gunicorn -c deploy/gunicorn.conf.py 'app:create_app()'

# Branch coverage of the product's packages ([tool.coverage] in pyproject.toml). Its bar,
# fail_under, is for the whole suite: a subset picked with PYTEST_ARGS (say -k cache) covers
# less by design, so it is measured and reported but not failed for that. Add --no-cov to
# PYTEST_ARGS to skip measuring. (--cov takes an optional value, so an option always follows
# it here: otherwise it would swallow a test path given first in PYTEST_ARGS.)
COV_FAIL_UNDER = $(if $(strip $(PYTEST_ARGS)),--cov-fail-under=0)

test: install
	$(BIN)/python -m pytest --cov --cov-report=term $(COV_FAIL_UNDER) $(PYTEST_ARGS)

# mypy over core/, clients/, services/ and jobs/ ([tool.mypy] in pyproject.toml).
typecheck: install
	$(BIN)/mypy

# pip-audit checks the exact pins of requirements.lock against PyPI's advisory data, without
# building a throwaway environment (--disable-pip, which needs --no-deps: the lock is the
# whole tree). A package PyPI cannot answer for is listed as skipped, not failed.
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pip-audit -r requirements.lock --no-deps --disable-pip --progress-spinner off

# Re-pin the whole Python dependency tree after editing pyproject.toml.
lock: | $(BIN)/python
	$(BIN)/python -m pip install -q pip-tools==7.6.2
	$(BIN)/pip-compile -q --extra dev --strip-extras --no-header --no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml

# Benchmarks (a few minutes); each writes its section of bench/RESULTS.md.
bench: install
	$(BIN)/python -m bench.server_time
	$(BIN)/python -m bench.staff_view
	$(BIN)/python -m bench.figures
	$(BIN)/python -m bench.load --write
	$(BIN)/python -m bench.browser_first_chart

# This app against a Plotly Dash build of the same view (bench/vs_dash.py, several minutes;
# writes its section of bench/RESULTS.md). Dash lives in an environment of its own, made here
# on first use and never by install, test or CI. BENCH_COMPARE_ARGS=--quick: a short check run.
DASH_VENV := bench/peers/.venv
DASH_STAMP := $(DASH_VENV)/.installed
BENCH_COMPARE_ARGS ?= --write

$(DASH_STAMP): bench/peers/requirements.txt
	$(PYTHON) -m venv $(DASH_VENV)
	@echo '*' > $(DASH_VENV)/.gitignore
	$(DASH_VENV)/bin/python -m pip install --disable-pip-version-check -q -r bench/peers/requirements.txt
	@touch $@

bench-compare: install $(DASH_STAMP)
	$(BIN)/python -m bench.vs_dash $(BENCH_COMPARE_ARGS)

clean:
	rm -rf $(VENV) node_modules build instance/*.sqlite* .pytest_cache .mypy_cache .coverage .coverage.*
