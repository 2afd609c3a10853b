"""ODE samplers for the EDM probability-flow ODE dx/dsigma = (x - D(x, sigma)) / sigma.

Every sampler has one signature::

    sample_<name>(denoiser, x, sigmas, *, callback=None, progress=False, **options) -> x at sigmas[-1]

`x` is the state at sigmas[0] (already scaled by sigma_max), `sigmas` a strictly decreasing schedule
of N + 1 positive sigmas for N steps (no trailing zero), `denoiser(x, sigma) -> x0_hat`. The denoiser
gets sigma as a (B,) tensor in x's dtype and device (as k-diffusion does), so `sigma.reshape(-1, 1, 1, 1)`
and `sigma.log()` work; it must return a tensor of x's shape (else TypeError / ValueError naming the
solver, step and sigma). A float16 / bfloat16 state warns: keep x in float32.

Callback: once per step i = 0..N-1, before the update, `callback` receives the dict
{"i": i, "x": x_i, "sigma": sigma_i, "sigma_next": sigma_{i+1}, "denoised": D(x_i, sigma_i)},
i.e. the pair (x_i, denoised_i) at the grid points. The final state is not passed (a recorder
appends the return value itself). Two exceptions for "denoised": with afs=True, at step 0 it is
the analytical first step's x_0 - sigma_0 * x_0 / sqrt(1 + sigma_0^2), not a denoiser output;
for unipc (i >= 1) it is the evaluation at the predictor point that UniPC reuses, not at x_i.

Options: `afs` (all samplers; analytical first step, saves one NFE), `order` (dpmpp, ipndm,
unipc, deis), `variable_step` (ipndm), `lower_order_final` (dpmpp, unipc). Unknown options raise
TypeError, out-of-range ones ValueError; NaN/inf during sampling raises FloatingPointError naming
the step and sigma. NFE: euler, dpmpp, ipndm, unipc, deis 1 per step; heun and dpm2 2 per step.

The step formulas `euler_step`, `ipndm_step` and `dpmpp_update` are shared by the samplers, by
`solve_differentiable` (Euler, iPNDM, DPM-Solver++ on tensor sigmas with gradients, for the oracle schedule)
and by the student-state DP of gitscore.optimal. `solve(denoiser, solver, x, sigmas)` runs a sampler by name.
"""
from __future__ import annotations

import math
import sys
import warnings
from typing import NamedTuple

import numpy as np
import torch
from tqdm import trange

from .checks import check_denoised, check_sigmas_arg, check_state
from .schedules import check_sigmas, vp_sigma_inv

__all__ = ["sample_euler", "sample_heun", "sample_dpm2", "sample_dpmpp", "sample_ipndm", "sample_unipc",
           "sample_deis", "SOLVERS", "SolverInfo", "SOLVER_INFO", "calls_per_step", "MULTISTEP", "solve",
           "DIFFERENTIABLE", "solve_differentiable", "euler_step", "ipndm_step", "dpmpp_update", "multistep_order",
           "IPNDM_COEFFS"]

# Fixed Adams-Bashforth coefficients (newest derivative first) used by iPNDM.
IPNDM_COEFFS = {1: (1.0,), 2: (3 / 2, -1 / 2), 3: (23 / 12, -16 / 12, 5 / 12), 4: (55 / 24, -59 / 24, 37 / 24, -9 / 24)}

# Gauss-Legendre rule for the Adams-Bashforth weights; in log sigma the integrands are analytic in
# the strip |Im| < pi/2, so 64 nodes are exact to rounding for any step.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(64)


# ----------------------------------------------------------------------------
# Shared helpers.

def _prepare(x, sigmas):
    if not (torch.is_tensor(x) and x.is_floating_point()):
        raise TypeError(f"x must be a floating-point torch.Tensor, got {type(x).__name__}"
                        + (f" of dtype {x.dtype}" if torch.is_tensor(x) else ""))
    if x.dtype in (torch.float16, torch.bfloat16):
        warnings.warn(f"the solver state x is {x.dtype}: every step rounds it to {torch.finfo(x.dtype).eps:.1g} "
                      "relative precision, far above the ODE's discretisation error; pass x in float32 "
                      "(the denoiser may still compute in half precision)", stacklevel=3)
    check_state(x), check_sigmas_arg(sigmas)
    return [float(s) for s in check_sigmas(sigmas)]


