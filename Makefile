# The two commands of the README: `make demo` and `make test`.
# Each creates/updates .venv/ from uv.lock first; nothing else needs to be installed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.8
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))

.PHONY: demo lint audit test test-fast bench install clean-db

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "mbuzz needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --all-groups --quiet
	@test -x $(UV) || $(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@touch $@

# the dbt manifest the Dagster definitions load (importing them parses nothing; no database needed)
MANIFEST := target/manifest.json
$(MANIFEST): $(VENV)/.synced dbt_project.yml $(shell find dbt_project -name '*.sql' -o -name '*.yml' -o -name '*.csv')
	$(VENV)/bin/mbuzz warehouse parse

install: $(VENV)/.synced $(MANIFEST)

demo: install
	$(VENV)/bin/mbuzz demo

# ruff (a small conventional rule set, pyproject.toml; ruff format for the layout), the layer contracts (import-linter) and
# sqlfluff on the dbt models (.sqlfluff: the dbt templater, dbt Labs' layout; tools/sqllint.py)
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python tools/sqllint.py lint

# the locked dependencies against PyPI's vulnerability data (pip-audit; docs/operations.md,
# "Dependency audit"): a known vulnerability fails; what could not be audited (PyPI unreachable,
# a network blip) is a WARNING, not a failure
audit: install
	$(VENV)/bin/python tools/audit.py

test: lint audit
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: lint
	$(VENV)/bin/pytest -m "not slow and not browser" $(PYTEST_ARGS)

bench: install
	$(VENV)/bin/python benchmarks/attribution.py

clean-db:
	-$(VENV)/bin/mbuzz db down
	rm -rf .mbuzz
