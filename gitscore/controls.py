"""Null-model controls: denoisers without the structure the paper's claims rest on.

A regularity check (deviation from the chord, low-dimensional reconstruction, one boomerang shape)
means something only if a denoiser *without* that structure fails it. `NullDenoiser` is such a
denoiser: at every call it returns, for each sample, a training image chosen at random, independently
of x, so D carries no information about the current point and jumps between unrelated images from
one sigma to the next. It is seeded and deterministic: the image depends only on (seed, sigma, row).

`HybridDenoiser` separates a method from a network: it is one denoiser above a noise level (e.g. the
exact KDE denoiser) and another below it (e.g. the trained network).

`random_cost_schedule` is the control of the GITS claims: GITS's DP over a cost matrix of independent
random numbers, i.e. a schedule picked from the same teacher grid by the same DP but fitted to nothing.
"""
from __future__ import annotations

import math
import struct

import numpy as np
import torch

from .denoisers import as_sigma

__all__ = ["NullDenoiser", "HybridDenoiser", "random_cost_schedule"]


def random_cost_schedule(grid, n_steps: int, seed: int, coeff: float | None = None) -> torch.Tensor:
    """GITS's DP (gits.dp at `coeff`, default SearchConfig's) over a cost matrix whose entries i < j are
    independent Uniform(0, 1) draws of numpy.random.default_rng(seed): a schedule of n_steps from `grid`
    that uses no trajectory at all (the control of the GITS claims)."""
    from .gits import SearchConfig, dp
    from .schedules import check_sigmas

    grid = check_sigmas(grid).to(torch.float64)
    M = len(grid)
    cost = np.random.default_rng(seed).uniform(size=(M, M))
    cost[np.tril_indices(M)] = np.inf
    return grid[dp(cost, n_steps, SearchConfig.coeff if coeff is None else coeff)].clone()


class NullDenoiser:
    """D(x, sigma)[b] = data[k(seed, sigma_b, b)]: an unrelated training image per (sigma, row).

    data: (N, ...) tensor of images (the same shape as a sample); seed: int >= 0. The index k is drawn
    by NumPy's PCG64 seeded with (seed, the float64 bits of sigma, b), so it repeats exactly across
    calls, devices and batch sizes for the same row b.
    """

    def __init__(self, data: torch.Tensor, seed: int = 0):
        if not isinstance(data, torch.Tensor) or data.ndim < 2 or len(data) < 2:
            raise ValueError("data must be a tensor of at least 2 images, shape (N, ...)")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed!r}")
        self.data, self.seed = data, seed

    def index(self, sigma: float, row: int) -> int:
        """The training image returned for row `row` at noise level `sigma`."""
        bits = struct.unpack("<Q", struct.pack("<d", float(sigma)))[0]
        return int(np.random.default_rng([self.seed, bits, int(row)]).integers(len(self.data)))

    def __call__(self, x: torch.Tensor, sigma) -> torch.Tensor:
        if x.shape[1:] != self.data.shape[1:]:
            raise ValueError(f"x must have samples of shape {tuple(self.data.shape[1:])}, got {tuple(x.shape[1:])}")
        s = as_sigma(sigma, x).reshape(-1).double().cpu().tolist()
        idx = torch.tensor([self.index(sb, b) for b, sb in enumerate(s)])
        return self.data[idx].to(device=x.device, dtype=x.dtype)


class HybridDenoiser:
    """D(x, sigma) = high(x, sigma) where sigma >= sigma_c, low(x, sigma) below (per sample).

    Used to ask whether a schedule search fails because of the network's error at high noise: with
    high = the exact denoiser above sigma_c, the network only acts below it. The output has x's dtype.
    """

    def __init__(self, high, low, sigma_c: float):
        if not (callable(high) and callable(low)):
            raise TypeError("high and low must be denoisers, callables D(x, sigma)")
        if not isinstance(sigma_c, (int, float)) or isinstance(sigma_c, bool) or not sigma_c > 0:
            raise ValueError(f"sigma_c must be a number > 0, got {sigma_c!r}")
        self.high, self.low, self.sigma_c = high, low, float(sigma_c)

    def __call__(self, x: torch.Tensor, sigma) -> torch.Tensor:
        s = as_sigma(sigma, x).reshape(-1)
        hi = s >= self.sigma_c
        out = torch.empty_like(x)
        for mask, D in ((hi, self.high), (~hi, self.low)):
            if mask.any():
                out[mask] = D(x[mask], s[mask]).to(dtype=x.dtype, device=x.device)
        return out


