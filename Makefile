# Every target bootstraps its own virtualenv: nothing is installed by hand.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.rectune-installed
WORKSPACE ?= .rectune-demo
ROUNDS ?= 3

.PHONY: install demo test lint typecheck contracts unit studio bench notebooks screenshots clean

# Slow tests (marked `slow`) run in CI (CI is set) and with `make test SLOW=1`.
PYTEST_MARK := $(if $(or $(CI),$(SLOW)),,-m "not slow")

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: install
	$(VENV)/bin/rectune demo --workspace $(WORKSPACE) --rounds $(ROUNDS)

lint: install
	$(VENV)/bin/ruff check rectune tests benchmarks scripts

typecheck: install
	$(VENV)/bin/mypy

contracts: install
	$(VENV)/bin/lint-imports --no-cache

unit: install
	$(VENV)/bin/pytest -q -n 2 -m "not slow and not integration"

test: lint typecheck contracts
	$(VENV)/bin/pytest -q -n 2 $(PYTEST_MARK) --doctest-modules rectune tests

# langgraph dev refuses a checkpointer, so it serves rectune/graph/studio.py; port 2024 may be
# taken on shared machines, so a free one is picked.
studio: install
	$(VENV)/bin/langgraph dev --no-browser --host 127.0.0.1 \
		--port $$($(PY) -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# Stored outputs of the notebooks (plots visible where the notebooks are read).
notebooks: install
	$(PY) scripts/refresh_notebooks.py

# The PNG screenshots in docs/img (needs a Chromium: Debian's `chromium` package).
screenshots: install
	$(PY) scripts/screenshots.py

bench: install
	$(PY) benchmarks/tuning.py --quick

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache $(WORKSPACE)
