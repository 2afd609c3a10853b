"""Committed benchmark runs: one reader for the chapters.

A run is a folder `results/<name>/` written by `gitscore bench --out` (see `gitscore.bench`):
`results.json` holds `config` (the BenchConfig), `command`, `git_commit`, `wall_time_s`,
`reference` (solver, steps, distance_to_2x_finer, converged_ratio, ...), `gits` (the searched
schedules and timings) and `rows`, one per solver x schedule x NFE with `ref_error`,
`ref_error_se`, `fd` (None when not scored), `seconds` and `sigmas`; `reference.safetensors` holds
the reference solutions (key `x`). The folder is `$GITSCORE_RESULTS` if set, else `results/` of
the checkout.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

__all__ = ["results_dir", "load_run", "cells", "fmt_sigmas", "grid_index"]


def results_dir() -> Path:
    """$GITSCORE_RESULTS, else the checkout's results/ folder."""
    env = os.environ.get("GITSCORE_RESULTS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "results"


def load_run(name: str, folder=None) -> dict:
    """The results.json of run `name` in `folder` (default: results_dir())."""
    path = Path(folder or results_dir()) / name / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `gitscore bench ... --out {path.parent}` first "
                                "(or point GITSCORE_RESULTS at a folder holding the runs)")
    return json.loads(path.read_text())


def cells(run: dict, value: str) -> dict:
    """{(solver, schedule, nfe): row[value]} of a run's rows."""
    return {(r["solver"], r["schedule"], r["nfe"]): r[value] for r in run["rows"]}


def fmt_sigmas(sigmas) -> str:
    """A schedule as text, three significant digits a sigma."""
    return " ".join(f"{float(v):.3g}" for v in sigmas)


def grid_index(sigmas, grid) -> list[int]:
    """Indices of a schedule's sigmas on a teacher grid (nearest in log sigma)."""
    s = torch.as_tensor(sigmas, dtype=torch.float64)
    g = torch.as_tensor(grid, dtype=torch.float64)
    return (s.log()[:, None] - g.log()[None, :]).abs().argmin(1).tolist()
