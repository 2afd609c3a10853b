# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Reproduction summary
#
# ## Overview
#
# Every claim the book tests is registered once in `gitscore.claims`: its source in the paper, the
# statistic that tests it, a threshold fixed before the run with its reason, the models, and a
# control that lacks the structure the claim rests on. A verdict is what the registry's one rule
# returns from the statistic's 95 % intervals: **holds** (the interval clears the threshold on every
# model), **holds on some models** (the verdict names them), **not decided** (an interval straddles
# the threshold), **does not hold** (every interval on the wrong side), and **not separable here**
# when the control passes too, or fails by less than a factor of two. The tables at the front list
# the paper's claims and, separately, the tests beyond the paper; each chapter's own table follows.
#
# **Why the summary cannot drift.** {numref}`tab-summary-paper` and {numref}`tab-summary-beyond` are read from the chapters' stored notebooks,
# which the strict notebook check (`pytest --nbval`, in `make test`) keeps equal to a fresh execution of
# every chapter; the chapter tables further down are not computed here at all: the book build pastes
# them from the outputs of the chapters *as the build executed them* (myst-nb's cross-document glue),
# so a chapter re-executed with other numbers changes its rows in the same build, and a chapter that no
# longer glues its verdicts fails the build (`-W`).
#
# Rows beyond the paper test something the paper does not claim or measure (for GITS: the error
# against a converged reference solution; the paper reports FID only); they are reported in their
# own table and never counted with the paper's claims.
#
# :::{admonition} Rerun this chapter
# :class: note dropdown
#
# - **command:** `OMP_NUM_THREADS=1 .venv/bin/jupytext --to ipynb --execute book/09_summary.py`
#   (or `make book`, which re-executes changed chapters)
# - **run time:** a few seconds on 2 CPU cores
# - **reads:** the verdicts stored in the other chapters' notebooks (the front tables), and pastes
#   those the build glued (the chapter tables); re-executing every chapter it reads takes about
#   15 min of cell time (the {doc}`provenance` page lists each), and regenerating every committed
#   result they read about 2 h 10 min (the sum of the step times of `make results` in
#   `results/README.md`), on 2 CPU cores
# :::

# %% tags=["remove-input", "nbval-check-output"]
from pathlib import Path

import pandas as pd
import yaml
from IPython.display import display

import gitscore as gs

BOOK = Path.cwd() if Path.cwd().name == "book" else Path.cwd() / "book"
rows = gs.report.collect(BOOK)
for beyond, name in ((False, "tab-summary-paper"), (True, "tab-summary-beyond")):
    gs.report.glue_table(name, pd.DataFrame(gs.report.summary_rows(rows, beyond_paper=beyond),
                                                columns=gs.report.SUMMARY_COLUMNS))

# %% [markdown]
# ````{table} The paper's claims, as the claims registry's rule judges them.
# :name: tab-summary-paper
# :class: gs-table
#
# ```{glue:md} tab-summary-paper
# :format: myst
# ```
# ````
#
# :::::{dropdown} Tests beyond the paper (not counted with the paper's claims): click to open the table
# ````{table} Tests beyond the paper (not counted with the paper's claims).
# :name: tab-summary-beyond
# :class: gs-table
#
# ```{glue:md} tab-summary-beyond
# :format: myst
# ```
# ````
# :::::

# %% [markdown]
# The regularity claims on every data set of {doc}`11_datasets` (three kinds of image, $d$ = 784
# to 12,288), one row per data set: where each data set's 95 % interval lies against the claim's
# threshold (the verdicts themselves are in the table above and in that chapter).
#
# ```{glue} datasets-sides
# :doc: 11_datasets.ipynb
# ```
#
# ## The verdicts, chapter by chapter
#
# The same verdicts as each chapter glued them, with links to the measurements (click a chapter to
# open its table).
#
# :::{admonition} {doc}`Chapter 1 <01_ode>`
# :class: dropdown
#
# ```{glue} verdicts
# :doc: 01_ode.ipynb
# ```
# :::
#
# :::{admonition} {doc}`Chapter 2 <02_regularity>`
# :class: dropdown
#
# ```{glue} verdicts
# :doc: 02_regularity.ipynb
# ```
# :::
#
# :::{admonition} {doc}`Chapter 3 <03_denoising>`
# :class: dropdown
#
# ```{glue} verdicts
# :doc: 03_denoising.ipynb
# ```
# :::
#
# :::{admonition} {doc}`Chapter 4 <04_kde>`
# :class: dropdown
#
# ```{glue} verdicts
# :doc: 04_kde.ipynb
# ```
# :::
#
# :::{admonition} {doc}`Chapter 5 <05_meanshift>`
# :class: dropdown
#
# ```{glue} verdicts
# :doc: 05_meanshift.ipynb
# ```
# :::
#
# :::{admonition} {doc}`Chapter 6 <06_gits>`
# :class: dropdown
#
# ```{glue} verdicts
# :doc: 06_gits.ipynb
# ```
# :::
#
# :::{admonition} {doc}`Chapter 7 <07_gits_bench>`
# :class: dropdown
#
# ```{glue} verdicts
# :doc: 07_gits_bench.ipynb
# ```
# :::
#
# :::{admonition} {doc}`Chapter 8 <08_optimal>`
# :class: dropdown
#
# ```{glue} verdicts
# :doc: 08_optimal.ipynb
# ```
# :::
#
# :::{admonition} {doc}`Chapter 9 <11_datasets>`
# :class: dropdown
#
# ```{glue} verdicts
# :doc: 11_datasets.ipynb
# ```
# :::
#
# :::{admonition} {doc}`Chapter 10 <10_model_card>`
# :class: dropdown
#
# ```{glue} verdicts
# :doc: 10_model_card.ipynb
# ```
# :::

# %% [markdown]
# ## A check on the stored chapters
#
# The build pastes the tables above; this cell checks, whenever the chapter is executed (by `make
# test` under `pytest --nbval`, or by the book build), that every measuring chapter of the table of
# contents stores a glued `verdicts` table and that every verdict is one of the rule's words, and
# counts them, the paper's claims apart from ours; the numbers live in the chapters.

# %% tags=["hide-input", "nbval-check-output"]
toc = yaml.safe_load((BOOK.parent / "_toc.yml").read_text())
measured = [c["file"].split("/")[-1] for part in toc["parts"] for c in part["chapters"]
            if c["file"].split("/")[-1][:2] in {"01", "02", "03", "04", "05", "06", "07", "08", "11"}]
rows = gs.report.collect(BOOK)
missing = set(measured) - {r["chapter"] for r in rows}
assert not missing, f"chapters without verdicts: {missing}"
assert {r["verdict"] for r in rows} <= set(gs.report.VERDICTS)
tally = gs.report.tally(rows)
print(f"{len(rows)} verdicts stored in {len({r['chapter'] for r in rows})} chapters")
for part, label in (("paper", "the paper's claims"), ("beyond_paper", "beyond the paper")):
    print(f"{label}:")
    for v, n in tally[part].items():
        print(f"  {v}: {n}")

# %% [markdown]
# ## Summary
#
# In this chapter we
#
# - pasted every chapter's verdicts from the outputs the build executed, so the tables are the
#   measurements and cannot drift from them;
# - saw which of the paper's claims hold on a network we trained, on the exact KDE denoiser over
#   real Fashion-MNIST images, and on analytic Gaussian-mixture data, with the tests beyond the
#   paper marked as such.
#
# The {doc}`conclusion` states the outcome in a paragraph; the {doc}`10_model_card` describes the
# trained network and the feature classifier behind the FD (Fashion-MNIST classifier features).