def _check_order(order, allowed):
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order not in allowed:
        raise ValueError(f"order must be one of {allowed}, got {order!r}")


def _finite(t, i, sigma, what):
    if not torch.isfinite(t).all():
        raise FloatingPointError(f"non-finite {what} at step {i} (sigma={sigma:.6g})")
    return t


def _solver_name():
    """The sample_<name> running: named in the errors about the denoiser's output."""
    frame = sys._getframe(1)
    while frame is not None and not frame.f_code.co_name.startswith("sample_"):
        frame = frame.f_back
    return frame.f_code.co_name if frame is not None else "solver"


def _denoise(denoiser, x, sigma, i):
    """D(x, sigma) with sigma handed over as a (B,) tensor in x's dtype and device (the k-diffusion contract)."""
    out = denoiser(x, torch.full((x.shape[0],), sigma, dtype=x.dtype, device=x.device))
    if not torch.is_tensor(out):
        raise TypeError(f"{_solver_name()}: the denoiser returned {type(out).__name__} at step {i} "
                        f"(sigma={sigma:.6g}); "
                        f"it must return a tensor shaped like x, {tuple(x.shape)}")
    if out.shape != x.shape:
        raise ValueError(f"{_solver_name()}: the denoiser returned shape {tuple(out.shape)} at step {i} "
                         f"(sigma={sigma:.6g}); it must return x's shape {tuple(x.shape)}")
    check_denoised(out, x, f"{_solver_name()} at step {i} (sigma={sigma:.6g})")
    return _finite(out, i, sigma, "denoiser output")


def _first_denoised(denoiser, x, sigma, i, afs):
    """D(x_i, sigma_i); with afs on step 0, the analytical first step d = x / sqrt(1 + sigma^2) instead (no NFE)."""
    if afs and i == 0:
        return x - sigma * x / math.sqrt(1 + sigma ** 2)
    return _denoise(denoiser, x, sigma, i)


def _report(callback, i, x, sigma, sigma_next, denoised):
    if callback is not None:
        callback({"i": i, "x": x, "sigma": sigma, "sigma_next": sigma_next, "denoised": denoised})


def euler_step(x, d, t_cur, t_next):
    """x + (t_next - t_cur) d: one Euler step along the direction d = (x - D(x, t_cur)) / t_cur.

    Plain arithmetic, shared by the samplers (float sigmas), the differentiable solvers (tensor sigmas with
    gradients) and the student-state DP (t_next a (J, 1, ..., 1) tensor: J candidate steps at once)."""
    return x + (t_next - t_cur) * d


def ipndm_step(x, old_d, t_cur, t_next):
    """iPNDM's Adams-Bashforth step over the directions old_d (oldest first, at most 4): fixed equal-step
    coefficients IPNDM_COEFFS[len(old_d)] on the newest first, each multiplied by the step t_next - t_cur."""
    weights = [(t_next - t_cur) * c for c in IPNDM_COEFFS[len(old_d)]]
    return x + sum(w * d for w, d in zip(weights, reversed(old_d)))


def dpmpp_update(x, old_denoised, old_lambdas, t_cur, t_next, h, phi_1, p):
    """One DPM-Solver++ step of order p from the last p denoised values at lambdas = -ln sigma.

    Plain arithmetic: sigmas, h = ln(t_cur / t_next) and phi_1 = expm1(-h) may be floats (the samplers)
    or tensors that carry gradients (gitscore.optimal).
    """
    x_next = (t_next / t_cur) * x - phi_1 * old_denoised[-1]
    if p >= 2:
        r0 = (old_lambdas[-1] - old_lambdas[-2]) / h
        D1_0 = (old_denoised[-1] - old_denoised[-2]) / r0
    if p == 2:
        x_next = x_next - 0.5 * phi_1 * D1_0
    elif p == 3:
        r1 = (old_lambdas[-2] - old_lambdas[-3]) / h
        D1_1 = (old_denoised[-2] - old_denoised[-3]) / r1
        # D1 ~ h D', D2 ~ h^2 D'' from divided differences in lambda. The reference codes (dpm-solver,
        # diffusers, k-diffusion, diff-sampler) use half this D2, which leaves their 3M second order.
        D1 = D1_0 + r0 / (r0 + r1) * (D1_0 - D1_1)
        D2 = 2 * (D1_0 - D1_1) / (r0 + r1)
        phi_2 = phi_1 / h + 1
        phi_3 = phi_2 / h - 0.5
        x_next = x_next + phi_2 * D1 - phi_3 * D2
    return x_next


