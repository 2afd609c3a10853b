# gitscore: `make book` (set up, execute the chapters, build the HTML) and `make test` (set up, ruff, unit + notebook
# tests in parallel, the results pipeline in small). `make help` lists every target with what it needs and costs.
SHELL := /bin/bash
VENV := .venv
DATA_DIR := /usr/share/datasets/fashion-mnist
export PYTHONUNBUFFERED := 1
# jupyter-book's command line through the chosen Python (its script may not be on PATH)
JB = $(PY) -c 'from jupyter_book.cli.main import main; main()'
# pytest-xdist workers for the checks (every chapter is checked whole by one worker; its thread count is its own)
JOBS ?= 2

# Which Python: `make PYTHON=/path/to/python` uses that one as it is; else an active conda environment other than
# base ($CONDA_PREFIX); else .venv, made from $(BASE_PYTHON). In the first two, set-up installs only the package
# itself (pip install -e . --no-deps) and checks that every dependency of pyproject.toml is there (conda: environment.yml).
BASE_PYTHON ?= python3
ifneq ($(filter command line environment,$(origin PYTHON)),)
  PY := $(PYTHON)
  ENV_KIND := given
else ifneq ($(and $(CONDA_PREFIX),$(filter-out base,$(CONDA_DEFAULT_ENV))),)
  PY := $(CONDA_PREFIX)/bin/python
  ENV_KIND := conda
else
  PY := $(VENV)/bin/python
  ENV_KIND := venv
endif
ifeq ($(ENV_KIND),venv)
  STAMP := $(VENV)/.installed
else
  STAMP := _build/.setup/$(subst /,_,$(abspath $(PY)))
endif

.PHONY: setup data test check lint unit nbtest book book-stored browser-test mathjax chromium bench clean \
        results results-smoke weights help provenance pdf tex

help:
	@echo "make test           ruff, unit tests + every chapter checked (pytest -n $(JOBS)), results pipeline in small"
	@echo "make unit | nbtest | lint | results-smoke    the parts of make test"
	@echo "make book           execute changed chapters and build the HTML (needs npm for MathJax: make mathjax)"
	@echo "make book-stored    the HTML from the outputs stored in the notebooks, nothing executed"
	@echo "make pdf            the whole book as one PDF from the stored outputs (TeX from Debian, ~150 MB)"
	@echo "make results        regenerate results/ from the shipped weights (about 10 h as timed; resumable; FORCE=1 redoes)"
	@echo "make weights        retrain the shipped networks and the classifier from scratch (about 6.3 h on 2 cores)"
	@echo "Python: $(PY) ($(ENV_KIND))"

setup: $(STAMP)

ifeq ($(ENV_KIND),venv)
# torch first, pinned (on our machines 2.13.0 is a local CPU wheel); then the package with its extras.
$(STAMP): pyproject.toml
	test -x $(PY) || $(BASE_PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[book,dev]"
	$(PY) -m pip install -q --no-deps "k-diffusion==0.1.1.post1"  # tests/test_step_convention.py (sampling.py only)
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)
else
# An environment made elsewhere (conda env create -f environment.yml, or your own): nothing but the package is installed.
$(STAMP): pyproject.toml environment.yml
	@test -x "$(PY)" || { echo "$(PY) is not an executable Python"; exit 1; }
	$(PY) scripts/check_env.py
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m pip install -q --no-deps "k-diffusion==0.1.1.post1"  # tests/test_step_convention.py (sampling.py only)
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@mkdir -p $(dir $(STAMP)) && touch $(STAMP)
endif

# The data sets (gitscore.data): Fashion-MNIST (Debian package dataset-fashion-mnist, or $GITSCORE_DATA pointing at the
# four IDX .gz files), the colour emoji (fonts-noto-color-emoji, or $GITSCORE_EMOJI_FONT=/path/to/NotoColorEmoji.ttf)
# and the glyphs (fonts-dejavu-core, or $GITSCORE_GLYPH_FONT=/path/to/DejaVuSans.ttf); the fonts are rendered to arrays
# once, on first use, and cached in $GITSCORE_CACHE (default ~/.cache/gitscore).
DATA_PACKAGES := $(if $(or $(GITSCORE_DATA),$(wildcard $(DATA_DIR)/train-images-idx3-ubyte.gz)),,dataset-fashion-mnist) \
  $(if $(or $(GITSCORE_EMOJI_FONT),$(wildcard /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf)),,fonts-noto-color-emoji) \
  $(if $(or $(GITSCORE_GLYPH_FONT),$(wildcard /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf)),,fonts-dejavu-core)
