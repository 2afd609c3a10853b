# gitscore: `make book` (set up, execute the chapters, build the HTML) and `make test` (set up, unit + notebook tests).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_DIR := /usr/share/datasets/fashion-mnist
export PYTHONUNBUFFERED := 1

.PHONY: setup data test unit nbtest book book-stored browser-test bench clean

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

unit: setup data
	$(PY) -m pytest -q tests

# Every chapter executes and its checked outputs match (plain `pytest --nbval book/` compares every output).
nbtest: setup data
	@if ls book/*.ipynb >/dev/null 2>&1; then $(PY) -m pytest -q -p no:cacheprovider --nbval book/; \
	else echo "no chapters yet: skipping the notebook checks"; fi

test: unit nbtest

book: setup data
	$(VENV)/bin/jupyter-book build . -W --keep-going
	@echo "open _build/html/index.html"

bench: setup data
	$(PY) benchmarks/bench_kde.py
	$(PY) benchmarks/bench_gits.py --threads 1

clean:
	rm -rf _build .jupyter_cache
