# SMART: two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint type fmt demo venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/smart db upgrade
	$(BIN)/smart serve

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check kodeks_smart tests bench
	$(BIN)/ruff format --check kodeks_smart tests bench
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format kodeks_smart tests bench
	$(BIN)/ruff check --fix kodeks_smart tests bench

demo: $(STAMP)
	$(BIN)/smart demo

clean:
	rm -rf $(VENV) build *.egg-info
