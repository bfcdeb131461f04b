# cobranca: `make up` runs the platform with demo data, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install up test lint typecheck bench contracts clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

up: install
	$(VENV)/bin/cobranca up

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check contracts service_runtime services cobranca analytics tests benchmarks
	$(VENV)/bin/mypy

typecheck: install
	$(VENV)/bin/mypy

bench: install
	$(PY) -m benchmarks.import_bench

contracts: install
	$(PY) -m contracts.generate

clean:
	rm -rf $(VENV) var