def multistep_order(i, n, order, lower_order_final):
    """Order of step i of n: warm start at lower order; optionally also lower it over the last steps."""
    if i + 1 < order:
        return i + 1
    return min(order, n - i) if lower_order_final else order


def _ab_weights(nodes, sigma, sigma_next, tau=None):
    """Adams-Bashforth weights w_j = int_sigma^sigma_next l_j(tau(s)) ds, l_j the Lagrange basis on tau(nodes).

    tau=None interpolates in sigma itself (variable-step AB); DEIS-tAB passes the VP time.
    """
    a, b = math.log(sigma), math.log(sigma_next)
    s = np.exp((a + b) / 2 + (b - a) / 2 * _GL_X)
    jac = _GL_W * s * (b - a) / 2                    # ds = s du, u = log s
    tau = (lambda v: v) if tau is None else tau
    y, yn = tau(s), tau(np.asarray(nodes, dtype=np.float64))
    weights = []
    for j in range(len(nodes)):
        l_j = np.ones_like(s)
        for k in range(len(nodes)):
            if k != j:
                l_j = l_j * (y - yn[k]) / (yn[j] - yn[k])
        weights.append(float(jac @ l_j))
    return weights


def _vp_time(s):
    return vp_sigma_inv(torch.from_numpy(s)).numpy()


# ----------------------------------------------------------------------------
# One-step samplers.

@torch.no_grad()
def sample_euler(denoiser, x, sigmas, *, callback=None, progress=False, afs=False):
    """Euler on the PF-ODE (= DDIM, Song et al. 2021): x_next = x + (sigma_next - sigma) (x - D) / sigma."""
    t_steps = _prepare(x, sigmas)
    for i in trange(len(t_steps) - 1, disable=not progress):
        t_cur, t_next = t_steps[i], t_steps[i + 1]
        denoised = _first_denoised(denoiser, x, t_cur, i, afs)
        _report(callback, i, x, t_cur, t_next, denoised)
        x = _finite(euler_step(x, (x - denoised) / t_cur, t_cur, t_next), i, t_next, "state")
    return x


@torch.no_grad()
def sample_heun(denoiser, x, sigmas, *, callback=None, progress=False, afs=False):
    """Heun's 2nd-order method (Karras et al. 2022, Algorithm 1), the correction applied on every step."""
    t_steps = _prepare(x, sigmas)
    for i in trange(len(t_steps) - 1, disable=not progress):
        t_cur, t_next = t_steps[i], t_steps[i + 1]
        denoised = _first_denoised(denoiser, x, t_cur, i, afs)
        _report(callback, i, x, t_cur, t_next, denoised)
        d_cur = (x - denoised) / t_cur
        x_euler = _finite(euler_step(x, d_cur, t_cur, t_next), i, t_next, "state")
        # Apply 2nd order correction (trapezoid).
        d_prime = (x_euler - _denoise(denoiser, x_euler, t_next, i)) / t_next
        x = _finite(x + (t_next - t_cur) * (0.5 * d_cur + 0.5 * d_prime), i, t_next, "state")
    return x


@torch.no_grad()
def sample_dpm2(denoiser, x, sigmas, *, callback=None, progress=False, afs=False):
    """DPM-Solver-2 (Lu et al. 2022, Alg. 1) in EDM form: midpoint rule with the midpoint in log sigma."""
    t_steps = _prepare(x, sigmas)
    for i in trange(len(t_steps) - 1, disable=not progress):
        t_cur, t_next = t_steps[i], t_steps[i + 1]
        denoised = _first_denoised(denoiser, x, t_cur, i, afs)
        _report(callback, i, x, t_cur, t_next, denoised)
        # Euler step to the geometric midpoint.
        d_cur = (x - denoised) / t_cur
        t_mid = math.sqrt(t_cur * t_next)
        x_mid = _finite(x + (t_mid - t_cur) * d_cur, i, t_mid, "state")
        # Full step with the midpoint slope.
        d_mid = (x_mid - _denoise(denoiser, x_mid, t_mid, i)) / t_mid
        x = _finite(x + (t_next - t_cur) * d_mid, i, t_next, "state")
    return x


