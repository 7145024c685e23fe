# One command does what CI does: `make test`. `make demo` runs the main job on embedded defaults.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(abspath $(VENV)/bin)
# The interpreter for the venv: the distribution's CPython 3.11 when there is one. Debian's is linked statically and
# built with PGO and LTO; pyenv's default build is neither, and runs the servers' Python about 1.4x slower here.
# Production (Amazon Linux 2023's python3.11) runs an optimized distribution build as well.
PYTHON ?= $(shell for p in /usr/bin/python3.11 python3.11 python3; do \
	$$p -c 'import sys, ensurepip; assert sys.version_info[:2] == (3, 11)' 2>/dev/null && { command -v $$p; break; }; done)
export PATH := $(BIN):$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := 1
export CDK_DISABLE_VERSION_CHECK := 1

.PHONY: all venv system compiled test check lint typecheck fmt demo bench bench-quick bench-peers soak release clean

all: test

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements.lock -e '.[baseline,infra,dev]'
	touch $@

node_modules/.installed: package.json package-lock.json $(VENV)/.installed
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

venv: $(VENV)/.installed node_modules/.installed

# Opt-in: the native server's hot modules compiled with mypyc into .state/compiled (scripts/compiled.py); a process
# uses them only with MCPSTACK_COMPILED=1 and only while their sources are unchanged (services/compiled.py).
compiled: venv
	PYTHON=$(PY) scripts/ensure-system.sh --compiler
	$(PY) -m scripts.compiled build

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
	$(BIN)/mcpstack demo $(DEMO_ARGS)

# The full side-by-side benchmark (about 12 minutes): docs/benchmarks.md, docs/benchmarks/results.json and charts.
bench: venv system
	$(BIN)/mcpstack bench

bench-quick: venv system
	$(BIN)/mcpstack bench --quick

# Opt in: the full benchmark plus its peers, FastMCP and the official TypeScript SDK (FastMCP's pinned venv is
# installed under .state/peers on first use). `make bench` does not run them.
bench-peers: venv system
	$(BIN)/mcpstack bench --peers

# The reliability suite's long form (under 20 minutes): 100,000+ generated hostile requests, every fault under load,
# a 10-minute soak of both servers side by side; writes docs/reliability.md and docs/reliability/results.json.
# make test runs its short form. SOAK_ARGS="--minutes 1" for a short smoke of it.
soak: venv system
	$(PY) -m scripts.reliability run --form long $(SOAK_ARGS)

# An immutable release of HEAD for the blue/green slots (docs/deploy.md): .state/releases/<version>-<commit>/.
release: venv
	$(BIN)/mcpstack release build

clean:
	-$(BIN)/mcpstack db down
	rm -rf .state cdk.out
