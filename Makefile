# The README's two commands are `make demo` and `make test`; both set up
# everything they need from the repo's own files.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/.tools/bin:$(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup setup-demo tools demo test test-fast lint check generate bench clean

setup:
	@bash hack/bootstrap.sh test

setup-demo:
	@bash hack/bootstrap.sh demo

tools:
	@bash hack/install-tools.sh >/dev/null

## The main job: a local sandbox running a whole rollout (v1 -> v2 promoted -> v3 rolled back).
demo: setup-demo tools
	@$(VENV)/bin/champion demo

## Everything CI runs: generation drift, layers, types, lint, then the whole test suite (slow e2e included).
test: setup tools check
	@$(PY) -m pytest -q -p no:cacheprovider

## Unit and integration tests only (skips tests marked slow).
test-fast: setup
	@$(PY) -m pytest -q -m "not slow"

lint: setup
	@$(VENV)/bin/ruff check operator tests e2e hack benchmarks
	@$(VENV)/bin/ruff format --check operator tests e2e hack benchmarks

check: setup lint
	@$(PY) hack/check_generated.py
	@$(VENV)/bin/lint-imports
	@$(VENV)/bin/mypy

generate: setup
	@$(PY) hack/gen_crds.py

bench: setup tools
	@$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache
