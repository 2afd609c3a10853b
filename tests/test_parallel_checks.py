"""`make test` checks chapters in parallel (pytest-xdist --dist loadfile): conftest.py orders them longest first."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _root_conftest():
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_notebook_seconds_sums_cell_timings(tmp_path):
    cell = lambda a, b: {"cell_type": "code", "metadata": {"execution": {
        "iopub.execute_input": f"2026-01-01T00:00:{a:02d}.000000Z",
        "shell.execute_reply": f"2026-01-01T00:00:{b:02d}Z"}}}
    nb = tmp_path / "nb.ipynb"
    nb.write_text(json.dumps({"cells": [cell(0, 3), cell(10, 11), {"cell_type": "markdown", "metadata": {}}]}))
    assert _root_conftest().notebook_seconds(nb) == 4.0
    assert _root_conftest().notebook_seconds(tmp_path / "missing.ipynb") == 0.0


def test_every_chapter_stores_its_timings():
    """The order needs the timings nbclient stores when a chapter is executed (jupytext --execute, make book)."""
    seconds = {p.name: _root_conftest().notebook_seconds(p) for p in sorted((ROOT / "book").glob("*.ipynb"))}
    assert seconds and all(s > 0 for s in seconds.values()), seconds


def test_makefile_checks_whole_chapters_per_worker():
    text = (ROOT / "Makefile").read_text()
    assert "--dist loadfile" in text and "--no-loadscope-reorder" in text
    nbval = [line for line in text.splitlines() if line.startswith("NBVAL =")]
    assert nbval and "--nbval" in nbval[0] and "lax" not in nbval[0], "every stored output is compared"
