# Two commands do all set-up on a fresh machine:
#   make run    create the venv, install what running needs, ingest corpus/, serve the chat app
#   make test   the same plus the dev tools and Chromium, then ruff and the whole test suite
#
# Settable: PY=/path/to/python (default: the first Python >= 3.11 found, see below) and
# TORCH_INDEX=URL (where torch comes from; empty = pip's usual sources, which on the development
# machine hold a local CPU wheel). Elsewhere use TORCH_INDEX=https://download.pytorch.org/whl/cpu,
# or pip fetches the multi-GB CUDA build.

# python3 first (the machine's own choice), then 3.11, the version the project is measured on,
# then newer ones. A candidate counts only if it runs and is >= 3.11: pyenv shims of versions
# that are not active exist but fail, and `python3` may be older.
PY_CANDIDATES := python3 python3.11 python3.12 python3.13
ifndef PY
PY := $(shell for p in $(PY_CANDIDATES); do \
  $$p -c 'import sys; sys.version_info >= (3, 11) or sys.exit(1); print(sys.executable)' \
  2>/dev/null && break; done)
endif
TORCH := torch==2.13.0
TORCH_INDEX ?=
VENV := .venv
BIN := $(VENV)/bin
TORCH_STAMP := $(VENV)/.installed-$(subst ==,-,$(TORCH))
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
LLM_STAMP := $(VENV)/.installed-llm-test

.PHONY: run test test-llm lint bench chromium setup

$(BIN)/python:
	@test -n "$(PY)" || { echo "No Python >= 3.11 found (tried: $(PY_CANDIDATES))." \
	  "Install one, or name it: make run PY=/path/to/python3.11" >&2; exit 1; }
	@"$(PY)" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
	  { echo "PY=$(PY) does not run, or is older than Python 3.11." >&2; exit 1; }
	"$(PY)" -m venv $(VENV)

# torch first, on its own, so that nothing later pulls a CUDA build.
$(TORCH_STAMP): | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) $(TORCH)
	touch $@

# What running needs.
$(RUN_STAMP): pyproject.toml $(TORCH_STAMP)
	$(BIN)/pip install -q -e .
	touch $@

# Running's packages plus the dev tools; it covers `make run`'s install too.
$(DEV_STAMP): pyproject.toml $(TORCH_STAMP)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(RUN_STAMP)

setup: $(DEV_STAMP)

run: $(RUN_STAMP)
	$(BIN)/python app.py

# The same search, in the same order, as tests/test_browser.py's find_chromium().
chromium:
	@found=$$( { test -x /usr/bin/chromium && echo /usr/bin/chromium; } || \
	  command -v chromium || command -v chromium-browser || true ); \
	if [ -n "$$found" ]; then echo "Chromium: $$found"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "Chromium is missing, and installing it with apt-get needs root:" \
	    "run 'sudo apt-get install chromium' (or put a chromium on PATH), then make test again." >&2; \
	  exit 1; \
	fi; \
	echo "Chromium is missing: installing it with apt-get"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
	@/usr/bin/chromium --version 2>/dev/null || chromium --version 2>/dev/null || chromium-browser --version

test: $(DEV_STAMP) chromium
	$(BIN)/ruff check bot tests app.py scripts
	$(BIN)/python -m pytest -q

# Generative mode against a real LLM server (tests/test_llm_server.py). The llm-test extra
# compiles llama.cpp from source (6½ minutes on the 2-core development machine the first time;
# pip caches the wheel), so `make test` leaves it out and those tests skip there.
$(LLM_STAMP): pyproject.toml $(DEV_STAMP)
	CMAKE_BUILD_PARALLEL_LEVEL=$${CMAKE_BUILD_PARALLEL_LEVEL:-2} $(BIN)/pip install -q -e '.[dev,llm-test]'
	touch $@

test-llm: $(LLM_STAMP)
	$(BIN)/python -m pytest -q -m llm

lint: $(DEV_STAMP)
	$(BIN)/ruff check bot tests app.py scripts
	$(BIN)/ruff format --check bot tests app.py scripts

bench: $(DEV_STAMP)
	$(BIN)/bot bench --passages 1000
