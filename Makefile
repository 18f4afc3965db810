# Steward's everyday commands. Each installs what it needs into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo run test lint lock clean

demo: $(VENV)/.installed  ## Generate a demo book (SQLite), print digests, alerts and a backtest, then take commands
	$(BIN)/steward demo

run: $(VENV)/.installed  ## Start Steward on SQLite at http://127.0.0.1:8000 (creates local credentials in .env)
	$(BIN)/steward init
	$(BIN)/steward serve

test: $(VENV)/.installed  ## Run the tests (SQLite; set STEWARD_TEST_DATABASE_URL for PostgreSQL)
	$(BIN)/pytest

lint: $(VENV)/.installed  ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

lock: $(VENV)/.installed  ## Re-resolve uv.lock from pyproject.toml and export the pip lock files
	$(BIN)/python -m pip install --quiet 'uv==0.13.9'
	$(BIN)/uv lock
	$(BIN)/uv export --frozen --no-emit-project --no-dev --format requirements-txt -o requirements.lock -q
	$(BIN)/uv export --frozen --no-emit-project --extra dev --format requirements-txt -o requirements-dev.lock -q

# The locked versions (with hashes) first, then Steward itself on top of them.
$(VENV)/.installed: pyproject.toml requirements-dev.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Steward needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e '.[dev]'
	@touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
