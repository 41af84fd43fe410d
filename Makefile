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
# pip prints errors only. This machine's pip configuration (pip config list) adds file:// indexes that hold
# some projects, and pip warns "Location ... is ignored" for every project one of them lacks; a real
# failure still prints its ERROR lines and stops make.
PIP := $(BIN)/pip --quiet --quiet

export PORT

.PHONY: run test install test-model frontend browser-deps lint fmt evaluate benchmark clean

# llama.cpp is compiled for this CPU's vector units, named one by one from /proc/cpuinfo rather than with
# -march=native: a native build on a CPU that advertises AMX takes ggml's AMX path, which crashes in
# llama_decode (SIGSEGV) on virtual machines that list AMX without granting it. Elsewhere: native.
LLAMA_CPP_VERSION := $(shell sed -n 's/.*"llama-cpp-python==\([^"]*\)".*/\1/p' pyproject.toml)
CPU_FLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2)
ifneq ($(filter avx2,$(CPU_FLAGS)),)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON \
	$(if $(filter fma,$(CPU_FLAGS)),-DGGML_FMA=ON) $(if $(filter f16c,$(CPU_FLAGS)),-DGGML_F16C=ON) \
	$(if $(filter bmi2,$(CPU_FLAGS)),-DGGML_BMI2=ON) $(if $(filter avx_vnni,$(CPU_FLAGS)),-DGGML_AVX_VNNI=ON) \
	$(if $(filter avx512f,$(CPU_FLAGS)),-DGGML_AVX512=ON) \
	$(if $(filter avx512_vnni,$(CPU_FLAGS)),-DGGML_AVX512_VNNI=ON) \
	$(if $(filter avx512vbmi,$(CPU_FLAGS)),-DGGML_AVX512_VBMI=ON) \
	$(if $(filter avx512_bf16,$(CPU_FLAGS)),-DGGML_AVX512_BF16=ON)
else
LLAMA_CMAKE_ARGS ?=
endif
# Built once per version and set of flags, outside the clone: pip's own wheel cache ignores CMAKE_ARGS.
LLAMA_WHEELS ?= $(HOME)/.cache/analytics-chat/llama-cpp-python-$(LLAMA_CPP_VERSION)-$(shell echo '$(strip $(LLAMA_CMAKE_ARGS))' | md5sum | cut -c1-12)

$(VENV)/.installed: pyproject.toml clients/python/pyproject.toml Makefile
	@test -x $(BIN)/python || { echo "Creating the virtual environment $(VENV)..."; $(PY) -m venv $(VENV); }
	@echo "Installing pip and wheel into $(VENV)..."
	@$(PIP) install --upgrade pip wheel
	@test -n "$$(ls $(LLAMA_WHEELS)/*.whl 2>/dev/null)" || { \
		echo "Compiling llama-cpp-python $(LLAMA_CPP_VERSION) once (about 5 minutes; kept in $(LLAMA_WHEELS))..."; \
		rm -rf $(LLAMA_WHEELS).partial && \
		CMAKE_ARGS="$(strip $(LLAMA_CMAKE_ARGS))" $(PIP) wheel --no-cache-dir --no-deps \
			llama-cpp-python==$(LLAMA_CPP_VERSION) -w $(LLAMA_WHEELS).partial && \
		mv $(LLAMA_WHEELS).partial $(LLAMA_WHEELS); }
	@echo "Installing Python packages..."
	@$(PIP) install --force-reinstall --no-deps $(LLAMA_WHEELS)/*.whl
	@$(PIP) install -e '.[test]' -e clients/python
	@touch $@

install: $(VENV)/.installed

# The chat page's packages (served as static files) and the React example's (built and tested with Vite).
frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	@echo "Installing the chat page's JavaScript packages (npm)..."
	@npm ci --prefix frontend --no-audit --no-fund --loglevel=error
	@touch $@

frontend/react-example/node_modules/.installed: frontend/react-example/package.json frontend/react-example/package-lock.json
	@echo "Installing the React example's JavaScript packages (npm)..."
	@npm ci --prefix frontend/react-example --no-audit --no-fund --loglevel=error
	@touch $@

frontend: frontend/node_modules/.installed frontend/react-example/node_modules/.installed

browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test-model: install
	$(BIN)/python manage.py fetch_model $(TEST_MODEL) --no-register

run: install frontend
	@$(BIN)/python manage.py bootstrap
	@$(BIN)/python manage.py fetch_model $(DEFAULT_MODEL)
	@$(BIN)/python manage.py serve --port $(PORT)

test: install frontend browser-deps test-model
	$(BIN)/mypy
	cd frontend/react-example && npx vitest run
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) AC_REQUIRE_MODEL=1 \
		$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

evaluate: install
	$(BIN)/python manage.py evaluate --questions ../shared/eval/demo_dev.jsonl --source demo

benchmark: install
	$(BIN)/python manage.py benchmark

clean:
	rm -rf $(VENV) frontend/node_modules staticfiles
