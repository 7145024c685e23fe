# One command does what CI does: `make test`. `make demo` runs the main job on embedded defaults.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(abspath $(VENV)/bin)
export PATH := $(BIN):$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := 1
export CDK_DISABLE_VERSION_CHECK := 1

.PHONY: all venv system test check lint typecheck fmt demo bench bench-quick clean

all: test

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements.lock -e '.[baseline,infra,dev]'
	touch $@

node_modules/.installed: package.json package-lock.json $(VENV)/.installed
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

venv: $(VENV)/.installed node_modules/.installed

# System packages the project needs (PostgreSQL binaries, wrk, haproxy); installs only what is missing.
system:
	scripts/ensure-system.sh

test: venv system
	$(PY) -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: lint typecheck test

demo: venv system
	$(BIN)/mcpstack demo

# The full side-by-side benchmark (about 12 minutes): docs/benchmarks.md, docs/benchmarks/results.json and charts.
bench: venv system
	$(BIN)/mcpstack bench

bench-quick: venv system
	$(BIN)/mcpstack bench --quick

clean:
	-$(BIN)/mcpstack db down
	rm -rf .state cdk.out
