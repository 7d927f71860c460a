# Quick start: `make demo` (set up + run the main job) and `make test` (set up + run the tests).
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= out/demo-digits
PYTEST_ARGS ?=

.PHONY: setup demo test bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(BIN)/speechgen corpus digits --out $(DEMO_DIR) --variants 1

test: setup
	$(BIN)/python -m pytest -n 2 -q $(PYTEST_ARGS)

bench: setup
	$(BIN)/python bench/corpus_speed.py

clean:
	rm -rf $(VENV) out .pytest_cache
