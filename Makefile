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

.PHONY: demo test test-e2e bench ui lint setup clean-demo

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

test: $(VENV)/.synced
	$(VENV)/bin/pytest -q

# whole multi-month runs (lifecycle, relisting, a month of .xls files): CI runs them too
test-e2e: $(VENV)/.synced
	$(VENV)/bin/pytest -q -m e2e

bench: $(VENV)/.synced
	$(UV) sync --frozen --group bench --inexact
	$(VENV)/bin/python bench/bench.py --members $(MEMBERS)

ui: $(VENV)/.synced
	$(VENV)/bin/fangfan ui --data-dir $(DEMO_DIR)

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean-demo:
	rm -rf $(DEMO_DIR)/raw/20* $(DEMO_DIR)/truth $(DEMO_DIR)/exports $(DEMO_DIR)/warehouse/fangfan.duckdb* .dagster_home
