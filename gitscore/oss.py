"""Optimal Stepsize Distillation (Pei et al. 2025): per-sample student-state DP and its batch aggregate.

For each warm-up sample alone, the student-state DP of gitscore.optimal.student_dp (the target solver's own
state and multistep history carried along each best path, every jump scored against that sample's teacher
state) gives a path over the teacher grid; the schedule for the model ("OSS-ave") takes, step by step, the
median of the samples' grid indices, rounded down as the official code's `cal_medium` does (the mean of the
two middle values for an even count). Should two medians coincide, the later index is moved one grid point
on so the schedule stays strictly decreasing. The batch variant (one DP on the batch-mean error) is
optimal.student_dp itself. The per-sample paths also give the per-sample oracle of the harness: each sample
run on its own schedule.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from .checks import check_int
from .denoisers import CallCounter
from .optimal import student_dp
from .schedules import check_sigmas

__all__ = ["OSSResult", "oss", "median_path"]


@dataclass
class OSSResult:
    """Per-sample OSS paths and their aggregate."""
    sigmas: torch.Tensor        # (n+1,) the aggregate schedule (grid[indices])
    indices: list               # its grid indices
    paths: list                 # per sample: its DP path (grid indices)
    errors: list                # per sample: its DP's final RMSE against its own teacher end state
    calls: int
    samples: int
    seconds: float


def median_path(paths, M: int) -> list[int]:
    """Step-wise median of grid-index paths (first 0, last M-1), as OSS's cal_medium: the lower middle value
    for an odd count, the floor of the mean of the two middle ones for an even count; then made strictly
    increasing (a repeat moved one point on; the last point stays M-1)."""
    if not paths:
        raise ValueError("paths must be a non-empty list of index paths")
    K = len(paths[0])
    if any(len(p) != K for p in paths):
        raise ValueError("paths must all have the same length")
    n = len(paths)
    out = []
    for k in range(K):
        col = sorted(p[k] for p in paths)
        out.append(col[n // 2] if n % 2 else (col[n // 2] + col[n // 2 - 1]) // 2)
    out[0], out[-1] = 0, M - 1
    for k in range(1, K - 1):
        out[k] = min(max(out[k], out[k - 1] + 1), M - 1 - (K - 1 - k))
    return out


@torch.no_grad()
def oss(denoiser, xs: torch.Tensor, grid, n_steps: int, *, solver: str = "euler", options: dict | None = None,
        batch_size: int = 256) -> OSSResult:
    """OSS on teacher states xs (M, n, ...) on `grid` (a warm-up's xs): one student-state DP per sample, then
    median_path. Costs about n_steps * M denoiser evaluations per sample."""
    grid = check_sigmas(grid).to(torch.float64)
    check_int("n_steps", n_steps, 1, len(grid) - 1)
    counter, t0 = CallCounter(denoiser), time.perf_counter()
    paths, errors = [], []
    for j in range(xs.shape[1]):
        p, e = student_dp(counter, xs[:, j:j + 1], grid, n_steps, solver=solver, options=options,
                          batch_size=batch_size)
        paths.append(p)
        errors.append(e)
    idx = median_path(paths, len(grid))
    return OSSResult(grid[idx].clone(), idx, paths, errors, counter.calls, counter.samples, time.perf_counter() - t0)
