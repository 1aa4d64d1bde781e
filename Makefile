# The two set-up commands: `make demo` (the stack on this machine) and `make test`.
# Both create .venv and install what is missing, Debian packages included (see .ci/system-deps).
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTHON ?= python3

.PHONY: demo test test-fast test-unit lint bench system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-deps:
	bash .ci/system-deps

demo: $(STAMP) system-deps
	$(BIN)/thoth-monitoring demo $(DEMO_ARGS)

test: $(STAMP) system-deps lint
	$(BIN)/pytest $(PYTEST_ARGS)

# The everyday loop: everything but tests/e2e/ and the tests that start our processes.
test-fast: $(STAMP) system-deps
	$(BIN)/pytest -m "not e2e" $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP) system-deps
	$(BIN)/python -m bench.scrape $(BENCH_ARGS)
	$(BIN)/python -m bench.bloat
	$(BIN)/python -m bench.receiver
	$(BIN)/python -m bench.slo
	$(BIN)/python -m bench.repo_metrics
	$(BIN)/python -m bench.faults
	$(BIN)/python -m bench.kafka
	$(BIN)/python -m bench.analytics

clean:
	rm -rf $(VENV) .thoth-monitoring demo-out .pytest_cache .mypy_cache .ruff_cache .test-cache
