"""Time schedules: N+1 strictly decreasing float64 sigmas for N steps (EDM form, no trailing zero)."""
from __future__ import annotations

import math

import torch

from .checks import check_int

__all__ = ["polynomial", "logsnr", "time_uniform", "vp_sigma", "vp_sigma_inv", "check_sigmas",
           "SCHEDULES", "get_schedule", "VP_BETA_D", "VP_BETA_MIN", "SIGMA_MIN", "SIGMA_MAX"]

# EDM's sigma range (Karras et al. 2022, Sec. 5): the default of every schedule, grid and closed-form denoiser.
SIGMA_MIN = 0.002
SIGMA_MAX = 80.0

# EDM's VP-SDE constants (Karras et al. 2022, Table 1).
VP_BETA_D = 19.9
VP_BETA_MIN = 0.1


def _check(n, sigma_min, sigma_max):
    check_int("n (number of steps)", n, 1)
    if not (math.isfinite(sigma_min) and math.isfinite(sigma_max)):
        raise ValueError(f"sigma_min and sigma_max must be finite, got {sigma_min!r}, {sigma_max!r}")
    if not 0 < sigma_min < sigma_max:
        raise ValueError(f"need 0 < sigma_min < sigma_max, got sigma_min={sigma_min!r}, sigma_max={sigma_max!r}")


def _check_rho(rho):
    if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not (math.isfinite(rho) and rho > 0):
        raise ValueError(f"rho must be a finite number > 0, got {rho!r}")


def _finish(sigmas: torch.Tensor, sigma_min: float, sigma_max: float, args: str) -> torch.Tensor:
    """Check the computed schedule (finite, endpoints within rounding, strictly decreasing, positive),
    then pin the endpoints exactly (pow/exp round-off would otherwise move them by an ulp).

    `args` names the arguments that produced it, for the error message.
    """
    sigmas = sigmas.to(torch.float64)
    first, last = float(sigmas[0]), float(sigmas[-1])
    if not (bool(torch.isfinite(sigmas).all()) and math.isclose(first, sigma_max, rel_tol=1e-6)
            and math.isclose(last, sigma_min, rel_tol=1e-6)):
        raise ValueError(f"{args} are out of range: the schedule is not finite or misses its endpoints in float64 "
                         f"(first {first!r}, last {last!r}, expected sigma_max={sigma_max!r}, sigma_min={sigma_min!r})")
    sigmas[0], sigmas[-1] = sigma_max, sigma_min
    if not (bool((sigmas > 0).all()) and bool((sigmas[1:] < sigmas[:-1]).all())):
        raise ValueError(f"{args} give a schedule that is not strictly decreasing in float64 (repeated sigmas); "
                         "use fewer steps or a wider [sigma_min, sigma_max]")
    return sigmas


def polynomial(n: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX, rho: float = 7.0) -> torch.Tensor:
    """EDM's polynomial schedule (Karras et al. 2022, Eq. 5): uniform in sigma**(1/rho)."""
    _check(n, sigma_min, sigma_max)
    _check_rho(rho)
    ramp = torch.linspace(0, 1, n + 1, dtype=torch.float64)
    try:
        lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
        sigmas = (hi + ramp * (lo - hi)) ** rho
    except OverflowError:
        raise ValueError(f"rho={rho!r} is too small for sigma_max={sigma_max!r}: sigma_max ** (1/rho) overflows "
                         "float64") from None
    return _finish(sigmas, sigma_min, sigma_max, f"rho={rho!r}, sigma_min={sigma_min!r}, sigma_max={sigma_max!r}")


def logsnr(n: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX) -> torch.Tensor:
    """Uniform in log sigma (= uniform in log-SNR), as DPM-Solver recommends."""
    _check(n, sigma_min, sigma_max)
    ramp = torch.linspace(0, 1, n + 1, dtype=torch.float64)
    return _finish(torch.exp(math.log(sigma_max) + ramp * (math.log(sigma_min) - math.log(sigma_max))),
                   sigma_min, sigma_max, f"n={n!r}, sigma_min={sigma_min!r}, sigma_max={sigma_max!r}")


def vp_sigma(t, beta_d: float = VP_BETA_D, beta_min: float = VP_BETA_MIN):
    """sigma(t) of the VP-SDE in EDM form: sqrt(exp(beta_d t^2 / 2 + beta_min t) - 1)."""
    t = torch.as_tensor(t, dtype=torch.float64)
    return torch.sqrt(torch.expm1(0.5 * beta_d * t ** 2 + beta_min * t))


