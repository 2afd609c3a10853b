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
from .schedules import SIGMA_MAX, SIGMA_MIN

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

    sigma_min, sigma_max = SIGMA_MIN, SIGMA_MAX  # it ignores sigma: the range of the models it stands in for

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
        # Its range: from the low part's sigma_min to the high part's sigma_max, where they say them.
        if hasattr(low, "sigma_min") and hasattr(high, "sigma_max"):
            self.sigma_min, self.sigma_max = low.sigma_min, high.sigma_max

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
    Returns norm(T_k - (r x + (1 - r) D~)) / norm(T_k - x) per sample: round-off. plain=True (the control) uses
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


# ==================================================================================================
# Controls of chapters 4, 5 and 10 (claims kde_exact, meanshift_identity, meanshift_likelihood):
# the textbook KDE denoiser at a chosen bandwidth, the mean-shift step from the KDE's gradient at a
# chosen bandwidth, and a step of the same length in a random direction. With bandwidth=1 the first two
# are the references of the exactness checks; at bandwidth 1.01 (a 1 % wrong bandwidth) they are the
# controls those checks must fail. The random-direction step is the control of "each mean-shift step
# raises the likelihood": a step as long as the mean-shift step, in no particular direction.
# ==================================================================================================

__all__ += ["softmax_denoiser", "mean_shift_step", "random_direction_step"]


def _bandwidth(bandwidth) -> float:
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, (int, float)) or not bandwidth > 0 \
            or bandwidth == float("inf"):
        raise ValueError(f"bandwidth must be a finite number > 0, got {bandwidth!r}")
    return float(bandwidth)


@torch.no_grad()
def softmax_denoiser(x: torch.Tensor, data: torch.Tensor, sigma, bandwidth: float = 1.0) -> torch.Tensor:
    """The KDE denoiser from its formula, in float64: softmax_i(-||x - y_i||^2 / 2h^2) @ Y, h = bandwidth * sigma.

    x: (B, ...) queries; data: (N, ...) the points y_i (flattened or not: the same size per sample); sigma:
    a scalar or one per row.
    All B x N squared distances at once (a reference for small B, not a sampler). bandwidth=1 gives the
    exact denoiser D*(x; sigma); bandwidth=1.01 is a denoiser with a 1 % wrong bandwidth (a control).
    Returns a float64 tensor of x's shape.
    """
    if x.ndim < 2 or data.ndim < 2 or x[0].numel() != data[0].numel():
        raise ValueError(f"x and data must hold samples of the same size (flattened), got shapes "
                         f"{tuple(x.shape)} and {tuple(data.shape)}")
    xf, Y = x.flatten(1).double(), data.flatten(1).double()
    h = _bandwidth(bandwidth) * as_sigma(sigma, xf).reshape(-1, 1).double()
    w = torch.softmax(-torch.cdist(xf, Y).square() / (2 * h ** 2), dim=1)
    return (w @ Y).reshape(x.shape)


def mean_shift_step(kde, x: torch.Tensor, sigma, bandwidth: float = 1.0) -> torch.Tensor:
    """The mean-shift update m_h(x) = x + h^2 grad_x log p_h(x), h = bandwidth * sigma, in float64.

    kde: a denoiser with a differentiable `log_density(x, sigma)` (gitscore.denoisers.KDEDenoiser); x is fed
    in its own dtype, the gradient by autograd. bandwidth=1 gives the step that the KDE denoiser D*(x; sigma)
    equals (Comaniciu & Meer 2002); bandwidth=1.01 is the step of a 1 % wrong bandwidth (a control).
    """
    if not callable(getattr(kde, "log_density", None)):
        raise TypeError("kde must have a log_density(x, sigma) method")
    h = _bandwidth(bandwidth) * as_sigma(sigma, x.double()).double()
    xq = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        grad, = torch.autograd.grad(kde.log_density(xq, h.reshape(-1)).sum(), xq)
    return x.detach().double() + h ** 2 * grad.double()


def random_direction_step(x: torch.Tensor, target: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """x + ||target - x|| u per row, u uniform on the unit sphere of the sample space (seeded), float64.

    The step has the length of the step to `target` (e.g. a mean-shift step D(x) - x) and no direction of
    its own: a statistic that a step towards the data passes and this step passes too cannot see the
    direction. u is a standard normal vector normalised to unit length, drawn by torch's CPU generator
    seeded with `seed`, row by row in order, so it repeats across calls.
    """
    if x.shape != target.shape or x.ndim < 2:
        raise ValueError(f"x and target must have the same shape (B, ...), got {tuple(x.shape)} and "
                         f"{tuple(target.shape)}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    xf, tf = x.flatten(1).double(), target.flatten(1).double()
    u = torch.randn(xf.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    u = u / u.norm(dim=1, keepdim=True)
    return (xf + (tf - xf).norm(dim=1, keepdim=True) * u.to(xf.device)).reshape(x.shape)
