# Quick start: `make demo` (set up + sample, judge and report the shipped digits model) and `make test` (set up + run the tests).
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= out/demo
CORPUS_DIR ?= out/demo-digits
PYTEST_ARGS ?=

.PHONY: setup setup-test demo demo-corpus test bench clean

setup:
	@bash scripts/setup.sh

# make test also needs Chromium and its driver (installed when root) for the browser tests; the demo does not.
setup-test:
	@bash scripts/setup.sh --test

demo: setup
	$(BIN)/speechgen demo --out $(DEMO_DIR)

demo-corpus: setup
	$(BIN)/speechgen corpus digits --out $(CORPUS_DIR) --variants 1

test: setup-test
	$(BIN)/python -m pytest -n 2 -q $(PYTEST_ARGS)

bench: setup
	$(BIN)/python bench/corpus_speed.py

clean:
	rm -rf $(VENV) out .pytest_cache
