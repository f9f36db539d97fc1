# The two commands a newcomer needs: `make run` and `make test`. Each creates (or reuses) the
# virtual environment in .venv and installs what it needs first.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
             command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
             && { command -v $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

.PHONY: run test lint bench screenshots clean-venv

$(PY):
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 or newer is needed (python3.11+ on PATH)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# The project installs itself (editable), so `workbench` is a command and no file edits sys.path.
$(RUNTIME): requirements.txt pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

$(DEV): requirements.txt requirements-dev.txt pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@ $(RUNTIME)

PORT ?= 8501
# pytest workers for `make test` (pytest-xdist): one per core by default; 0 runs in one process.
TEST_WORKERS ?= auto

## run: prepare the embedded database (migrate, seed a demo workspace once) and start the app
run: $(RUNTIME)
	$(VENV)/bin/workbench run --port $(PORT)

## test: lint, type-check and the whole test suite (PostgreSQL parts need WORKBENCH_TEST_POSTGRES_URL)
test: lint
	@if [ -z "$$WORKBENCH_TEST_POSTGRES_URL" ]; then \
	  echo "NOTE: WORKBENCH_TEST_POSTGRES_URL is not set: the PostgreSQL tests will be SKIPPED."; fi
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(DEV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict ledger workbench

## bench: the ledger, gateway, webhook, analytics, app (start-up, page runs) and browser (needs /usr/bin/chromium) benchmarks (add a PostgreSQL URL with BENCH_POSTGRES_URL=...)
bench: $(DEV)
	$(PY) -m scripts.bench_ledger
	@if [ -n "$$BENCH_POSTGRES_URL" ]; then $(PY) -m scripts.bench_ledger --url "$$BENCH_POSTGRES_URL"; fi
	$(PY) -m scripts.bench_gateway
	$(PY) -m scripts.bench_webhook
	@if [ -n "$$BENCH_POSTGRES_URL" ]; then $(PY) -m scripts.bench_webhook --url "$$BENCH_POSTGRES_URL"; fi
	$(PY) -m scripts.bench_analytics --events 1000000
	$(PY) -m scripts.bench_app
	@if [ -n "$$BENCH_POSTGRES_URL" ]; then $(PY) -m scripts.bench_app --postgres-url "$$BENCH_POSTGRES_URL"; fi
	$(PY) -m scripts.bench_ui

## screenshots: a PNG of every page per role into docs/screenshots (needs /usr/bin/chromium)
screenshots: $(DEV)
	$(PY) -m scripts.screenshots

clean-venv:
	rm -rf $(VENV)