# ----------------------------------------------------------------------------
# Multistep samplers (1 NFE per step; history in plain lists, newest last).

@torch.no_grad()
def sample_dpmpp(denoiser, x, sigmas, *, callback=None, progress=False, order=3, afs=False,
                 lower_order_final=True):
    """Multistep DPM-Solver++ (Lu et al. 2022b, Alg. 2 and its 3rd-order form), data prediction, lambda = -log sigma.

    lower_order_final (the DPM-Solver++ / diff-sampler default) drops to order 2 and 1 on the last two steps.
    """
    _check_order(order, SOLVER_INFO["dpmpp"].orders)
    t_steps = _prepare(x, sigmas)
    n = len(t_steps) - 1
    old_denoised, old_lambdas = [], []
    for i in trange(n, disable=not progress):
        t_cur, t_next = t_steps[i], t_steps[i + 1]
        denoised = _first_denoised(denoiser, x, t_cur, i, afs)
        _report(callback, i, x, t_cur, t_next, denoised)
        old_denoised, old_lambdas = (old_denoised + [denoised])[-3:], (old_lambdas + [-math.log(t_cur)])[-3:]
        p = multistep_order(i, n, order, lower_order_final)
        h = math.log(t_cur / t_next)
        phi_1 = math.expm1(-h)                          # = t_next / t_cur - 1
        # First order (DDIM) part, then finite-difference corrections in lambda.
        x_next = dpmpp_update(x, old_denoised, old_lambdas, t_cur, t_next, h, phi_1, p)
        x = _finite(x_next, i, t_next, "state")
    return x


@torch.no_grad()
def sample_ipndm(denoiser, x, sigmas, *, callback=None, progress=False, order=4, afs=False, variable_step=False):
    """iPNDM (Zhang & Chen 2023): Adams-Bashforth on d = (x - D) / sigma, warm-started at lower order.

    variable_step=False uses the fixed equal-step coefficients (as iPNDM does on any grid);
    variable_step=True integrates the Lagrange interpolant of d in sigma exactly over each step
    (the variable-step iPNDM, "ipndm_v"; equal to the fixed one on a uniform sigma grid).
    """
    _check_order(order, SOLVER_INFO["ipndm"].orders)
    t_steps = _prepare(x, sigmas)
    old_d = []
    for i in trange(len(t_steps) - 1, disable=not progress):
        t_cur, t_next = t_steps[i], t_steps[i + 1]
        denoised = _first_denoised(denoiser, x, t_cur, i, afs)
        _report(callback, i, x, t_cur, t_next, denoised)
        old_d = (old_d + [(x - denoised) / t_cur])[-order:]
        # Adams-Bashforth step over the newest derivatives (newest first).
        if variable_step:
            weights = _ab_weights(t_steps[i::-1][:len(old_d)], t_cur, t_next)
            x_next = x + sum(w * d for w, d in zip(weights, reversed(old_d)))
        else:
            x_next = ipndm_step(x, old_d, t_cur, t_next)
        x = _finite(x_next, i, t_next, "state")
    return x


@torch.no_grad()
def sample_deis(denoiser, x, sigmas, *, callback=None, progress=False, order=3, afs=False):
    """DEIS-tAB (Zhang & Chen 2023): the eps = d history interpolated by a polynomial in VP time t.

    In EDM form the exponential integrator is dx = eps dsigma, so each step adds
    sum_j [int_sigma^sigma_next l_j(t(s)) ds] d_j, with l_j the Lagrange basis on the past VP times
    (t = schedules.vp_sigma_inv). Interpolating in sigma instead would be ipndm(variable_step=True).
    """
    _check_order(order, SOLVER_INFO["deis"].orders)
    t_steps = _prepare(x, sigmas)
    old_d = []
    for i in trange(len(t_steps) - 1, disable=not progress):
        t_cur, t_next = t_steps[i], t_steps[i + 1]
        denoised = _first_denoised(denoiser, x, t_cur, i, afs)
        _report(callback, i, x, t_cur, t_next, denoised)
        old_d = (old_d + [(x - denoised) / t_cur])[-order:]
        weights = _ab_weights(t_steps[i::-1][:len(old_d)], t_cur, t_next, tau=_vp_time)
        x = _finite(x + sum(w * d for w, d in zip(weights, reversed(old_d))), i, t_next, "state")
    return x


