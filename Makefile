# Each target builds the project's own virtual environment first, so a fresh clone needs
# only Python 3.11+ and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
PYTEST_ARGS ?=

.PHONY: demo test test-fast lint bench bench-district dev clean install

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The main job: generate a district, start the sandbox SIS, run the pipeline end to end.
demo: $(STAMP)
	$(BIN)/passback demo

## The test suite (unit, sandbox over loopback, Dagster end to end, the installed wheel): what CI runs.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

## The suite without the tests marked slow (servers, Dagster runs, subprocesses): under a minute.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check passback pipeline assets checks tooling tests

# The benchmarks also need the `bench` extra (dlt, the extract baseline); tests and the demo don't.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	touch $(BENCH_STAMP)

## Benchmarks: 1,000 students in a few minutes; `make bench-district` adds 50,000 students.
## Figures and how to read them: docs/benchmarks.md.
bench: $(BENCH_STAMP)
	$(BIN)/python -m tooling.bench --mode quick

bench-district: $(BENCH_STAMP)
	$(BIN)/python -m tooling.bench --mode district

## The Dagster UI on http://127.0.0.1:3000 with the project's definitions.
# Owner-only umask: Dagster's run, event and schedule storage and compute logs hold run data.
# What `make demo` leaves for `make dev`: the demo district's mappings folder and sandbox
# credentials (tooling/demo.py); used only when PASSBACK_MAPPINGS_DIR is not already set.
DEMO_ENV := .passback/demo/dev.env

dev: $(STAMP)
	@if [ -z "$$PASSBACK_MAPPINGS_DIR" ] && [ -f $(DEMO_ENV) ]; then echo "make dev: the demo district ($(DEMO_ENV))"; fi
	umask 077 && if [ -z "$$PASSBACK_MAPPINGS_DIR" ] && [ -f $(DEMO_ENV) ]; then set -a && . ./$(DEMO_ENV) && set +a; fi && \
	export DAGSTER_HOME=$$($(BIN)/python -c 'from pipeline.instance import dagster_home; print(dagster_home())') && \
	$(BIN)/dagster dev -w workspace.yaml

clean:
	rm -rf $(VENV) .passback
