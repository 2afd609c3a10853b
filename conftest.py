"""pytest --nbval book/: compare glued figures as nbval compares every other figure.

nbval leaves PNG outputs out of its comparison (`image/png`, `image/jpeg` are in its skip list unless
--nbdime is given): the pixels of a figure drawn from float32 network outputs change with the CPU's
vector kernels while every printed number, rounded, does not. myst-nb's `glue` stores a figure under its
own MIME type, `application/papermill.record/image/png`, which nbval does not know, so a glued figure
would be compared byte for byte. This hook adds the glued image types to the same skip list; text,
HTML tables and every printed number are still compared. (At the repository root, not in book/, where every
.py file is a chapter paired with a notebook.)
"""
from __future__ import annotations

GLUED_IMAGES = ("application/papermill.record/image/png", "application/papermill.record/image/jpeg")


def pytest_collectstart(collector):
    if type(collector).__name__ == "IPyNbFile" and hasattr(collector, "skip_compare"):
        collector.skip_compare = tuple(collector.skip_compare) + GLUED_IMAGES
