# cobranca: `make up` runs the platform with demo data, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install up test lint typecheck bench bench-replay bench-scale-out contracts clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

up: install
	$(VENV)/bin/cobranca up

# Two workers: the platform tests (brokers, services) one after another in one, the unit tests
# beside them in the other (tests/conftest.py groups them).
test: install
	$(PY) -m pytest -q -n 2 --dist loadgroup

lint: install
	$(VENV)/bin/ruff check contracts service_runtime services cobranca analytics tests benchmarks
	$(VENV)/bin/mypy

typecheck: install
	$(VENV)/bin/mypy

bench: install
	$(PY) -m benchmarks.import_bench

# Replay speed: EVENTS=N for another size than the default 1,000,000; figures in bench-out/.
bench-replay: install
	$(PY) -m benchmarks.replay_bench $(if $(EVENTS),--events $(EVENTS)) --json bench-out/replay.json

# Scale-out evidence: two negotiation services and two gateways, one of each killed mid-stream.
bench-scale-out: install
	COBRANCA_SCALE_OUT=1 $(PY) -m pytest -q -s tests/e2e/test_scale_out.py

contracts: install
	$(PY) -m contracts.generate

clean:
	rm -rf $(VENV) var
