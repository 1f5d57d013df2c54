# fangfan: two commands do everything on a fresh machine with Python 3.11+ and make.
#   make demo   generate the demo district (if absent) and run 2026-10 through Dagster
#   make test   the default test suite
PYTHON ?= python3
VENV := .venv
UV := .tools/bin/uv
UV_VERSION := 0.13.8
DEMO_DIR ?= data
DEMO_MONTH ?= 2026-10
DEMO_MEMBERS ?= 20000
MEMBERS ?= 1000000
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
# the installed packages' bytecode is written once, at install: where PYTHONDONTWRITEBYTECODE is
# set (this kind of machine, CI) every process would otherwise compile ~650 modules of dagster,
# sqlalchemy, alembic, pandera … from source at start (2.9 s of each `fangfan run`, docs/SCALE.md)
export UV_COMPILE_BYTECODE := 1

.PHONY: demo test test-e2e test-services city bench ui lint setup clean-demo

setup: $(VENV)/.synced

# uv lives in its own tools venv: `uv sync` removes whatever the lock file does not list
$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

demo: $(VENV)/.synced
	@if [ -d "$(DEMO_DIR)/raw/$(DEMO_MONTH)" ]; then \
		echo "using the existing demo data in $(DEMO_DIR)/raw (delete it to regenerate)"; \
	else \
		$(VENV)/bin/fangfan generate --out $(DEMO_DIR) --month $(DEMO_MONTH) \
			--members $(DEMO_MEMBERS) --seed 2026 --messy; \
	fi
	$(VENV)/bin/fangfan run --month $(DEMO_MONTH) --data-dir $(DEMO_DIR)

# the test files run side by side, one file's tests on one worker (their module fixtures are
# built once): the default suite took 9m46s in one process on a slow 2-core machine, 5m17s on two.
# One worker a core, at most four (each holds its own DuckDB and Dagster: ~0.5-1 GB)
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(min(4, os.cpu_count() or 1))")
test: $(VENV)/.synced
	$(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist loadfile

# whole multi-month runs (lifecycle, relisting, a month of .xls files): CI runs them too
test-e2e: $(VENV)/.synced
	$(VENV)/bin/pytest -q -m e2e -n $(TEST_WORKERS) --dist loadfile

# the city profile on real services (PostgreSQL, Redis, a Celery worker, the daemon): CI runs it too
test-services: $(VENV)/.synced
	$(VENV)/bin/pytest -q -m services

# make city [WORKERS=1|2]: a synthetic city of CITY_DISTRICTS districts x CITY_MEMBERS members, one
# month backfilled through PostgreSQL, Redis, Celery workers, the daemon and the webserver, all on
# 127.0.0.1 and all stopped at the end; a run with another WORKERS prints the throughput ratio
WORKERS ?= 2
CITY_DISTRICTS ?= 4
CITY_MEMBERS ?= 2000
CITY_MONTH ?= 2026-10
CITY_DIR ?= $(or $(TMPDIR),/tmp)/fangfan-city
city: $(VENV)/.synced
	$(VENV)/bin/python -m pipelines.city.services city --out $(CITY_DIR)/city \
		--workers $(WORKERS) --districts $(CITY_DISTRICTS) --members $(CITY_MEMBERS) \
		--month $(CITY_MONTH) --scratch $(CITY_DIR) --record $(CITY_DIR)/throughput.json

bench: $(VENV)/.synced
	$(UV) sync --frozen --group bench --inexact
	$(VENV)/bin/python bench/bench.py --members $(MEMBERS)

ui: $(VENV)/.synced
	$(VENV)/bin/fangfan ui --data-dir $(DEMO_DIR)

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean-demo:
	rm -rf $(DEMO_DIR)/raw/20* $(DEMO_DIR)/truth $(DEMO_DIR)/exports $(DEMO_DIR)/warehouse/fangfan.duckdb* .dagster_home
