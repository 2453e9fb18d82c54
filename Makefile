# One command each: `make demo` runs the main job offline, `make test` runs every test. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-quick clean

# Quiet: -qq shows errors only (a machine's pip configuration can add warnings about its own mirrors).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -qq --upgrade pip
	$(BIN)/pip install -qq -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/musicgen-tui demo

# Lint, type-check, check the layers (import-linter contracts in pyproject.toml), then every test.
test: lint
	$(BIN)/pytest -q

# Side-by-side benchmarks against sha256sum, hf download, hf cache verify and du (docs/PERFORMANCE.md);
# bench/scale.py: datasets of 20,000 and 100,000 files (300,000 with --files 300000), and the app with 20,000 queued;
# bench/segments.py: a 256 MiB file over ranged connections, capped at 8 MB/s each, then on loopback;
# bench/reverify.py: a second verify of 20,000 small files listed in a checksum file, against du -sb;
# bench/extract.py: a 1 GB tar.gz of 100,000 members extracted with every member's sha256, against tar -xzf;
# bench/runtime.py: the structural smoke of a 10 GB weight file, and the HF-cache view of 100,000 files against du;
# bench/outdated.py: outdated over 100 repos against a Hub answering each API call after 50 ms;
# bench/lifecycle.py: prune --dry-run over a 100,000-file root against du -sb;
# bench/carry.py: a restore from a lock against a plain download, pack/unpack of 2 GB against tar -cf/-xf, and
# verify --lock of a 100,000-file root against du -sb.
bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/segments.py
	$(BIN)/python bench/reverify.py
	$(BIN)/python bench/extract.py
	$(BIN)/python bench/runtime.py
	$(BIN)/python bench/outdated.py
	$(BIN)/python bench/lifecycle.py
	$(BIN)/python bench/carry.py
	$(BIN)/python bench/faults_vs_hf.py

# A tiny run of the same scripts, so CI keeps them working. Prints figures; asserts nothing.
bench-quick: $(STAMP)
	$(BIN)/python bench/run.py --quick
	$(BIN)/python bench/scale.py --quick
	$(BIN)/python bench/segments.py --quick
	$(BIN)/python bench/reverify.py --quick
	$(BIN)/python bench/extract.py --quick
	$(BIN)/python bench/runtime.py --quick
	$(BIN)/python bench/outdated.py --quick
	$(BIN)/python bench/lifecycle.py --quick
	$(BIN)/python bench/carry.py --quick

lint: $(STAMP)
	$(BIN)/ruff check core cli tui localhub tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
