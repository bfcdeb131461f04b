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

# The tests that start brokers and services run one after another, as they would alone; the
# unit tests run beside them in a second pytest (their report follows), on the other core, at a
# lower priority: the platforms' brokers and services get the CPU first, the unit tests the rest.
test: install
	@unit=$$(mktemp -d); \
	( nice -n 10 $(PY) -m pytest -q -p no:cacheprovider tests/unit > $$unit/log 2>&1; echo $$? > $$unit/rc ) & \
	$(PY) -m pytest -q --durations=12 tests/integration tests/e2e; platforms=$$?; wait; \
	echo "--- unit tests (run beside the above):"; \
	if [ "$$(cat $$unit/rc)" = 0 ]; then tail -n 3 $$unit/log; else cat $$unit/log; fi; \
	test "$$platforms" = 0 && test "$$(cat $$unit/rc)" = 0

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
