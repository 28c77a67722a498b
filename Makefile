# The README's two commands are `make run` and `make test`; everything else is for developers.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Front-end packages for the pages and offline /docs (htmx, swagger-ui-dist, redoc), from npm.
NODE_STAMP := node_modules/.installed-stamp

.PHONY: run test lint typecheck clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $(NODE_STAMP)

## Serve the API with embedded defaults (SQLite under ./var/, in-process broker) and the demo.
run: $(STAMP) $(NODE_STAMP)
	$(BIN)/openday run

## Run the test suite (PostgreSQL and Redis too when OPENDAY_DATABASE_URL / OPENDAY_REDIS_URL are set).
test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Type-check every application package and module (the list is [tool.mypy] files in pyproject.toml).
typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache

# Every service benchmark in turn on a quiet machine; regenerates BENCHMARKS.md (bench/run_all.py).
bench: $(STAMP)
	$(BIN)/python bench/run_all.py
