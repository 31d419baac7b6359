# Entry points (see README): `make setup` (only creates .venv), `make run` and `make test` (both create .venv on
# first use).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: setup run test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/snakemake --cores $(CORES)

lint: $(VENV)/.installed
	$(BIN)/ruff check src scripts tests bench
	$(BIN)/snakemake --lint --configfile config/ci.yaml

test: lint
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q -p no:cacheprovider

bench: $(VENV)/.installed
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done
