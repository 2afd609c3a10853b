"""Every regularity statistic of the paper's claims, per trajectory, and the scaling laws as log-log slopes.

The chapters 2-5 measure each claim on one kind of image; chapter 11 measures all of them on every data set
of `gitscore.data` and resolution. This module turns recorded trajectories (`gitscore.trajectory`) into the
per-trajectory values the claims registry (`gitscore.claims`) bootstraps:

- `trajectory_statistics(tr, sigma_max)`: deviation ratio (Fig. 2), 3-D reconstruction error over the path
  length (Fig. 3), the chord-normalised boomerang coordinates (Fig. 4), the settling sigmas of x_t and D(x_t)
  (Fig. 5), the path length over sigma_T sqrt(d) and the vector field's magnitude (Sec. 4.3);
- `spread(Y)`: the one-shape statistic; `settling_ratio(sxd)`: the denoising-settles-first statistic;
- `meanshift_identity(kde, ...)`: the largest gap between the KDE denoiser and a mean-shift step (Sec. 4.3);
- `likelihood_rises(kde, tr)`: per trajectory, the fraction of steps whose mean-shift target raises the KDE
  likelihood, and the same for a step of equal length in a random direction (the control);
- `loglog_slope(d, y)` and `exponent(d, values)`: the exponent b of y ~ d^b, with a bootstrap interval over
  latents shared by every d (`gitscore.stats`).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from . import stats
from . import trajectory as T
from .controls import mean_shift_step, random_direction_step

__all__ = ["SETTLE_EPS", "settling_sigma", "trajectory_statistics", "spread", "settling_ratio",
           "meanshift_identity", "likelihood_rises", "loglog_slope", "exponent"]

SETTLE_EPS = 0.1  # "settled": distance to x_0 stays below SETTLE_EPS * ||D(x_T) - x_0|| (claim denoising_faster)


def settling_sigma(curve: torch.Tensor, grid: torch.Tensor, eps: float) -> torch.Tensor:
    """Per trajectory (B,): the largest grid sigma from which curve (B, len(grid)) stays <= eps; 0 if none."""
    if curve.ndim != 2 or curve.shape[1] != len(grid):
        raise ValueError(f"curve must have shape (B, {len(grid)}) to match grid, got {tuple(curve.shape)}")
    above = curve > eps
    last_above = torch.where(above.any(1), above.shape[1] - 1 - above.flip(1).int().argmax(1), -1)
    never = last_above == above.shape[1] - 1
    return torch.where(never, 0.0, grid.double()[(last_above + 1).clamp(max=len(grid) - 1)])


def trajectory_statistics(tr: T.Trajectory, sigma_max: float | None = None, eps: float = SETTLE_EPS) -> dict:
    """The per-trajectory values of every regularity claim for trajectories `tr` (with denoised outputs).

    Returns numpy float64 arrays: deviation_ratio (B,) max deviation / max sample distance; recon3 (B,) mean
    L2 error of the 3-D reconstruction / path length; proj (B, T, 3) the chord-normalised boomerang coordinates;
    settle (B, 2) the settling sigma of x_t and of D(x_t) at level eps; length_ratio (B,) path length /
    (sigma_max sqrt(d)); field (B, N) the exact field magnitude ||x - D|| / sigma at the N denoiser calls;
    length (B,) the path length.
    """
    if getattr(tr, "denoised", None) is None:
        raise ValueError("tr must hold the denoised outputs (record with gitscore.trajectory.record)")
    d = tr.xs.shape[-1]
    sigmas = tr.sigmas.double()
    sigma_max = float(sigmas[0]) if sigma_max is None else float(sigma_max)
    length = T.path_length(tr)[:, -1]
    x_0 = tr.xs[:, -1]
    s = T.convergence_curve(tr.denoised, target=x_0, normalize=False)[:, 0]  # ||D(x_T) - x_0||, the common scale
    settle_x = settling_sigma(T.convergence_curve(tr.xs, target=x_0, normalize=s), sigmas, eps)
    settle_d = settling_sigma(T.convergence_curve(tr.denoised, target=x_0, normalize=s), sigmas[:-1], eps)
    out = {
        "deviation_ratio": T.deviation(tr).amax(1) / T.sample_distance(tr).amax(1),
        "recon3": T.reconstruction_error(tr, (3,))[:, 0] / length,
        "proj": T.project_3d(tr, normalize=True),
        "settle": torch.stack([settle_x, settle_d], 1),
        "length_ratio": length / (sigma_max * math.sqrt(d)),
        "field": T.field_magnitude_exact(tr.xs, tr.denoised, sigmas),
        "length": length,
    }
    return {k: v.double().cpu().numpy() for k, v in out.items()}


def spread(Y) -> float:
    """RMS distance of chord-normalised 3-D curves Y (trajectories, points, 3) to their mean curve (Fig. 4)."""
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim != 3 or Y.shape[-1] != 3:
        raise ValueError(f"Y must have shape (trajectories, points, 3), got {Y.shape}")
    return float(np.sqrt(((Y - Y.mean(0)) ** 2).sum(-1).mean()))


def settling_ratio(sxd) -> float:
    """Median settling sigma of D(x_t) over that of x_t; sxd (trajectories, 2) holds (x_t's, D(x_t)'s)."""
    sxd = np.asarray(sxd, dtype=np.float64)
    if sxd.ndim != 2 or sxd.shape[1] != 2:
        raise ValueError(f"sxd must have shape (trajectories, 2), got {sxd.shape}")
    med = np.median(sxd[:, 0])
    return float(np.median(sxd[:, 1]) / med) if med > 0 else math.inf


def meanshift_identity(kde, check_sigmas=(0.3, 3.0, 30.0), n_points: int = 4, seed: int = 0,
                       bandwidth: float = 1.0) -> float:
    """max over queries of norm(m_h(x) - D*(x; sigma)) / norm(D* - x), m_h the mean-shift step at h = bandwidth *
    sigma (gitscore.controls.mean_shift_step): n_points data points noised at each sigma of check_sigmas."""
    from .sampling import latents

    shape = kde.shape
    s = torch.tensor(check_sigmas, dtype=torch.float64).repeat_interleave(n_points)
    y = kde.points((torch.arange(n_points) * 997) % kde.N).repeat(len(check_sigmas), *[1] * len(shape))
    x = (y + s.reshape(-1, *[1] * len(shape)) * latents(shape, seed, 0, len(s))).to(kde.dtype)
    with torch.no_grad():
        D = kde(x, s).double()
    step = (D - x.double()).flatten(1).norm(dim=1)
    return ((mean_shift_step(kde, x, s, bandwidth) - D).flatten(1).norm(dim=1) / step).max().item()


@torch.no_grad()
def likelihood_rises(kde, tr: T.Trajectory, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per trajectory (B,): the fraction of steps n with log p_n(D(x_n)) > log p_n(x_n) (p_n the KDE at the
    step's bandwidth sigma_n), and the same for x_n + ||D(x_n) - x_n|| u, u uniform on the sphere (the control:
    gitscore.controls.random_direction_step)."""
    B, N = tr.xs.shape[0], tr.denoised.shape[1]
    s = tr.sigmas[:-1].double().repeat(B)
    x = tr.xs[:, :-1].reshape(B * N, *kde.shape).to(kde.dtype)
    D = tr.denoised.reshape(B * N, *kde.shape).to(kde.dtype)
    L_x = kde.log_density(x, s).double().reshape(B, N)
    L_D = kde.log_density(D, s).double().reshape(B, N)
    rand = random_direction_step(x, D, seed=seed).to(kde.dtype)
    L_r = kde.log_density(rand, s).double().reshape(B, N)
    return (L_D > L_x).double().mean(1).numpy(), (L_r > L_x).double().mean(1).numpy()


