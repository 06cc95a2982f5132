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
# Only the pytest plugins the tests use (xdist, hypothesis): autoloading every installed one
# (schemathesis, anyio) costs each test process ~1.4 s at start.
PYTEST_ONE := PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 $(BIN)/python -m pytest -q -p xdist -p _hypothesis_pytestplugin
PYTEST := $(PYTEST_ONE) -n $(PYTEST_WORKERS) --dist loadgroup

# Python keeps the bytecode it compiles (__pycache__, gitignored): with PYTHONDONTWRITEBYTECODE set in
# the caller's environment every test process (xdist workers, the subprocesses of the CLI, serve and
# config tests) compiled every module it imports again, about 1-2 s of CPU each.
unexport PYTHONDONTWRITEBYTECODE

STAGE ?= dev
BUCKET ?=
PARAMS ?=

.PHONY: serve test test-moto moto-parallel test-ddblocal test-deploy ddb-install lint bench package deploy

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The project is installed with uv (pinned; ~20 s from an empty cache instead of pip's ~2 min, which was
# a third of `make test` on a fresh clone); plain pip if uv cannot be had.
UV_VERSION := 0.13.9
$(STAMP): pyproject.toml | $(BIN)/python
	if $(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION); then \
		$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[dev]'; \
	else \
		$(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]'; \
	fi
	touch $@

## serve: the API on http://127.0.0.1:8000 backed by DynamoDB Local in .local/data (SERVE_ARGS=... for more)
serve: $(STAMP)
	$(BIN)/imbill serve $(SERVE_ARGS)

## test: ruff + mypy, every test on moto beside the deploy smoke test, the timed tests alone, then the
## storage tests again on DynamoDB Local
test: $(STAMP)
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory -j2 --output-sync=target test-deploy moto-parallel
	$(MOTO_TIMED)
	$(MAKE) --no-print-directory test-ddblocal

# Tests marked `timed` assert wall-clock time: they run after the others, one at a time, on a quiet machine.
MOTO_PARALLEL = IMBILL_TEST_BACKEND=moto $(PYTEST) -m "not timed" $(PYTEST_ARGS)
MOTO_TIMED = IMBILL_TEST_BACKEND=moto $(PYTEST_ONE) -m timed $(PYTEST_ARGS) || [ $$? -eq 5 ]

test-moto: $(STAMP)
	$(MOTO_PARALLEL)
	$(MOTO_TIMED)

# make test runs it beside the deploy smoke test (one process): the two cores stay busy, none waits
moto-parallel: $(STAMP)
	$(MOTO_PARALLEL)

# pytest exits 5 when the marker selects no test: not a failure of this pass.
test-ddblocal: ddb-install
	IMBILL_TEST_BACKEND=ddblocal $(PYTEST) -m "(storage or ddblocal) and not timed" $(PYTEST_ARGS) \
		|| [ $$? -eq 5 ]
	IMBILL_TEST_BACKEND=ddblocal $(PYTEST_ONE) -m "(storage or ddblocal) and timed" $(PYTEST_ARGS) \
		|| [ $$? -eq 5 ]

## package: dist/$(STAGE)/template.json (one CloudFormation/SAM template) + deployment.zip (STAGE=dev|prod)
package: $(STAMP)
	$(BIN)/python infra/package.py --stage $(STAGE)

## deploy: package, upload to the S3 bucket BUCKET and deploy the stack imbill-$(STAGE) (infra/README.md)
##   make deploy STAGE=dev BUCKET=my-artefacts PARAMS="SenderEmail=billing@example.com AlarmEmail=oncall@example.com"
deploy: package
	@if [ -z "$(BUCKET)" ]; then echo "BUCKET=<an S3 bucket of the account> is required"; exit 2; fi
	$(BIN)/python infra/deploy.py --stage $(STAGE) --bucket $(BUCKET) $(PARAMS)

## test-deploy: build the package, cfn-lint it, run the zip in a boto3-only virtualenv against moto
test-deploy: $(STAMP)
	IMBILL_TEST_DEPLOY=1 $(PYTEST_ONE) -m deploy tests/deploy $(PYTEST_ARGS)

ddb-install: $(STAMP)
	$(BIN)/python -m chalicelib.local.ddblocal install

## lint: ruff, mypy and the import-order check (scripts/layers.py)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy chalicelib app.py
	$(BIN)/python -m scripts.layers

bench: $(STAMP)
	@if [ -f scripts/bench.py ]; then $(BIN)/python scripts/bench.py; else echo "no scripts/bench.py yet"; fi
