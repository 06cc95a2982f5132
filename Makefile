# imbill developer entry points. `make serve` and `make test` create .venv on first use and
# reinstall the project only when pyproject.toml changed since the last install.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SERVE_ARGS ?=
PYTEST_ARGS ?=
# Tests run in parallel (pytest-xdist), one worker per CPU; each worker has its own moto, its own
# DynamoDB Local on a free port and its own table prefixes. PYTEST_WORKERS=0 runs them in one process.
PYTEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup

.PHONY: serve test test-moto test-ddblocal ddb-install lint bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]'
	touch $@

## serve: the API on http://127.0.0.1:8000 backed by DynamoDB Local in .local/data (SERVE_ARGS=... for more)
serve: $(STAMP)
	$(BIN)/imbill serve $(SERVE_ARGS)

## test: ruff + mypy, every test on moto, then the storage tests again on DynamoDB Local
test: lint test-moto test-ddblocal

# Tests marked `timed` assert wall-clock time: they run after the others, one at a time.
test-moto: $(STAMP)
	IMBILL_TEST_BACKEND=moto $(PYTEST) -m "not timed" $(PYTEST_ARGS)
	IMBILL_TEST_BACKEND=moto $(BIN)/python -m pytest -q -m timed $(PYTEST_ARGS) || [ $$? -eq 5 ]

# pytest exits 5 when the marker selects no test: not a failure of this pass.
test-ddblocal: ddb-install
	IMBILL_TEST_BACKEND=ddblocal $(PYTEST) -m "storage or ddblocal" $(PYTEST_ARGS) \
		|| [ $$? -eq 5 ]

ddb-install: $(STAMP)
	$(BIN)/python -m chalicelib.local.ddblocal install

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy chalicelib app.py

bench: $(STAMP)
	@if [ -f scripts/bench.py ]; then $(BIN)/python scripts/bench.py; else echo "no scripts/bench.py yet"; fi
