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
# Every chapter ends its sections with a one-line verdict printed by `gs.report.verdict`: the claim,
# the paper's figure or number, what we measured, and whether the claim holds on our models. This
# chapter collects those lines from the executed chapters (their stored outputs, exactly what the
# book shows) into one table, so the table cannot drift from the measurements. Each row links to the
# chapter that measured it; the number there is printed by the cell that computed it and checked by
# `pytest --nbval` whenever the book is re-executed.
#
# Verdicts: **holds** (measured, as the paper says), **holds partly** (the effect is there but smaller,
# or only on some of our models), **does not hold here** (measured, and not as the paper says).

# %%
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

import gitscore as gs

BOOK = Path.cwd() if Path.cwd().name == "book" else Path.cwd() / "book"

# %% [markdown]
# ## The table

# %%
# NBVAL_CHECK_OUTPUT
rows = gs.report.collect(BOOK)
table = pd.DataFrame(rows)
print(f"{len(table)} claims from {table['chapter'].nunique()} chapters")
print(table["verdict"].value_counts().to_string())

# %%
# NBVAL_IGNORE_OUTPUT
def _link(r):
    return f"[{r['chapter'].split('_', 1)[1].replace('_', ' ')}]({r['chapter']})"


md = ["| claim | paper | ours | verdict | chapter |", "|---|---|---|---|---|"]
md += [f"| {r['claim']} | {r['paper']} | {r['ours']} | **{r['verdict']}** | {_link(r)} |" for r in rows]
display(Markdown("\n".join(md)))

# %% [markdown]
# The same rows as text, which `pytest --nbval` compares with the stored output:

# %%
# NBVAL_CHECK_OUTPUT
for r in rows:
    print(f"{r['chapter']:>14s} | {r['verdict']:<18s} | {r['claim']} | {r['ours']}")

# %%
chapters_with_claims = set(table["chapter"])
expected = {p.stem for p in BOOK.glob("0[1-6]_*.ipynb")}
assert expected <= chapters_with_claims, f"chapters without a verdict: {expected - chapters_with_claims}"
assert set(table["verdict"]) <= set(gs.report.VERDICTS)

# %% [markdown]
# ## Summary
#
# In this chapter we
#
# - collected every claim's verdict from the executed chapters, so the table is the measurement;
# - saw which of the paper's claims hold on a network we trained, on the exact KDE denoiser over real
#   Fashion-MNIST images, and on analytic Gaussian-mixture data.
#
# The [model card](10_model_card) describes the trained network and the feature classifier behind
# the FD (Fashion-MNIST classifier features).
