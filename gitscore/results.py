"""Committed benchmark runs: one reader for the chapters.

A run is a folder `results/<name>/` written by `gitscore bench --out` (see `gitscore.bench`):
`results.json` holds `config` (the BenchConfig), `command`, `git_commit`, `wall_time_s`,
`reference` (solver, steps, distance_to_2x_finer, converged_ratio, ...), `gits` (the searched
schedules and timings) and `rows`, one per solver x schedule x NFE with `ref_error`,
`ref_error_se`, `ref_errors` (per evaluation latent, the same latents in every row), `fd` (None when
not scored), `fd_boot` (bootstrap replicates of the FD, the same resampling draws in every row),
`seconds` and `sigmas`; `reference.safetensors` holds
the reference solutions (key `x`). The folder is `$GITSCORE_RESULTS` if set, else `results/` of
the checkout.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

__all__ = ["results_dir", "load_run", "cells", "fmt_sigmas", "grid_index", "paired_change"]


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


def paired_change(run: dict, a: tuple, b: tuple, value: str = "fd", level: float = 0.95, n_boot: int = 10000,
                  seed: int = 0) -> tuple[float, float, float]:
    """Relative change of row a against row b, value(a) / value(b) - 1, with a paired bootstrap interval.

    a, b: (solver, schedule, nfe) of the same run. "fd": the rows' FD bootstrap replicates share their
    draws (basic interval of the ratio, which undoes the replicates' upward shift); "ref_error": the
    per-latent errors are resampled jointly (percentile interval of the ratio of means).
    """
    from .metrics import fd_ratio_change, interval
    rows = {(r["solver"], r["schedule"], r["nfe"]): r for r in run["rows"]}
    for key in (a, b):
        if key not in rows:
            raise KeyError(f"row {key} not in this run; it has {sorted(rows)[:6]}...")
    ra, rb = rows[a], rows[b]
    if value == "fd":
        if not ra.get("fd_boot") or not rb.get("fd_boot"):
            raise ValueError(f"rows {a} and {b} need fd_boot (rerun the bench with --n-fd > 0)")
        return fd_ratio_change(ra["fd"], rb["fd"], ra["fd_boot"], rb["fd_boot"], level=level)
    if value == "ref_error":
        if "ref_errors" not in ra or "ref_errors" not in rb:
            raise ValueError(f"rows {a} and {b} need ref_errors (written by gitscore bench since 0.3)")
        ea = torch.tensor(ra["ref_errors"], dtype=torch.float64)
        eb = torch.tensor(rb["ref_errors"], dtype=torch.float64)
        idx = torch.randint(len(ea), (n_boot, len(ea)), generator=torch.Generator().manual_seed(seed))
        reps = ea[idx].mean(1) / eb[idx].mean(1) - 1
        lo, hi = interval(reps, level=level)
        return (ea.mean() / eb.mean() - 1).item(), lo, hi
    raise ValueError(f"value must be 'fd' or 'ref_error', got {value!r}")