def _unipc_rhos(h, rks, order):
    """UniPC bh2 coefficients (Zhao et al. 2023, B(h) = e^h - 1) for data prediction in lambda = -log sigma.

    rks: (lambda_{i-k} - lambda_i) / h for the k = 1..order-1 past points, then 1 for the new point.
    Returns (rhos_p, rhos_c, B_h): predictor weights on the order-1 past differences, corrector weights on all.
    """
    hh = -h
    B_h = math.expm1(hh)
    h_phi_k, factorial, b = math.expm1(hh) / hh - 1, 1, []
    for k in range(1, order + 1):
        b.append(h_phi_k * factorial / B_h)
        factorial *= k + 1
        h_phi_k = h_phi_k / hh - 1 / factorial
    R = np.array([[rk ** (k - 1) for rk in rks] for k in range(1, order + 1)])
    b = np.array(b)
    # Orders 1 (corrector) and 2 (predictor) use UniPC's simplified rho = 1/2.
    rhos_p = [] if order == 1 else [0.5] if order == 2 else list(np.linalg.solve(R[:-1, :-1], b[:-1]))
    rhos_c = [0.5] if order == 1 else list(np.linalg.solve(R, b))
    return [float(r) for r in rhos_p], [float(r) for r in rhos_c], B_h


@torch.no_grad()
def sample_unipc(denoiser, x, sigmas, *, callback=None, progress=False, order=3, afs=False, lower_order_final=True):
    """UniPC-bh2 (Zhao et al. 2023), data prediction, multistep: UniP predictor + UniC corrector.

    The corrector's denoiser call at the predicted point is reused by the next step (1 NFE per step);
    no corrector after the final step. lower_order_final as in sample_dpmpp.
    """
    _check_order(order, SOLVER_INFO["unipc"].orders)
    t_steps = _prepare(x, sigmas)
    n = len(t_steps) - 1
    old_denoised = [_first_denoised(denoiser, x, t_steps[0], 0, afs)]
    old_lambdas = [-math.log(t_steps[0])]
    for i in trange(n, disable=not progress):
        t_cur, t_next = t_steps[i], t_steps[i + 1]
        m0 = old_denoised[-1]
        _report(callback, i, x, t_cur, t_next, m0)
        p = multistep_order(i, n, order, lower_order_final)
        h = math.log(t_cur / t_next)
        rks = [(old_lambdas[-(k + 1)] - old_lambdas[-1]) / h for k in range(1, p)]
        D1s = [(old_denoised[-(k + 1)] - m0) / rk for k, rk in enumerate(rks, start=1)]
        rhos_p, rhos_c, B_h = _unipc_rhos(h, rks + [1.0], p)
        x_ddim = (t_next / t_cur) * x - math.expm1(-h) * m0
        # Predictor (UniP).
        x_pred = _finite(x_ddim - B_h * sum(r * D for r, D in zip(rhos_p, D1s)), i, t_next, "state")
        if i == n - 1:
            x = x_pred
            break
        # Corrector (UniC) with the new evaluation, which the next step reuses.
        m_next = _denoise(denoiser, x_pred, t_next, i)
        corr = sum((r * D for r, D in zip(rhos_c[:-1], D1s)), rhos_c[-1] * (m_next - m0))
        x = _finite(x_ddim - B_h * corr, i, t_next, "state")
        old_denoised, old_lambdas = (old_denoised + [m_next])[-3:], (old_lambdas + [-math.log(t_next)])[-3:]
    return x


# ----------------------------------------------------------------------------

SOLVERS = {
    "euler": sample_euler,
    "heun": sample_heun,
    "dpm2": sample_dpm2,
    "dpmpp": sample_dpmpp,
    "ipndm": sample_ipndm,
    "unipc": sample_unipc,
    "deis": sample_deis,
}


