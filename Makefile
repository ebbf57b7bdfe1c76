# newsflow: `make run` starts everything and ingests the samples; `make test` runs every test.
# Everything it needs is installed here: a virtualenv with pinned packages, and Kafka and
# Elasticsearch from Maven Central (cached outside the repo, see infra/README.md).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help install infra up down status run test test-unit test-integration bench logs clean

help:
	@echo "make run      install, start Kafka, Elasticsearch and every service, ingest the samples, search"
	@echo "make up/down  start/stop the whole stack in the background;  make status"
	@echo "make test     the whole test suite (starts what it needs)"
	@echo "make bench    benchmarks, reported as ratios against baselines run in the same command"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $@

install: $(STAMP)

infra:
	infra/stack.sh fetch

up: install
	infra/stack.sh up
	infra/services.sh up

down:
	-infra/services.sh down
	infra/stack.sh down

status: install
	@infra/stack.sh status
	@infra/services.sh status
	@$(VENV)/bin/newsflow status || true

run: up
	$(PY) infra/demo.py

test: install
	$(PY) -m pytest -q -p no:cacheprovider tests

test-unit: install
	$(PY) -m pytest -q -p no:cacheprovider tests/unit

test-integration: install
	$(PY) -m pytest -q -p no:cacheprovider tests/integration

bench: install
	$(PY) bench/run.py

logs:
	@tail -n 20 .var/logs/*.log

clean: down
	rm -rf .var