# =====================================================================================================
# Chapters 1-3 (issue 23): the controls of the Prop. 4.1 checks, and the k-th order Taylor step they test.
#
# - `heun_convexity_residual`: the control of `prop41_euler_convex`. Heun steps measured against the Euler
#   convex combination r x_{n+1} + (1 - r) D(x_{n+1}): a second-order step is not that combination, and the
#   check must see it (Euler steps give round-off).
# - `taylor_derivatives`, `taylor_step`: the k-th order Taylor step of the exact ODE solution of a
#   `GaussianDenoiser` (its derivatives in sigma by forward-mode automatic differentiation, float64).
# - `taylor_convex_residual`: Prop. 4.1 for that step, against the convex combination with the generalised
#   denoising output D~ (the claim `prop41_taylor_convex`), or with the plain D(x) (its control).
# =====================================================================================================

__all__ += ["heun_convexity_residual", "taylor_derivatives", "taylor_step", "taylor_convex_residual"]


def heun_convexity_residual(denoiser, x: torch.Tensor, sigmas) -> torch.Tensor:
    """Relative Prop. 4.1 residual of Heun steps against the Euler convex combination, (B, N).

    Records a trajectory of `gitscore.solvers.sample_heun` (the recorded D of step n is its first evaluation,
    D(x_n; sigma_n)) and returns `gitscore.trajectory.convex_combination_residual(..., relative=True)`: the
    distance of each Heun step's end point from r x_n + (1 - r) D(x_n), r = sigma_{n+1} / sigma_n, divided by
    the step length. The same function of an Euler trajectory is round-off; of a Heun trajectory it is the
    second-order correction, O(1) on a coarse grid.
    """
    from . import solvers, trajectory  # lazy: keeps `import gitscore.controls` light
    tr = trajectory.record(solvers.sample_heun, denoiser, x, sigmas)
    return trajectory.convex_combination_residual(tr, sigmas=sigmas, relative=True)


def _check_gauss(gauss, k):
    if not callable(getattr(gauss, "exact_solution", None)):
        raise TypeError("gauss must have an exact ODE solution (a gitscore.denoisers.GaussianDenoiser)")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")


def taylor_derivatives(gauss, x: torch.Tensor, sigma: float, k: int) -> list[torch.Tensor]:
    """[d^i x / d sigma^i for i = 1..k] of the exact ODE solution through x at sigma, each of x's shape, float64.

    gauss: a `GaussianDenoiser` (its `exact_solution(x, sigma_from, sigma_to)` is the flow map); the
    derivatives are taken in sigma_to at sigma_to = sigma by nested `torch.func.jacfwd`.
    """
    from torch.func import jacfwd
    _check_gauss(gauss, k)
    x = x.double()
    f = lambda s: gauss.exact_solution(x, float(sigma), s)  # noqa: E731 - the function jacfwd differentiates
    s0 = torch.tensor(float(sigma), dtype=torch.float64)
    out = []
    for _ in range(k):
        f = jacfwd(f)
        out.append(f(s0))
    return out


def taylor_step(x: torch.Tensor, derivs, h: float, k: int) -> torch.Tensor:
    """The k-th order Taylor step x + sum_{i=1..k} h^i / i! x^(i), derivs = [x^(1), x^(2), ...] (at least k)."""
    if len(derivs) < k:
        raise ValueError(f"a step of order {k} needs {k} derivatives, got {len(derivs)}")
    return x.double() + sum(h ** i / math.factorial(i) * derivs[i - 1] for i in range(1, k + 1))


def taylor_convex_residual(gauss, x: torch.Tensor, sigma_from: float, sigma_to: float, k: int,
                           plain: bool = False) -> torch.Tensor:
    """Prop. 4.1 for a k-th order Taylor step from sigma_from to sigma_to: relative residual per sample, (B,).

    With h = sigma_to - sigma_from and r = sigma_to / sigma_from, the step T_k = `taylor_step` equals
    r x + (1 - r) D~ with the generalised denoising output D~ = D(x) - sigma_from sum_{i=2..k} h^{i-1} / i! x^(i).
    Returns ||T_k - (r x + (1 - r) D~)|| / ||T_k - x|| per sample: round-off. plain=True (the control) uses
    the plain D(x) in place of D~: the same for k = 1, the missing Taylor terms for k >= 2.
    """
    _check_gauss(gauss, k)
    x = x.double()
    derivs = taylor_derivatives(gauss, x, sigma_from, k)
    h, r = sigma_to - sigma_from, sigma_to / sigma_from
    D = gauss(x, sigma_from).double()
    if not plain:
        D = D - sigma_from * sum((h ** (i - 1) / math.factorial(i) * derivs[i - 1] for i in range(2, k + 1)),
                                 torch.zeros_like(x))
    step = taylor_step(x, derivs, h, k)
    return (step - (r * x + (1 - r) * D)).flatten(1).norm(dim=1) / (step - x).flatten(1).norm(dim=1)
