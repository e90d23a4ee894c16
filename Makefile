# Every target installs what it needs: the virtual environment and, where used, the
# Prometheus tools from Debian's packages.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test generate lint bench demo tools browser venv clean

run: venv tools  ## generate and validate every artifact with the built-in default configuration
	$(BIN)/x509-mixin build --out .
	$(BIN)/x509-mixin lint
	$(BIN)/x509-mixin test

test: venv tools browser  ## the full suite (slow end-to-end tests included)
	$(BIN)/python -m pytest -q

generate: venv  ## rewrite the committed generated files
	$(BIN)/x509-mixin build --out .
	$(BIN)/python -m x509_mixin.generator.dashboard_docs --write
	$(BIN)/python -m x509_mixin.generator.alerts_index --write docs/alerts-index.md
	$(BIN)/python -m x509_mixin.generator.alertmanager_docs --write

lint: venv tools  ## the generated artifacts' lint, then the code's: ruff (lint, format) and mypy
	$(BIN)/x509-mixin lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: venv tools
	$(BIN)/python -m benchmarks

demo: venv tools  ## the exporter, Prometheus and Alertmanager on example certificates; Ctrl-C stops it all
	$(BIN)/python -m x509_mixin.generator.demo

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

tools:
	@scripts/ensure-prometheus-tools.sh

clean:
	rm -rf $(VENV) .pytest_cache

browser:
	@scripts/ensure-chromium.sh
