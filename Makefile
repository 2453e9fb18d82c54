# One command each: `make demo` runs the main job offline, `make test` runs every test. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/musicgen-tui demo

test: $(STAMP)
	$(BIN)/ruff check core cli tui tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q

# Side-by-side benchmarks against sha256sum, hf download, hf cache verify and du (docs/PERFORMANCE.md).
bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/faults_vs_hf.py

# A tiny run of the same scripts, so CI keeps them working. Prints figures; asserts nothing.
bench-quick: $(STAMP)
	$(BIN)/python bench/run.py --quick

lint: $(STAMP)
	$(BIN)/ruff check core cli tui tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
