"""Every chapter's .py (jupytext py:percent, the edited source) and its .ipynb hold the same cells, with outputs."""
import json
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.py"))
GENERATED = {"provenance": "scripts/provenance.py"}  # pages a build script writes before every build (not committed)


def test_toc_lists_every_chapter():
    toc = (BOOK.parent / "_toc.yml").read_text()
    for py in CHAPTERS:
        assert f"book/{py.stem}" in toc, f"{py.name} is not in _toc.yml"
    for line in toc.splitlines():
        if "file: book/" in line:
            stem = line.split("file: book/")[1].strip()
            if stem in GENERATED:
                assert (BOOK.parent / GENERATED[stem]).is_file(), f"{stem} is written by {GENERATED[stem]}, missing"
                continue
            assert (BOOK / f"{stem}.md").exists() or (BOOK / f"{stem}.ipynb").exists(), f"{stem} listed but missing"


@pytest.mark.parametrize("py", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_pair_in_sync(py):
    import jupytext
    nb_path = py.with_suffix(".ipynb")
    assert nb_path.exists(), f"{py.name} has no paired {nb_path.name}: run jupytext --sync and execute it"
    from_py = jupytext.read(py)
    stored = json.loads(nb_path.read_text())

    def cells(nb):
        return [(c["cell_type"], "".join(c["source"]).strip()) for c in nb["cells"]]

    py_cells = [(c.cell_type, c.source.strip()) for c in from_py.cells]
    assert py_cells == cells(stored), f"{py.name} and {nb_path.name} differ: run `jupytext --sync {py}` and re-execute"
    code = [c for c in stored["cells"] if c["cell_type"] == "code"]
    assert code and all(c.get("execution_count") for c in code), f"{nb_path.name} is not fully executed"