data:
	@pkgs="$(strip $(DATA_PACKAGES))"; if [ -z "$$pkgs" ]; then exit 0; fi; \
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkgs; \
	elif command -v apt-get >/dev/null && sudo -n true 2>/dev/null; then \
	  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkgs; \
	else \
	  echo "missing data packages: $$pkgs. Install them ('apt-get install $$pkgs', Debian/Ubuntu), or point at copies:"; \
	  echo "  Fashion-MNIST: the four IDX .gz files from https://github.com/zalandoresearch/fashion-mnist, GITSCORE_DATA=/that/folder"; \
	  echo "  emoji: NotoColorEmoji.ttf from https://github.com/googlefonts/noto-emoji, GITSCORE_EMOJI_FONT=/path/to/it"; \
	  echo "  glyphs: DejaVuSans.ttf from https://dejavu-fonts.github.io, GITSCORE_GLYPH_FONT=/path/to/it"; \
	  exit 1; \
	fi

# ruff (configured in pyproject.toml: line length 120) over the library, its tests, scripts and benchmarks.
lint: setup
	$(PY) -m ruff check gitscore tests scripts benchmarks browser_tests

# The checks run in parallel (pytest-xdist, $(JOBS) workers). --dist loadfile: a chapter's cells (they share a kernel)
# and a test module each go to one worker, in conftest.py's order: longest chapter first, then the unit tests. Every stored output is
# still compared (plain nbval, no --nbval-lax).
XDIST = -n $(JOBS) --dist loadfile --no-loadscope-reorder
NBVAL = -p no:cacheprovider --nbval

unit: setup data
	$(PY) -m pytest -q $(XDIST) tests

# Every chapter executes and its checked outputs match (plain `pytest --nbval book/` compares every output).
nbtest: setup data
	@if ls book/*.ipynb >/dev/null 2>&1; then $(PY) -m pytest -q $(XDIST) $(NBVAL) book/; \
	else echo "no chapters yet: skipping the notebook checks"; fi

# unit + nbtest in ONE pytest session, so that the two workers share out unit tests and chapters alike (the unit tests
# fill the tail of the longest chapter); tests/test_results_pipeline.py runs `make results-smoke`'s pipeline in it.
check: setup data
	$(PY) -m pytest -q $(XDIST) $(NBVAL) tests book/

test: lint check

# The results pipeline (scripts/results_pipeline.py; steps, outputs and times: results/README.md). Resumable: a step
# whose outputs are complete is skipped; FORCE=1 reruns every step, STEPS="a b" runs only those.
results: setup data
	$(PY) scripts/results_pipeline.py run --out results $(if $(FORCE),--force) $(if $(STEPS),--steps $(STEPS))

# The same pipeline in small (a few latents, a few training steps) into _build/results-smoke: about a minute.
results-smoke: setup data
	$(PY) scripts/results_pipeline.py run --smoke --out _build/results-smoke

# Retrain the shipped networks and the classifier from scratch with their recorded recipes into runs/ (resumable);
# the exports go to runs/weights/ (compare with gitscore/weights/, then copy them there yourself).
weights: setup data
	$(PY) scripts/results_pipeline.py weights --out runs $(if $(STEPS),--steps $(STEPS))

# The provenance page (book/provenance.md, generated, not committed): versions, machine, commit, each chapter's
# execution time, the weights' and data's sha256. Written before every build of the book.
provenance: setup
	$(PY) scripts/provenance.py

book: setup data mathjax provenance
	$(JB) build . -W --keep-going
	@echo "open _build/html/index.html"

# A local MathJax 3 for offline maths (npm registry, pinned version and sha256); the build copies book/_static/.
mathjax:
	@bash scripts/fetch_mathjax.sh book/_static/mathjax

# The HTML from the outputs stored in the notebooks, nothing executed: _config.yml with execution off.
book-stored: setup mathjax provenance
	@mkdir -p _build
	$(PY) -c 'import yaml; c = yaml.safe_load(open("_config.yml")); c.setdefault("execute", {})["execute_notebooks"] = "off"; \
	  yaml.safe_dump(c, open("_build/_config_stored.yml", "w"), sort_keys=False)'
	$(JB) build . --config _build/_config_stored.yml -W --keep-going

# The whole book as one PDF, _build/latex/gitscore.pdf, from the stored outputs: Jupyter Book's LaTeX builder through
# xelatex. TeX from Debian (about 150 MB to download, 450 MB installed; installed here as root if missing).
TEX_PACKAGES := latexmk texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended tex-gyre \
                texlive-plain-generic texlive-xetex fonts-freefont-otf
tex:
	@if command -v xelatex >/dev/null && command -v latexmk >/dev/null; then exit 0; fi; \
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TEX_PACKAGES); \
	else \
	  echo "xelatex/latexmk not found: apt-get install --no-install-recommends $(TEX_PACKAGES)"; exit 1; \
	fi

pdf: setup provenance tex
	@mkdir -p _build
	$(PY) -c 'import yaml; c = yaml.safe_load(open("_config.yml")); c.setdefault("execute", {})["execute_notebooks"] = "off"; \
	  yaml.safe_dump(c, open("_build/_config_stored.yml", "w"), sort_keys=False)'
	$(JB) build . --config _build/_config_stored.yml --builder pdflatex
	@echo "_build/latex/gitscore.pdf"

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
