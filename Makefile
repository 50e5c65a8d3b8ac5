# SMART: two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINT_PATHS := kodeks_smart tests $(wildcard bench)

.PHONY: run test lint type fmt demo venv clean screenshots

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

# Refresh the user guide's screenshots (docs/screenshots/*.png) from the UI tests (needs /usr/bin/chromium).
screenshots: $(STAMP)
	SMART_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest tests/ui -q

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format $(LINT_PATHS)
	$(BIN)/ruff check --fix $(LINT_PATHS)

demo: $(STAMP)
	$(BIN)/smart demo

clean:
	rm -rf $(VENV) build *.egg-info
