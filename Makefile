# Quickstart: `make run` and `make test` on a machine with Python 3.11 and make.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
UV_VERSION := 0.13.9
# Use an installed uv if there is one, else bootstrap a pinned one into .tools/.
UV := $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
VENV := .venv
LOCK_HASH := $(shell cat uv.lock pyproject.toml 2>/dev/null | cksum | cut -d' ' -f1)
# Two stamps: `make run` needs the runtime dependencies only; tests and lint add the dev group.
RUNTIME := $(VENV)/.synced-runtime-$(LOCK_HASH)
SYNCED := $(VENV)/.synced-dev-$(LOCK_HASH)
SYNC := UV_COMPILE_BYTECODE=1 $(UV) sync --frozen --extra aws --extra stack --python $(PYTHON)

.PHONY: help setup run test test-tools test-unit test-integration lint format docs bench bench-train bench-quality clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --inexact: a runtime sync leaves the dev group alone when `make test` installed it already.
$(RUNTIME): pyproject.toml uv.lock | $(UV)
	$(SYNC) --no-dev --inexact
	find $(VENV) -maxdepth 1 -name '.synced-*' ! -name '*-$(LOCK_HASH)' -delete && touch $@

$(SYNCED): pyproject.toml uv.lock | $(UV)
	$(SYNC)
	find $(VENV) -maxdepth 1 -name '.synced-*' ! -name '*-$(LOCK_HASH)' -delete && touch $@ $(RUNTIME)

setup: $(SYNCED) ## Create the locked development environment in .venv (runtime + dev group, aws extra)

run: $(RUNTIME) ## Run the main job on embedded defaults (train, register, promote, score)
	$(VENV)/bin/mlplatform run

# Tests run in parallel, one file per worker at a time (a file's fixtures stay in one process); each
# worker starts its own session servers. TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= auto

test: $(SYNCED) test-tools ## Set up and run every test (unit + integration with real local services)
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile

CHECKOV_VERSION := 3.3.30

# checkov pins boto3 & co., so it gets an environment of its own.
.tools/checkov/bin/checkov: | $(UV)
	$(UV) venv --quiet --python $(PYTHON) .tools/checkov
	$(UV) pip install --quiet --python .tools/checkov checkov==$(CHECKOV_VERSION)

PARLIAMENT_VERSION := 1.6.4

# parliament (IAM policy linter) imports pkg_resources, gone from setuptools 81: its own environment.
.tools/parliament/bin/parliament: | $(UV)
	$(UV) venv --quiet --python $(PYTHON) .tools/parliament
	$(UV) pip install --quiet --python .tools/parliament parliament==$(PARLIAMENT_VERSION) "setuptools<81"

# Debian packages the tests use as a user would: kcat consumes what we publish to Kafka, the
# PostgreSQL server backs the PostgreSQL sink's tests, Chromium and its driver load the dashboard
# and the report in a real browser. Installed only when missing.
test-tools: .tools/checkov/bin/checkov .tools/parliament/bin/parliament
	@missing=""; \
	command -v kcat >/dev/null 2>&1 || missing="$$missing kcat"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

test-unit: $(SYNCED) ## Fast pure tests only
	$(VENV)/bin/pytest tests/unit

test-integration: $(SYNCED) ## Tests against a real MLflow server, Kafka broker and S3 server
	$(VENV)/bin/pytest tests/integration

lint: $(SYNCED) ## ruff (lint + format check) and import-linter layer contracts
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/lint-imports

format: $(SYNCED) ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix src tests benchmarks
	$(VENV)/bin/ruff format src tests benchmarks

clean: ## Remove the environment and local state
	rm -rf $(VENV) .tools .mlplatform .pytest_cache .ruff_cache

docs: $(SYNCED) ## Regenerate the README configuration table from the settings model
	$(VENV)/bin/python scripts/sync_readme.py

bench: $(SYNCED) ## Benchmarks: mlplatform score vs a hand-written script vs the naive way, files (public table), the first run after train, the publisher (results/)
	$(SYNC) --group bench --inexact
	$(VENV)/bin/python -m benchmarks.score_bench
	$(VENV)/bin/python -m benchmarks.files_bench
	$(VENV)/bin/python -m benchmarks.cold_bench
	$(VENV)/bin/python -m benchmarks.publish_bench

bench-train: $(SYNCED) ## Benchmark: mlplatform train vs a hand-built fit + evaluate + log + register script (337k rows)
	$(SYNC) --group bench --inexact
	$(VENV)/bin/python -m benchmarks.train_bench

bench-quality: $(SYNCED) ## Quality on public mixed-type tables vs a hand-built pipeline (the bench group's datasets)
	$(SYNC) --group bench --inexact
	$(VENV)/bin/python -m benchmarks.quality_bench
