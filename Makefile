# `make demo` and `make test` each set everything up themselves (a .venv in the repo root).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install sysdeps demo test lint typecheck unit integration bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/watchstander demo

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy
	$(BIN)/lint-imports

# System packages the integration tests run for real (promtool).
sysdeps:
	bash scripts/system-deps.sh

test: sysdeps lint typecheck
	$(BIN)/python -m pytest

unit: install
	$(BIN)/python -m pytest tests/unit

bench: install
	$(BIN)/python bench/router_bench.py

clean:
	rm -rf $(VENV) watchstander-demo .pytest_cache .mypy_cache .ruff_cache
