"""Committed benchmark runs: one reader for the chapters.

A run is a folder `results/<name>/` written by `gitscore bench --out` (see `gitscore.bench`):
`results.json` holds `config` (the BenchConfig), `command`, `git_commit`, `wall_time_s`,
`reference` (solver, steps, distance_to_2x_finer, converged_ratio, ...), `gits` (the searched
schedules and timings) and `rows`, one per solver x schedule x NFE with `ref_error`,
`ref_error_se`, `ref_errors` (per evaluation latent, the same latents in every row), `fd` (None when
not scored), `fd_boot` (bootstrap replicates of the FD, the same resampling draws in every row),
`seconds` and `sigmas`; `reference.safetensors` holds
the reference solutions (key `x`). Runs of the scripts (e.g. `scripts/gits_seeds.py`) are JSON files
read by `load_json`. The folder is `$GITSCORE_RESULTS` if set, else `results/` of the checkout.

The chapters' comparisons come from here as `gitscore.stats.Interval`s: `change` (two rows of one bench
run, paired by latent; one warm-up seed) and `seeds_change` (a searched schedule over its warm-up seeds
against a baseline, two-level bootstrap: seeds, then latents).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from . import stats

__all__ = ["results_dir", "load_run", "load_json", "cells", "fmt_sigmas", "grid_index", "paired_change", "change",
           "seeds_change", "seed_values", "best_other_change", "change_from_se"]


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


def load_json(name: str, folder=None) -> dict:
    """A results file `name` (e.g. "fmnist_gits_seeds.json") in `folder` (default: results_dir())."""
    path = Path(folder or results_dir()) / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: regenerate it with the command results/README.md gives for it "
                                "(or point GITSCORE_RESULTS at a folder holding it)")
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
    from .metrics import fd_ratio_change
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
        iv = stats.paired_change(rb["ref_errors"], ra["ref_errors"], n_boot=n_boot, level=level, seed=seed)
        return iv.estimate, iv.low, iv.high
    raise ValueError(f"value must be 'fd' or 'ref_error', got {value!r}")


def change(run: dict, a: tuple, b: tuple, value: str = "fd", level: float = stats.LEVEL) -> stats.Interval:
    """paired_change as a stats.Interval: value(a) / value(b) - 1 over the run's evaluation latents (one warm-up
    seed: the interval does not cover the search's own randomness, and says so through n_seeds = 1)."""
    est, lo, hi = paired_change(run, a, b, value, level)
    row = next(r for r in run["rows"] if (r["solver"], r["schedule"], r["nfe"]) == a)
    if value == "fd":
        return stats.Interval(est, lo, hi, level, 1, run["config"]["n_fd"], len(row["fd_boot"]), "basic")
    return stats.Interval(est, lo, hi, level, 1, len(row["ref_errors"]), stats.N_BOOT, "percentile")


def seed_values(seeds: dict, key: str, cell: str) -> torch.Tensor:
    """(n_seeds, n_latents) per-latent values of schedule `key` ("gits", "gits16", "null16", "random_dp", ...) at
    `cell` ("euler 5") of a scripts/gits_seeds.py file, seeds in increasing order; (n_latents,) for "polynomial"."""
    if key == "polynomial":
        return torch.tensor(seeds["polynomial"][cell]["errors"], dtype=torch.float64)
    if key not in seeds or not seeds[key]:
        raise KeyError(f"no schedules {key!r} in this file; it has {sorted(k for k in seeds if k != 'settings')}")
    rows = [seeds[key][s][cell]["errors"] for s in sorted(seeds[key], key=int)]
    return torch.tensor(rows, dtype=torch.float64)


def seeds_change(seeds: dict, key: str, cell: str, baseline: str = "polynomial",
                 level: float = stats.LEVEL) -> stats.Interval:
    """Mean error of schedule `key` over its warm-up seeds / that of `baseline` - 1, two-level bootstrap
    (stats.two_level_change: seeds, then latents; the baseline paired by latent, and by seed if searched too)."""
    return stats.two_level_change(seed_values(seeds, baseline, cell), seed_values(seeds, key, cell), level=level)


def best_other_change(run: dict, others: dict, a: tuple, rows: list, level: float = stats.LEVEL) -> stats.Interval:
    """FD(a) / min over `rows` of FD(row) - 1, row a of `run` against the rows of `others`, with the basic
    bootstrap interval of the paired replicates (the same latents and the same resampling draws in both runs:
    checked), the minimum taken within each replicate, so the choice of the best other is resampled too."""
    for key in ("eval_seed", "n_fd"):
        if run["config"][key] != others["config"][key]:
            raise ValueError(f"the runs differ in {key} ({run['config'][key]} vs {others['config'][key]}): "
                             "their FD replicates are not paired")
    find = lambda r, k: next((x for x in r["rows"] if (x["solver"], x["schedule"], x["nfe"]) == k), None)
    ra, rb = find(run, a), [find(others, k) for k in rows]
    missing = [k for k, r in zip([a] + list(rows), [ra] + rb) if r is None or not r.get("fd_boot")]
    if missing:
        raise KeyError(f"rows {missing} missing or without fd_boot")
    reps_b = torch.tensor([r["fd_boot"] for r in rb], dtype=torch.float64).min(0).values
    reps = torch.tensor(ra["fd_boot"], dtype=torch.float64) / reps_b - 1
    est = ra["fd"] / min(r["fd"] for r in rb) - 1
    return stats.from_replicates(reps.numpy(), est, level=level, method="basic", n_samples=run["config"]["n_fd"])


def change_from_se(run: dict, a: tuple, b: tuple, level: float = stats.LEVEL) -> stats.Interval:
    """ref_error(a) / ref_error(b) - 1 for a run that stored only each row's mean and standard error (runs
    before per-latent errors): a normal interval from the delta method, the two rows treated as independent,
    which ignores the (positive) pairing of their latents and so is wider than the paired interval."""
    from statistics import NormalDist
    rows = {(r["solver"], r["schedule"], r["nfe"]): r for r in run["rows"]}
    ea, sa, eb, sb = rows[a]["ref_error"], rows[a]["ref_error_se"], rows[b]["ref_error"], rows[b]["ref_error_se"]
    ratio = ea / eb
    half = NormalDist().inv_cdf((1 + level) / 2) * ratio * ((sa / ea) ** 2 + (sb / eb) ** 2) ** 0.5
    return stats.Interval(ratio - 1, ratio - 1 - half, ratio - 1 + half, level, 1, run["config"]["n_ref"], 0,
                          "normal (delta method, unpaired)")
