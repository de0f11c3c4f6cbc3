# One-command entry points. Each target installs what it needs into the repo (.venv, node_modules)
# on a fresh machine: Python 3.11, Node.js/npm and (for tests) Debian's PostgreSQL packages.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
STAMPS := .stamps
export PATH := $(CURDIR)/tools/bin:$(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export SOLCX_BINARY_PATH := $(CURDIR)/tools/solc-bin
PYTEST_ARGS ?=

.PHONY: help setup demo test bench lint check fmt clean postgres chromium screens

help:
	@echo "make demo   - set up, pay 1,000 payees through a 2-of-3 Safe on anvil, then 300 on a local TRON node"
	@echo "make test   - set up (venv, npm toolchain, PostgreSQL) and run the whole test suite"
	@echo "make bench  - gas and throughput benchmarks (writes build/bench/)"
	@echo "make lint   - ruff + mypy (strict on payout/) + shipped artifacts up to date (make test runs it too)"
	@echo "make screens - the dashboard in Debian's chromium on a real payout: screenshots in build/screens/"

$(STAMPS)/venv: pyproject.toml constraints.txt
	@mkdir -p $(STAMPS)
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

$(STAMPS)/npm: package.json package-lock.json
	@mkdir -p $(STAMPS)
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(STAMPS)/venv $(STAMPS)/npm

postgres:
	@tools/ensure-postgres

chromium:
	@tools/ensure-chromium

demo: setup
	payout demo
	payout tron demo

test: setup postgres chromium check
	python -m pytest $(PYTEST_ARGS)

# Static checks that run with the tests: lint, format, strict types, shipped artifacts up to date.
check: setup
	ruff check payout tests scripts
	ruff format --check payout tests scripts
	mypy
	python scripts/build_artifacts.py --check

# The dashboard's browser tests (anvil, a real send, chromium through Playwright) save a screenshot
# of every page, desktop and phone width.
screens: setup chromium
	python -m pytest -q -p no:cacheprovider tests/integration/test_dashboard_browser.py
	@echo "screenshots: build/screens/"

bench: setup
	python scripts/bench_gas.py
	python scripts/bench_manifest.py
	python scripts/bench_safe.py
	python scripts/bench_tron.py
	python scripts/bench_service.py

lint: check

fmt: setup
	ruff format payout tests scripts
	ruff check --fix payout tests scripts

clean:
	rm -rf $(STAMPS) build .build .pytest_cache .mypy_cache .ruff_cache
