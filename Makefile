# The README's two commands are `make run` and `make test`; everything else is for developers.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Every Python package pinned with its hashes (`make lock` writes both from pyproject.toml):
# requirements.lock the runtime's (the Docker image), requirements-test.lock that plus the test
# extra (make run / make test). .ci/check_lock.py refuses a lock that disagrees with pyproject.toml.
LOCK := requirements.lock
TEST_LOCK := requirements-test.lock
UV_VERSION = $(shell sed -n 's/.*"uv==\([^"]*\)".*/\1/p' pyproject.toml)
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)
# The project's own Python sources (byte-compiled by `make run`; bench/coldstart.py's SOURCES).
PY_SOURCES := api.py settings.py serving.py cli models migrations pages routes schemas web workers \
	workflows
# Front-end packages for the pages and offline /docs (htmx, swagger-ui-dist, redoc), from npm.
NODE_STAMP := node_modules/.installed-stamp

.PHONY: run test lint typecheck clean bench lock

# Exactly the locked versions (pip checks every hash), then the project itself without resolving.
# pip is upgraded first: the venv's bundled one takes markedly longer over the same lock.
$(STAMP): pyproject.toml $(LOCK) $(TEST_LOCK)
	$(PYTHON) .ci/check_lock.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(TEST_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $(NODE_STAMP)

## Serve the API with embedded defaults (SQLite under ./var/, in-process broker) and the demo.
## The project's modules are byte-compiled first (a no-op when up to date), as an install is:
## where PYTHONDONTWRITEBYTECODE is set, every start would compile them from source again.
run: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m compileall -q $(PY_SOURCES)
	$(BIN)/openday run

## Run the test suite (PostgreSQL and Redis too when OPENDAY_DATABASE_URL / OPENDAY_REDIS_URL are set)
## in parallel: TEST_JOBS workers (pytest-xdist; `auto` is one per CPU), each with its own
## databases, a test file never split between two (tests/conftest.py: SERIAL_GROUPS).
## The slowest tests are listed at the end. `make test TEST_JOBS=0` runs in one process.
TEST_JOBS ?= auto
test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile --durations=25

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Type-check every application package and module (the list is [tool.mypy] files in pyproject.toml).
typecheck: $(STAMP)
	$(BIN)/mypy

## Re-resolve both locks from pyproject.toml after changing its dependencies (needs PyPI); the
## versions already locked are kept where pyproject still allows them, `make lock UPGRADE=1` takes
## the newest of everything. Commit pyproject.toml, requirements.lock and requirements-test.lock.
lock:
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	[ -x $(BIN)/uv ] && $(BIN)/uv --version | grep -qF ' $(UV_VERSION)' \
		|| $(BIN)/python -m pip install --quiet 'uv==$(UV_VERSION)'
	$(UV_COMPILE) -o $(LOCK)
	$(UV_COMPILE) --extra test -c $(LOCK) -o $(TEST_LOCK)
	$(PYTHON) .ci/check_lock.py --stamp

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache

# Every service benchmark in turn on a quiet machine; regenerates BENCHMARKS.md (bench/run_all.py).
bench: $(STAMP)
	$(BIN)/python bench/run_all.py
