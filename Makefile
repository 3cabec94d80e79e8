# Each target builds the project's own virtual environment first, so a fresh clone needs
# only Python 3.11+ and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test lint bench bench-district dev clean install

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The main job: generate a district, start the sandbox SIS, run the pipeline end to end.
demo: $(STAMP)
	$(BIN)/passback demo

## The test suite (unit, sandbox over loopback, Dagster end to end).
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check pipeline assets checks tests

## Benchmarks: quick smoke mode; `make bench-district` for the 50,000-student scenario.
bench: $(STAMP)
	$(BIN)/python -m pipeline.bench --mode quick

bench-district: $(STAMP)
	$(BIN)/python -m pipeline.bench --mode district

## The Dagster UI on http://127.0.0.1:3000 with the project's definitions.
dev: $(STAMP)
	export DAGSTER_HOME=$$($(BIN)/python -c 'from pipeline.instance import dagster_home; print(dagster_home())') && \
	$(BIN)/dagster dev -w workspace.yaml

clean:
	rm -rf $(VENV) .passback