def vp_sigma_inv(sigma, beta_d: float = VP_BETA_D, beta_min: float = VP_BETA_MIN):
    """Inverse of :func:`vp_sigma`: the VP time t in (0, 1] with vp_sigma(t) = sigma."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    return (torch.sqrt(beta_min ** 2 + 2 * beta_d * torch.log1p(sigma ** 2)) - beta_min) / beta_d


def time_uniform(n: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX, rho: float = 1.0) -> torch.Tensor:
    """Grid uniform in VP time t**(1/rho) (rho=1: time-uniform as DDIM; rho=2: time-quadratic)."""
    _check(n, sigma_min, sigma_max)
    _check_rho(rho)
    t_max, t_min = float(vp_sigma_inv(sigma_max)), float(vp_sigma_inv(sigma_min))
    if not math.isfinite(t_max):
        raise ValueError(f"sigma_max={sigma_max!r} is too large for the VP time grid (sigma_max**2 overflows float64)")
    if not t_min > 0:
        raise ValueError(f"sigma_min={sigma_min!r} is too small for the VP time grid (its VP time rounds to 0)")
    ramp = torch.linspace(0, 1, n + 1, dtype=torch.float64)
    try:
        t = (t_max ** (1 / rho) + ramp * (t_min ** (1 / rho) - t_max ** (1 / rho))) ** rho
    except (OverflowError, ZeroDivisionError):
        raise ValueError(f"rho={rho!r} is out of range for the VP time grid (t ** (1/rho) overflows)") from None
    return _finish(vp_sigma(t), sigma_min, sigma_max, f"rho={rho!r}, sigma_min={sigma_min!r}, sigma_max={sigma_max!r}")


def _time_quadratic(n: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX) -> torch.Tensor:
    """The VP time grid quadratic in t: time_uniform with rho = 2."""
    return time_uniform(n, sigma_min, sigma_max, rho=2.0)


SCHEDULES = {
    "polynomial": polynomial,
    "logsnr": logsnr,
    "time_uniform": time_uniform,
    "time_quadratic": _time_quadratic,
}


def get_schedule(name: str, n: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX, **kw) -> torch.Tensor:
    """Look a base schedule up by name (see SCHEDULES)."""
    if name not in SCHEDULES:
        raise ValueError(f"schedule must be one of {sorted(SCHEDULES)}, got {name!r}")
    return SCHEDULES[name](n, sigma_min=sigma_min, sigma_max=sigma_max, **kw)


def check_sigmas(sigmas) -> torch.Tensor:
    """Validate a schedule: 1-D, at least 2 entries, finite, positive, strictly decreasing."""
    sigmas = torch.as_tensor(sigmas)
    if sigmas.ndim != 1 or sigmas.numel() < 2:
        raise ValueError("sigmas must be a 1-D tensor with at least 2 entries (n >= 1 steps), "
                         f"got shape {tuple(sigmas.shape)}")
    if not torch.isfinite(sigmas).all():
        raise ValueError("sigmas must be finite")
    if not (sigmas > 0).all():
        raise ValueError(f"sigmas must be > 0 (no trailing zero; last is sigma_min), got min {float(sigmas.min())!r}")
    if not (sigmas[1:] < sigmas[:-1]).all():
        raise ValueError("sigmas must be strictly decreasing (from sigma_max to sigma_min)")
    return sigmas


# GITS schedules the authors published for CIFAR-10 (EDM's unconditional VP network), keyed by NFE,
# as printed there (4 decimals). Source: github.com/zju-pi/diff-sampler, gits-main/README.md
# ("You can specify the time schedule directly with a list of timestamps") and gits-main/launch.sh
# (section B, same list), commit 20a0e1d: `--solver=ipndm --max_order=4 --dataset_name=cifar10
# --t_steps=[80,10.9836,3.8811,1.584,0.5666,0.1698,0.002]`. Every value is a point of the 61-point
# teacher grid (indices 0, 19, 27, 33, 39, 45, 60), i.e. a DP path of the default search. No other
# NFE's schedule is printed in the repository or the paper's text we could read.
PAPER_GITS_CIFAR10 = {
    6: (80.0, 10.9836, 3.8811, 1.584, 0.5666, 0.1698, 0.002),
}