def loglog_slope(d, y) -> float:
    """Least-squares slope b of log y = a + b log d (the exponent of y ~ d^b)."""
    d, y = np.asarray(d, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if d.shape != y.shape or d.ndim != 1 or len(d) < 2:
        raise ValueError(f"d and y must be 1-D of the same length >= 2, got shapes {d.shape} and {y.shape}")
    if (d <= 0).any() or (y <= 0).any() or len(np.unique(d)) < 2:
        raise ValueError("d and y must be positive, with at least two distinct d")
    ld = np.log(d)
    return float(np.polyfit(ld, np.log(y), 1)[0])


def exponent(d, values, target: float | None = None, **bootstrap) -> stats.Interval:
    """The exponent b of mean(values) ~ d^b, with a bootstrap interval over the rows of values.

    d: (V,) dimensions; values: (n, V), column v the per-latent values at d[v], row j one latent (the same
    latent index at every d, so rows are resampled together). With target, the interval is of abs(b - target).
    `bootstrap`: keywords of gitscore.stats.bootstrap (n_boot, seed, level).
    """
    d = np.asarray(d, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != len(d):
        raise ValueError(f"values must have shape (n, {len(d)}) to match d, got {v.shape}")
    slope = lambda rows: loglog_slope(d, rows.mean(0))
    stat = slope if target is None else (lambda rows: abs(slope(rows) - target))
    return stats.bootstrap(v, stat, **bootstrap)
