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


# ---------------------------------------------------------------- parallel checks (pytest-xdist, `make test`)
# The cells of one chapter share one kernel, so a whole chapter must go to one worker: `--dist loadfile` hands out
# whole files (a notebook, or a unit-test module). With `--no-loadscope-reorder` they go in collection order, which
# this hook makes: chapters first, longest first (their cells' execution times as the notebook stored them), then the
# unit-test modules, which fill the other worker meanwhile so that both end together. (Not `--dist loadgroup`: with
# pytest 9 its xdist_group marks no longer reach the scheduler and a chapter's cells were split between workers.)
# Each chapter pins its own torch thread count, so a worker's outputs do not depend on the other worker's load.

def notebook_seconds(path) -> float:
    """Seconds the notebook's cells took when it was last executed (0 when it stores no timings)."""
    import json
    from datetime import datetime

    total = 0.0
    try:
        with open(path, encoding="utf-8") as f:
            cells = json.load(f)["cells"]
    except (OSError, ValueError, KeyError):
        return 0.0
    for cell in cells:
        t = cell.get("metadata", {}).get("execution", {})
        try:
            start, end = (datetime.fromisoformat(t[k].replace("Z", "+00:00"))
                          for k in ("iopub.execute_input", "shell.execute_reply"))
        except (KeyError, ValueError):
            continue
        total += (end - start).total_seconds()
    return total


# Test modules long enough to be scheduled among the chapters (seconds on 2 busy cores).
SLOW_MODULES = {"tests/test_results_smoke.py": 70.0}


def _notebook(item):
    parent = item.parent
    return parent if type(parent).__name__ == "IPyNbFile" else None


def _file(item) -> str:
    return item.nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config, items):
    seconds = {}
    for item in items:
        nb = _notebook(item)
        if nb is not None:
            seconds.setdefault(_file(item), notebook_seconds(nb.path))
        elif _file(item) in SLOW_MODULES:
            seconds[_file(item)] = SLOW_MODULES[_file(item)]
    if seconds:
        rank = {name: i for i, name in enumerate(sorted(seconds, key=lambda k: -seconds[k]))}
        order = {id(item): i for i, item in enumerate(items)}
        items.sort(key=lambda it: (0, rank[_file(it)], order[id(it)]) if _file(it) in rank
                   else (1, 0, order[id(it)]))

