# gitscore: `make book` (set up, execute the chapters, build the HTML) and `make test` (set up, ruff, unit + notebook tests).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_DIR := /usr/share/datasets/fashion-mnist
export PYTHONUNBUFFERED := 1

.PHONY: setup data test lint unit nbtest book book-stored browser-test mathjax chromium bench clean

setup: $(STAMP)

# torch first, pinned (on our machines 2.13.0 is a local CPU wheel); then the package with its extras.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[book,dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

# Fashion-MNIST: the Debian package dataset-fashion-mnist, or $GITSCORE_DATA pointing at the four IDX .gz files.
data:
	@if [ -n "$$GITSCORE_DATA" ] || [ -f $(DATA_DIR)/train-images-idx3-ubyte.gz ]; then exit 0; fi; \
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; \
	elif command -v apt-get >/dev/null && sudo -n true 2>/dev/null; then \
	  sudo apt-get update -qq && sudo apt-get install -y -qq dataset-fashion-mnist; \
	else \
	  echo "Fashion-MNIST not found: run 'apt-get install dataset-fashion-mnist' (Debian/Ubuntu), or download the four"; \
	  echo "IDX .gz files from https://github.com/zalandoresearch/fashion-mnist and export GITSCORE_DATA=/that/folder."; \
	  exit 1; \
	fi

# ruff (configured in pyproject.toml: line length 120) over the library, its tests, scripts and benchmarks.
lint: setup
	$(VENV)/bin/ruff check gitscore tests scripts benchmarks browser_tests

unit: setup data
	$(PY) -m pytest -q tests

# Every chapter executes and its checked outputs match (plain `pytest --nbval book/` compares every output).
nbtest: setup data
	@if ls book/*.ipynb >/dev/null 2>&1; then $(PY) -m pytest -q -p no:cacheprovider --nbval book/; \
	else echo "no chapters yet: skipping the notebook checks"; fi

test: lint unit nbtest

book: setup data mathjax
	$(VENV)/bin/jupyter-book build . -W --keep-going
	@echo "open _build/html/index.html"

# A local MathJax 3 for offline maths (npm registry, pinned version and sha256); the build copies book/_static/.
mathjax:
	@bash scripts/fetch_mathjax.sh book/_static/mathjax

# The HTML from the outputs stored in the notebooks, nothing executed: _config.yml with execution off.
book-stored: setup mathjax
	@mkdir -p _build
	$(PY) -c 'import yaml; c = yaml.safe_load(open("_config.yml")); c.setdefault("execute", {})["execute_notebooks"] = "off"; \
	  yaml.safe_dump(c, open("_build/_config_stored.yml", "w"), sort_keys=False)'
	$(VENV)/bin/jupyter-book build . --config _build/_config_stored.yml -W --keep-going

# Debian's headless Chromium opens every page offline: pages load, images decode, maths typeset, no error cells.
# Screenshots: _build/screenshots/. CHROMIUM=/path/to/chrome to use another browser.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	elif command -v apt-get >/dev/null && sudo -n true 2>/dev/null; then \
	  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "Chromium not found: 'apt-get install chromium' (Debian), or make browser-test CHROMIUM=/path/to/chrome"; \
	  exit 1; \
	fi

browser-test: book-stored chromium
	rm -rf _build/screenshots
	CHROMIUM=$(CHROMIUM) $(PY) -m pytest -q -s -p no:cacheprovider browser_tests

bench: setup data
	$(PY) benchmarks/bench_kde.py
	$(PY) benchmarks/bench_gits.py --threads 1

clean:
	rm -rf _build .jupyter_cache
