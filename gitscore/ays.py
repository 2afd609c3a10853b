"""Align Your Steps (Sabour, Fidler & Kreis 2024): its closed form for Gaussian data and its KLUB search.

- `kl_optimal(n, sigma_min, sigma_max, sigma_data)`: the schedule AYS derives for data N(0, c^2 I) (c =
  sigma_data) and Euler steps, uniform in theta = arctan(sigma / c): sigma_i = c tan((1 - i/n) atan(sigma_max / c)
  + (i/n) atan(sigma_min / c)). A1111 / ComfyUI ship it with c = 1 as "KL optimal". Why it is optimal: the exact
  solution is x(sigma) ∝ sqrt(c^2 + sigma^2) = c / cos(theta), and one Euler step from the exact state lands at
  cos(theta - theta') times the exact next state, so n steps end at prod_i cos(dtheta_i) times the exact
  sample. With sum_i dtheta_i fixed, equal increments minimise both that end-to-end error and the summed local
  errors 1 - cos(dtheta_i) (`euler_local_error`), exactly, for every n (tests check both against brute force).
- `klub(denoiser, x0, sigmas)`: AYS's objective, the KL upper bound between the reverse SDE
  dx = -2 sigma grad log p dsigma + sqrt(2 sigma) dw and the same SDE with the denoiser frozen at each
  interval's start: sum_i int_{sigma_{i+1}}^{sigma_i} E norm(D(x_t, t) - D(x_{sigma_i}, sigma_i))^2 / t^3 dt (per
  dimension), x_t = x0 + t eps and x_{sigma_i} = x_t + sqrt(sigma_i^2 - t^2) eps' (the forward process, so
  the pair is distributed as on the true path). Monte Carlo over data x0 with t drawn log-uniformly in each
  interval (stratified), common random numbers, so the estimate is a smooth function of the schedule.
- `klub_gaussian(sigmas, c)`: the same bound in closed form for data N(0, c^2 I) (Gauss-Legendre in ln t).
- `search(denoiser, data, n_steps, ...)`: AYS's optimisation of the KLUB: coordinate-wise, each interior
  sigma_i moved to the best of `candidates` points between its neighbours (on the two intervals it bounds),
  `sweeps` rounds of shrinking windows, from a start schedule (EDM's polynomial, as AYS initialises).
  Seeded: same seed, same schedule.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from .checks import check_int, check_positive
from .denoisers import CallCounter
from .schedules import SIGMA_MAX, SIGMA_MIN, check_sigmas, polynomial

__all__ = ["kl_optimal", "euler_local_error", "klub_gaussian", "klub_terms", "klub", "AYSResult", "search"]

_GL_X, _GL_W = np.polynomial.legendre.leggauss(64)


def kl_optimal(n: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX,
               sigma_data: float = 1.0) -> torch.Tensor:
    """AYS's closed form for Gaussian data N(0, sigma_data^2 I): n steps uniform in atan(sigma / sigma_data)."""
    check_int("n (number of steps)", n, 1)
    c = check_positive("sigma_data", sigma_data)
    if not (math.isfinite(sigma_min) and math.isfinite(sigma_max) and 0 < sigma_min < sigma_max):
        raise ValueError(f"need finite 0 < sigma_min < sigma_max, got sigma_min={sigma_min!r}, sigma_max={sigma_max!r}")
    ramp = torch.linspace(0, 1, n + 1, dtype=torch.float64)
    theta = (1 - ramp) * math.atan(sigma_max / c) + ramp * math.atan(sigma_min / c)
    sigmas = c * torch.tan(theta)
    sigmas[0], sigmas[-1] = sigma_max, sigma_min
    try:
        return check_sigmas(sigmas)
    except ValueError:
        raise ValueError(f"n={n!r} steps over [{sigma_min!r}, {sigma_max!r}] with sigma_data={sigma_data!r} repeat a "
                         "sigma in float64; use fewer steps") from None


def euler_local_error(sigmas, sigma_data: float = 1.0) -> float:
    """Sum over steps of Euler's relative local error for data N(0, c^2 I), in closed form.

    From the exact state x(s) ∝ sqrt(c^2 + s^2), one Euler step s -> s' of dx/ds = s x / (c^2 + s^2) lands at
    x(s) (1 + (s' - s) s / (c^2 + s^2)); the error is abs(that / x(s') - 1) (= 1 - cos(atan(s/c) - atan(s'/c))),
    summed over the steps.
    """
    s = check_sigmas(sigmas).to(torch.float64)
    c2 = check_positive("sigma_data", sigma_data) ** 2
    a, b = s[:-1], s[1:]
    euler = 1 + (b - a) * a / (c2 + a ** 2)
    exact = torch.sqrt((c2 + b ** 2) / (c2 + a ** 2))
    return float((euler / exact - 1).abs().sum())


def klub_gaussian(sigmas, sigma_data: float = 1.0) -> np.ndarray:
    """The KLUB of each interval for data N(0, c^2 I), per dimension, exactly (64-point Gauss-Legendre in ln t):
    int_{s'}^{s} c^4 (1 / (c^2 + t^2) - 1 / (c^2 + s^2)) / t^3 dt (D(x, t) = c^2 x / (c^2 + t^2), so
    E norm(D(x_t, t) - D(x_s, s))^2 = c^4 (1 / (c^2 + t^2) - 1 / (c^2 + s^2)))."""
    s = check_sigmas(sigmas).to(torch.float64).numpy()
    c2 = check_positive("sigma_data", sigma_data) ** 2
    out = np.empty(len(s) - 1)
    for i, (hi, lo) in enumerate(zip(s[:-1], s[1:])):
        a, b = math.log(lo), math.log(hi)
        t = np.exp((b - a) / 2 * _GL_X + (a + b) / 2)
        f = c2 ** 2 * (1 / (c2 + t ** 2) - 1 / (c2 + hi ** 2)) / t ** 2  # / t^3 times dt = t d(ln t)
        out[i] = (b - a) / 2 * float(np.dot(_GL_W, f))
    return out


