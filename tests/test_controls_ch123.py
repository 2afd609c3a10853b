"""Chapters 1-3's controls (issue 23): each fails its claim on a small exact case, where the real check passes.

- prop41_euler_convex: Heun steps (controls.heun_convexity_residual) against Euler steps;
- prop41_taylor_convex: the k-th order Taylor step with the plain D (controls.taylor_convex_residual, plain=True)
  against the generalised D~;
- solver_orders: Euler's fitted order against Heun's; euler_weight_grows: logsnr against the polynomial schedule.
"""
import dataclasses

import numpy as np
import pytest
import torch

import gitscore as gs
from gitscore import claims as C
from gitscore import controls, stats


@pytest.fixture(scope="module")
def gauss():
    var = torch.linspace(0.05, 1.0, 16, dtype=torch.float64).reshape(1, 4, 4)
    return gs.denoisers.GaussianDenoiser(0.1 * torch.ones(1, 4, 4, dtype=torch.float64), var)


def _x(sigma, n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return sigma * torch.randn(n, 1, 4, 4, generator=g, dtype=torch.float64)


def test_heun_fails_the_euler_convexity_claim(gauss):
    sigmas = gs.schedules.polynomial(10, 0.002, 80.0)
    x = _x(80.0)
    euler = gs.trajectory.record(gs.solvers.sample_euler, gauss, x, sigmas)
    real = gs.trajectory.convex_combination_residual(euler, sigmas=sigmas, relative=True)
    heun = controls.heun_convexity_residual(gauss, x, sigmas)
    assert heun.shape == real.shape == (6, 10)
    assert real.max() < 1e-12 and heun.max() > 1e-2
    claim = dataclasses.replace(C.get("prop41_euler_convex"), models=("Gaussian 4x4",))
    v = C.verdict(claim, {"Gaussian 4x4": stats.point(real.max().item())}, control=stats.point(heun.max().item()))
    assert v.word == C.HOLDS and v.control.fails and v.control.separable, v.text


def test_heun_residual_is_round_off_where_heun_equals_euler():
    # With D(x) = 0 the solution x(sigma) = (sigma / sigma_0) x_0 is linear in sigma: Euler's step is exact, so
    # Heun's correction is zero and its step is the Euler combination. The residual measures that, no more.
    zero = lambda x, s: torch.zeros_like(x)  # noqa: E731
    sigmas = gs.schedules.polynomial(5, 0.002, 80.0)
    assert controls.heun_convexity_residual(zero, _x(80.0), sigmas).max() < 1e-12


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_taylor_step_is_convex_with_the_generalised_output_not_the_plain_one(gauss, k):
    x = gauss.exact_solution(_x(1.0), 1.0, 2.0)  # a point of the flow at sigma = 2
    real = controls.taylor_convex_residual(gauss, x, 2.0, 1.0, k)
    plain = controls.taylor_convex_residual(gauss, x, 2.0, 1.0, k, plain=True)
    assert real.shape == (6,) and real.max() < 1e-12
    if k == 1:  # the Euler step: D~ = D
        assert plain.max() < 1e-12
    else:
        assert plain.min() > 1e-3


def test_taylor_derivatives_and_steps_approach_the_exact_solution(gauss):
    x = gauss.exact_solution(_x(1.0), 1.0, 2.0)
    d = controls.taylor_derivatives(gauss, x, 2.0, 4)
    assert len(d) == 4 and d[0].shape == x.shape
    assert torch.allclose(d[0], (x - gauss(x, 2.0)) / 2.0, rtol=0, atol=1e-12)  # dx/dsigma = (x - D) / sigma
    exact = gauss.exact_solution(x, 2.0, 1.0)
    errs = [(controls.taylor_step(x, d, -1.0, k) - exact).norm().item() for k in range(1, 5)]
    assert all(a > b for a, b in zip(errs, errs[1:])), errs
    with pytest.raises(ValueError, match="derivatives"):
        controls.taylor_step(x, d[:2], -1.0, 3)
    with pytest.raises(ValueError, match="k must be"):
        controls.taylor_derivatives(gauss, x, 2.0, 0)
    with pytest.raises(TypeError, match="exact ODE solution"):
        controls.taylor_convex_residual(lambda x, s: x, x, 2.0, 1.0, 2)


def test_plain_taylor_control_fails_the_registered_claim(gauss):
    x = gauss.exact_solution(_x(1.0), 1.0, 2.0)
    real = max(controls.taylor_convex_residual(gauss, x, 2.0, 1.0, k).max().item() for k in range(1, 5))
    ctrl = max(controls.taylor_convex_residual(gauss, x, 2.0, 1.0, k, plain=True).max().item() for k in range(1, 5))
    v = C.verdict("prop41_taylor_convex", {"exact Gaussian": stats.point(real)}, control=stats.point(ctrl))
    assert v.word == C.HOLDS and v.control.separable, v.text


def test_euler_order_fails_the_solver_order_claim(gauss):
    nfes = np.array([20, 40, 80])
    x = gauss.exact_solution(_x(1.0), 1.0, 80.0)
    exact = gauss.exact_solution(x, 80.0, 0.002)

    def order(sampler, per_step):
        errs = [(sampler(gauss, x, gs.schedules.polynomial(int(n // per_step), 0.002, 80.0)) - exact).norm().item()
                for n in nfes]
        return -np.polyfit(np.log(nfes), np.log(errs), 1)[0]

    heun, euler = order(gs.solvers.sample_heun, 2), order(gs.solvers.sample_euler, 1)
    v = C.verdict("solver_orders", {"exact Gaussian": stats.point(heun)}, control=stats.point(euler))
    assert v.word == C.HOLDS and v.control.fails and v.control.separable, (heun, euler, v.text)


def test_logsnr_fails_the_weight_growth_claim():
    def frac(name):
        s = gs.schedules.get_schedule(name, 10, 0.002, 80.0)
        w = (1 - s[1:] / s[:-1]).numpy()
        return float(np.mean(np.diff(w) > 1e-9))

    claim = dataclasses.replace(C.get("euler_weight_grows"), models=("polynomial",))
    v = C.verdict(claim, {"polynomial": stats.point(frac("polynomial"))}, control=stats.point(frac("logsnr")))
    assert frac("polynomial") == 1.0 and frac("logsnr") == 0.0
    assert v.word == C.HOLDS and v.control.fails and v.control.separable, v.text


def test_null_model_fails_the_low_dimension_claim_on_a_small_case():
    """Chapter 2's regularity_low_dim statistic on a 16-dimensional Gaussian (the set-up of test_claims' deviation
    case): the exact denoiser's 3-D reconstruction clears the threshold, the null model's is far on the wrong side."""
    g = torch.Generator().manual_seed(0)
    var = 100 * torch.linspace(0.2, 2.0, 16, dtype=torch.float64).reshape(1, 4, 4)
    gauss = gs.denoisers.GaussianDenoiser(torch.zeros(1, 4, 4), var)
    null = controls.NullDenoiser(var.sqrt() * torch.randn(64, 1, 4, 4, generator=g, dtype=torch.float64))
    x = 80 * torch.randn(16, 1, 4, 4, generator=g, dtype=torch.float64)
    sigmas = gs.schedules.polynomial(18, 0.002, 80.0)

    def rec(den):
        tr = gs.trajectory.record(gs.solvers.sample_euler, den, x, sigmas)
        return gs.trajectory.reconstruction_error(tr, (3,))[:, 0] / gs.trajectory.path_length(tr)[:, -1]

    claim = dataclasses.replace(C.get("regularity_low_dim"), models=("Gaussian 4x4",))
    v = C.evaluate(claim, {"Gaussian 4x4": rec(gauss)}, control=rec(null), n_boot=500)
    assert v.word == C.HOLDS and v.control.fails and v.control.separation > 2, v.text
