"""Time schedules: N+1 strictly decreasing float64 sigmas for N steps (EDM form, no trailing zero)."""
from __future__ import annotations

import math

import torch

__all__ = ["polynomial", "logsnr", "time_uniform", "vp_sigma", "vp_sigma_inv", "check_sigmas",
           "SCHEDULES", "get_schedule", "VP_BETA_D", "VP_BETA_MIN"]

# EDM's VP-SDE constants (Karras et al. 2022, Table 1).
VP_BETA_D = 19.9
VP_BETA_MIN = 0.1


def _check(n, sigma_min, sigma_max):
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n (number of steps) must be an integer >= 1, got {n!r}")
    if not (math.isfinite(sigma_min) and math.isfinite(sigma_max)):
        raise ValueError(f"sigma_min and sigma_max must be finite, got {sigma_min!r}, {sigma_max!r}")
    if not 0 < sigma_min < sigma_max:
        raise ValueError(f"need 0 < sigma_min < sigma_max, got sigma_min={sigma_min!r}, sigma_max={sigma_max!r}")


def _finish(sigmas: torch.Tensor, sigma_min: float, sigma_max: float) -> torch.Tensor:
    # Pin the endpoints exactly (pow/exp round-off would otherwise move them by an ulp).
    sigmas = sigmas.to(torch.float64)
    sigmas[0], sigmas[-1] = sigma_max, sigma_min
    return sigmas


def polynomial(n: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0) -> torch.Tensor:
    """EDM's polynomial schedule (Karras et al. 2022, Eq. 5): uniform in sigma**(1/rho)."""
    _check(n, sigma_min, sigma_max)
    if not rho > 0:
        raise ValueError(f"rho must be > 0, got {rho!r}")
    ramp = torch.linspace(0, 1, n + 1, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return _finish((hi + ramp * (lo - hi)) ** rho, sigma_min, sigma_max)


def logsnr(n: int, sigma_min: float = 0.002, sigma_max: float = 80.0) -> torch.Tensor:
    """Uniform in log sigma (= uniform in log-SNR), as DPM-Solver recommends."""
    _check(n, sigma_min, sigma_max)
    ramp = torch.linspace(0, 1, n + 1, dtype=torch.float64)
    return _finish(torch.exp(math.log(sigma_max) + ramp * (math.log(sigma_min) - math.log(sigma_max))),
                   sigma_min, sigma_max)


def vp_sigma(t, beta_d: float = VP_BETA_D, beta_min: float = VP_BETA_MIN):
    """sigma(t) of the VP-SDE in EDM form: sqrt(exp(beta_d t^2 / 2 + beta_min t) - 1)."""
    t = torch.as_tensor(t, dtype=torch.float64)
    return torch.sqrt(torch.expm1(0.5 * beta_d * t ** 2 + beta_min * t))


def vp_sigma_inv(sigma, beta_d: float = VP_BETA_D, beta_min: float = VP_BETA_MIN):
    """Inverse of :func:`vp_sigma`: the VP time t in (0, 1] with vp_sigma(t) = sigma."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    return (torch.sqrt(beta_min ** 2 + 2 * beta_d * torch.log1p(sigma ** 2)) - beta_min) / beta_d


def time_uniform(n: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 1.0) -> torch.Tensor:
    """Grid uniform in VP time t**(1/rho) (rho=1: time-uniform as DDIM; rho=2: time-quadratic)."""
    _check(n, sigma_min, sigma_max)
    if not rho > 0:
        raise ValueError(f"rho must be > 0, got {rho!r}")
    t_max, t_min = float(vp_sigma_inv(sigma_max)), float(vp_sigma_inv(sigma_min))
    ramp = torch.linspace(0, 1, n + 1, dtype=torch.float64)
    t = (t_max ** (1 / rho) + ramp * (t_min ** (1 / rho) - t_max ** (1 / rho))) ** rho
    return _finish(vp_sigma(t), sigma_min, sigma_max)


SCHEDULES = {
    "polynomial": polynomial,
    "logsnr": logsnr,
    "time_uniform": time_uniform,
    "time_quadratic": lambda n, sigma_min=0.002, sigma_max=80.0: time_uniform(n, sigma_min, sigma_max, rho=2.0),
}


def get_schedule(name: str, n: int, sigma_min: float = 0.002, sigma_max: float = 80.0, **kw) -> torch.Tensor:
    """Look a base schedule up by name (see SCHEDULES)."""
    if name not in SCHEDULES:
        raise ValueError(f"schedule must be one of {sorted(SCHEDULES)}, got {name!r}")
    return SCHEDULES[name](n, sigma_min=sigma_min, sigma_max=sigma_max, **kw)


def check_sigmas(sigmas) -> torch.Tensor:
    """Validate a schedule: 1-D, at least 2 entries, finite, positive, strictly decreasing."""
    sigmas = torch.as_tensor(sigmas)
    if sigmas.ndim != 1 or sigmas.numel() < 2:
        raise ValueError(f"sigmas must be a 1-D tensor with at least 2 entries (n >= 1 steps), got shape {tuple(sigmas.shape)}")
    if not torch.isfinite(sigmas).all():
        raise ValueError("sigmas must be finite")
    if not (sigmas > 0).all():
        raise ValueError(f"sigmas must be > 0 (no trailing zero; last is sigma_min), got min {float(sigmas.min())!r}")
    if not (sigmas[1:] < sigmas[:-1]).all():
        raise ValueError("sigmas must be strictly decreasing (from sigma_max to sigma_min)")
    return sigmas