@dataclass
class _Draws:
    """Common random numbers of the KLUB estimate: data, two noises and a stratified uniform per sample."""
    x0: torch.Tensor
    eps: torch.Tensor
    eps2: torch.Tensor
    u: torch.Tensor


def _draws(data: torch.Tensor, n_mc: int, seed: int) -> _Draws:
    g = torch.Generator().manual_seed(int(seed))
    idx = torch.randint(0, len(data), (n_mc,), generator=g)
    x0 = data[idx].to(torch.float64)
    eps = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    eps2 = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    u = (torch.arange(n_mc, dtype=torch.float64) + torch.rand(n_mc, generator=g, dtype=torch.float64)) / n_mc
    return _Draws(x0, eps, eps2, u)


@torch.no_grad()
def _interval(denoiser, d: _Draws, hi: float, lo: float, dtype) -> float:
    """Monte Carlo KLUB of one interval [lo, hi] (denoiser frozen at hi), t = exp(U(ln lo, ln hi))."""
    L = math.log(hi / lo)
    t = torch.exp(math.log(lo) + d.u * L)
    shape = (-1,) + (1,) * (d.x0.ndim - 1)
    x_t = d.x0 + t.reshape(shape) * d.eps
    x_s = x_t + torch.sqrt(hi ** 2 - t ** 2).reshape(shape) * d.eps2
    D_t = denoiser(x_t.to(dtype), t.to(dtype)).double()
    D_s = denoiser(x_s.to(dtype), torch.full_like(t, hi).to(dtype)).double()
    sq = (D_t - D_s).flatten(1).square().mean(1)
    return float((L * sq / t ** 2).mean())  # density of t is 1 / (t L): integrand / t^3 * t L


def klub_terms(denoiser, data: torch.Tensor, sigmas, *, n_mc: int = 256, seed: int = 0,
               dtype=torch.float32) -> np.ndarray:
    """Monte Carlo KLUB of each interval of `sigmas` (per dimension), from n_mc draws of `data` (seeded)."""
    s = check_sigmas(sigmas).to(torch.float64).tolist()
    d = _draws(torch.as_tensor(data), check_int("n_mc", n_mc, 2), seed)
    return np.array([_interval(denoiser, d, hi, lo, dtype) for hi, lo in zip(s[:-1], s[1:])])


def klub(denoiser, data: torch.Tensor, sigmas, **kw) -> float:
    """Total Monte Carlo KLUB of a schedule (klub_terms summed)."""
    return float(klub_terms(denoiser, data, sigmas, **kw).sum())


@dataclass
class AYSResult:
    """An AYS schedule, its KLUB and that of its start, and the search's cost."""
    sigmas: torch.Tensor
    start: torch.Tensor
    klub: float
    start_klub: float
    calls: int
    samples: int
    seconds: float


def search(denoiser, data: torch.Tensor, n_steps: int, *, sigma_min: float = SIGMA_MIN,
           sigma_max: float = SIGMA_MAX, start=None, n_mc: int = 64, candidates: int = 8, sweeps: int = 2,
           seed: int = 0, dtype=torch.float32) -> AYSResult:
    """AYS's KLUB optimisation (Sabour et al. 2024, Sec. 3): each interior sigma_i in turn is set to the best of
    `candidates` points log-spaced in a window strictly between its neighbours (and its current value), by the
    Monte Carlo KLUB of its two intervals on n_mc draws of `data` (the same draws throughout: seed); `sweeps`
    rounds, the window halved each round (the first spans the neighbours' whole gap).
    Never worse than `start` (default: EDM's polynomial) on that estimate."""
    check_int("n_steps", n_steps, 1)
    candidates, sweeps = check_int("candidates", candidates, 1), check_int("sweeps", sweeps, 0)
    s = (polynomial(n_steps, sigma_min, sigma_max) if start is None else check_sigmas(start)).to(torch.float64)
    if len(s) != n_steps + 1:
        raise ValueError(f"start must have n_steps + 1 = {n_steps + 1} sigmas, got {len(s)}")
    counter, t0 = CallCounter(denoiser), time.perf_counter()
    d = _draws(torch.as_tensor(data), check_int("n_mc", n_mc, 2), seed)
    cache = {}

    def term(hi, lo):
        if (hi, lo) not in cache:
            cache[hi, lo] = _interval(counter, d, hi, lo, dtype)
        return cache[hi, lo]

    total = lambda v: sum(term(hi, lo) for hi, lo in zip(v[:-1], v[1:]))
    v = s.tolist()
    start_klub = total(v)
    for r in range(sweeps):
        for i in range(1, n_steps):
            a, b = math.log(v[i + 1]), math.log(v[i - 1])
            # sweep r searches a window of half-width (b - a) / 2^(r+1) about the current point, inside (a, b)
            half, u = (b - a) / 2 ** (r + 1), math.log(v[i])
            lo, hi = max(a, u - half), min(b, u + half)
            pts = [math.exp(lo + (hi - lo) * (k + 1) / (candidates + 1)) for k in range(candidates)] + [v[i]]
            v[i] = min(pts, key=lambda p: term(v[i - 1], p) + term(p, v[i + 1]))
    return AYSResult(torch.tensor(v, dtype=torch.float64), s, total(v), start_klub, counter.calls, counter.samples,
                     time.perf_counter() - t0)
