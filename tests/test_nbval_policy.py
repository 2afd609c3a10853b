"""conftest.py: glued figures are left out of nbval's comparison as plain figures are; text is not."""
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"
GLUED = "application/papermill.record/image/png"


def _notebook(path, code, stored_data):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(code)
    cell.execution_count = 1
    cell.outputs = [nbformat.v4.new_output("display_data", data=stored_data)]
    nb.cells = [cell]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.mark.parametrize("mime, hook, expect_pass", [(GLUED, True, True), (GLUED, False, False),
                                                     ("text/plain", True, False)])
def test_glued_figures_are_skipped_but_text_is_compared(tmp_path, mime, hook, expect_pass):
    if hook:  # without it (the control), nbval compares the glued figure byte for byte
        shutil.copy(CONFTEST, tmp_path / "conftest.py")
    code = f"from IPython.display import display\ndisplay({{{mime!r}: 'computed now'}}, raw=True)"
    _notebook(tmp_path / "nb.ipynb", code, {mime: "stored earlier"})
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
                        "--nbval-current-env", "nb.ipynb"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300)
    assert (r.returncode == 0) == expect_pass, r.stdout[-2000:]
    if not expect_pass:
        assert "Cell outputs differ" in r.stdout  # failed on the comparison, not on anything else
