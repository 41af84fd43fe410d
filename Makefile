# The two commands of the README: `make run` and `make test`. Everything else here serves them.
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
DEFAULT_MODEL ?= qwen2.5-coder-1.5b
TEST_MODEL ?= qwen2.5-coder-0.5b
# make test talks to this machine's real PostgreSQL and Redis.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/3
PYTEST_ARGS ?=

export PORT

.PHONY: run test install test-model frontend browser-deps lint fmt evaluate benchmark clean

$(VENV)/.installed: pyproject.toml clients/python/pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel
	@echo "Installing Python packages (llama-cpp-python compiles once, a few minutes; pip caches it)..."
	$(BIN)/pip install --quiet -e '.[test]' -e clients/python
	@touch $@

install: $(VENV)/.installed

# The chat page's packages (served as static files) and the React example's (built and tested with Vite).
frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	npm ci --prefix frontend --no-audit --no-fund
	@touch $@

frontend/react-example/node_modules/.installed: frontend/react-example/package.json frontend/react-example/package-lock.json
	npm ci --prefix frontend/react-example --no-audit --no-fund
	@touch $@

frontend: frontend/node_modules/.installed frontend/react-example/node_modules/.installed

browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test-model: install
	$(BIN)/python manage.py fetch_model $(TEST_MODEL) --no-register

run: install frontend
	$(BIN)/python manage.py bootstrap
	$(BIN)/python manage.py fetch_model $(DEFAULT_MODEL)
	$(BIN)/python manage.py serve --port $(PORT)

test: install frontend browser-deps test-model
	cd frontend/react-example && npx vitest run
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) AC_REQUIRE_MODEL=1 \
		$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

evaluate: install
	$(BIN)/python manage.py evaluate --questions ../shared/eval/demo_dev.jsonl --source demo

benchmark: install
	$(BIN)/python manage.py benchmark

clean:
	rm -rf $(VENV) frontend/node_modules staticfiles
