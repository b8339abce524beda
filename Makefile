# Every target bootstraps its own virtualenv: nothing is installed by hand.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.rectune-installed
WORKSPACE ?= .rectune-demo
ROUNDS ?= 3

.PHONY: install demo test lint typecheck unit studio bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: install
	$(VENV)/bin/rectune demo --workspace $(WORKSPACE) --rounds $(ROUNDS)

lint: install
	$(VENV)/bin/ruff check rectune tests benchmarks

typecheck: install
	$(VENV)/bin/mypy

unit: install
	$(VENV)/bin/pytest -q -n 2 -m "not slow and not integration"

test: lint typecheck
	$(VENV)/bin/pytest -q -n 2

studio: install
	$(PY) -m rectune.studio

bench: install
	$(PY) benchmarks/tuning.py --quick

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache $(WORKSPACE)