class SolverInfo(NamedTuple):
    """What a caller needs to know of a registered solver without running it."""
    order: int            # order of accuracy with the default options (multistep: the `order` option's default)
    calls_per_step: int   # denoiser evaluations per step (NFE = steps * calls_per_step, minus one with afs)
    orders: tuple         # allowed values of the `order` option; () for a solver without one


SOLVER_INFO = {
    "euler": SolverInfo(1, 1, ()),
    "heun": SolverInfo(2, 2, ()),
    "dpm2": SolverInfo(2, 2, ()),
    "dpmpp": SolverInfo(3, 1, (1, 2, 3)),
    "ipndm": SolverInfo(4, 1, (1, 2, 3, 4)),
    "unipc": SolverInfo(3, 1, (1, 2, 3)),
    "deis": SolverInfo(3, 1, (1, 2, 3, 4)),
}

# Multistep solvers: they take an `order` option.
MULTISTEP = tuple(name for name, info in SOLVER_INFO.items() if info.orders)


def calls_per_step(name: str) -> int:
    """Denoiser evaluations per step of the solver registered under `name` (2 for heun and dpm2, else 1)."""
    if name not in SOLVER_INFO:
        raise ValueError(f"solver must be one of {sorted(SOLVERS)}, got {name!r}")
    return SOLVER_INFO[name].calls_per_step


def solve(denoiser, solver: str, x, sigmas, **options):
    """Run the sampler registered under `solver` in SOLVERS from x at sigmas[0] to sigmas[-1] (no_grad).

    Same arguments as sampling.sample's first two (denoiser, solver); for seeded batches of samples use
    gitscore.sampling.sample, for gradients through the sigmas solve_differentiable."""
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {sorted(SOLVERS)}, got {solver!r}")
    return SOLVERS[solver](denoiser, x, sigmas, **options)


# ----------------------------------------------------------------------------
# Differentiable solvers: the same steps on tensor sigmas, with gradients (gitscore.optimal's oracle).

def _euler_diff(denoiser, x, t):
    for i in range(len(t) - 1):
        x = euler_step(x, (x - denoiser(x, t[i])) / t[i], t[i], t[i + 1])
    return x


def _ipndm_diff(denoiser, x, t, order=4):
    old_d = []
    for i in range(len(t) - 1):
        old_d = (old_d + [(x - denoiser(x, t[i])) / t[i]])[-order:]
        x = ipndm_step(x, old_d, t[i], t[i + 1])
    return x


def _dpmpp_diff(denoiser, x, t, order=3, lower_order_final=True):
    n, old_den, old_lam = len(t) - 1, [], []
    for i in range(n):
        t_cur, t_next = t[i], t[i + 1]
        denoised = denoiser(x, t_cur)
        old_den, old_lam = (old_den + [denoised])[-3:], (old_lam + [-torch.log(t_cur)])[-3:]
        h = torch.log(t_cur / t_next)
        p = multistep_order(i, n, order, lower_order_final)
        x = dpmpp_update(x, old_den, old_lam, t_cur, t_next, h, torch.expm1(-h), p)
    return x


_DIFFERENTIABLE = {"euler": _euler_diff, "ipndm": _ipndm_diff, "dpmpp": _dpmpp_diff}
DIFFERENTIABLE = tuple(_DIFFERENTIABLE)


def solve_differentiable(denoiser, solver: str, x: torch.Tensor, sigmas: torch.Tensor, **options) -> torch.Tensor:
    """`solver` (euler, ipndm, dpmpp) from x at sigmas[0] to sigmas[-1], differentiable in x and in `sigmas`.

    The same steps (euler_step, ipndm_step, dpmpp_update) as sample_<solver>, so equal to it on fixed sigmas
    (options: ipndm `order`; dpmpp `order`, `lower_order_final`); the denoiser receives sigma as a 0-d tensor.
    """
    if solver not in _DIFFERENTIABLE:
        raise ValueError(f"solver must be one of {list(DIFFERENTIABLE)}, got {solver!r}")
    if not torch.is_tensor(sigmas) or sigmas.ndim != 1 or len(sigmas) < 2:
        raise ValueError(f"sigmas must be a 1-D tensor of at least 2 sigmas, got {sigmas!r}")
    check_sigmas(sigmas.detach())
    return _DIFFERENTIABLE[solver](denoiser, x, list(sigmas.unbind()), **options)
