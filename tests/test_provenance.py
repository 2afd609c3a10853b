"""scripts/provenance.py: the provenance page's chapter times come from the notebooks' cell timings, and its
sha256 columns from the manifest and the files."""
import hashlib
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("provenance", ROOT / "scripts" / "provenance.py")
provenance = importlib.util.module_from_spec(spec)
spec.loader.exec_module(provenance)


def _cell(start, end):
    return {"cell_type": "code", "source": "", "outputs": [], "execution_count": 1,
            "metadata": {"execution": {"iopub.execute_input": start, "shell.execute_reply": end}}}


def test_chapter_time_is_first_start_to_last_reply(tmp_path):
    nb = {"metadata": {"language_info": {"version": "3.11.7"}},
          "cells": [{"cell_type": "markdown", "source": ["# A chapter\n", "text"], "metadata": {}},
                    _cell("2026-01-01T10:00:05.000000Z", "2026-01-01T10:00:07.500000Z"),
                    {"cell_type": "code", "source": "", "outputs": [], "metadata": {}, "execution_count": 2},
                    _cell("2026-01-01T10:01:00.000000Z", "2026-01-01T10:02:10.250000Z")]}
    path = tmp_path / "01_x.ipynb"
    path.write_text(json.dumps(nb))
    got = provenance.chapter_execution(path)
    assert got["seconds"] == 125.25 and got["cells"] == 2 and got["title"] == "A chapter"
    assert got["executed"] == "2026-01-01 10:00 UTC" and got["python"] == "3.11.7"


def test_chapter_without_timings_says_not_recorded(tmp_path):
    path = tmp_path / "02_y.ipynb"
    path.write_text(json.dumps({"metadata": {}, "cells": []}))
    got = provenance.chapter_execution(path)
    assert got["seconds"] is None and provenance._minutes(got["seconds"]) == "not recorded"


def test_weights_rows_are_the_manifest_checked_against_the_files():
    manifest = json.loads((ROOT / "gitscore" / "weights" / "MANIFEST.json").read_text())
    rows = provenance.weights_rows()
    assert [(n, d) for n, d, _ in rows] == sorted(manifest.items())
    name, digest, ok = next(r for r in rows if r[0].endswith(".json"))  # a small file: hash it here by hand
    assert ok == "yes" and hashlib.sha256((ROOT / "gitscore" / "weights" / name).read_bytes()).hexdigest() == digest


def test_page_written_with_every_section(tmp_path):
    out = tmp_path / "provenance.md"
    assert provenance.main(["--out", str(out)]) == 0
    text = out.read_text()
    for heading in ("# Provenance", "## The build", "## Each chapter's execution", "## Weights", "## Data"):
        assert heading in text
    assert "| torch |" in text and "| git commit |" in text
    assert all(f"{{doc}}`{p.stem}`" in text for p in (ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
