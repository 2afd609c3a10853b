"""Tests of gitscore.solvers against exact PF-ODE solutions: convergence orders, NFE, callback, errors."""
import math
import re

import pytest
import torch

from gitscore import solvers
from gitscore.denoisers import CallCounter, GaussianDenoiser
from gitscore.schedules import polynomial

NFE_PER_STEP = {"euler": 1, "dpmpp": 1, "ipndm": 1, "unipc": 1, "deis": 1, "heun": 2, "dpm2": 2}
SIGMA_MAX, SIGMA_MIN = 10.0, 0.05


@pytest.fixture(scope="module")
def problem():
    """Diagonal Gaussian (d=16, non-zero mean), a batch of 8 starting points at SIGMA_MAX, the exact endpoint."""
    g = torch.Generator().manual_seed(0)
    mean = torch.linspace(-1, 1, 16, dtype=torch.float64)
    var = torch.logspace(-1, 0.5, 16, dtype=torch.float64)
    den = GaussianDenoiser(mean, var)
    x = mean + torch.randn(8, 16, dtype=torch.float64, generator=g) * torch.sqrt(var + SIGMA_MAX ** 2)
    return den, x, den.exact_solution(x, SIGMA_MAX, SIGMA_MIN)


def observed_order(name, kw, den, x, exact, sigmas_of_n, ns):
    errs = [(solvers.solve(den, name, x, sigmas_of_n(n), **kw) - exact(sigmas_of_n(n))).abs().max().item()
            for n in ns]
    assert errs[1] < errs[0]
    return math.log2(errs[0] / errs[1])


# Asymptotic global order on the EDM schedule. Multistep solvers start with an Euler step (local
# error O(h^2)), so warm-started methods are 2nd order globally whatever their nominal order;
# lower_order_final's last order-1 step does the same. AFS replaces the first slope by an O(1)-wrong
# one over a step of length O(h): 1st order, except dpm2, which only uses it to place its midpoint.
ORDER_CASES = [
    ("euler", {}, 1), ("heun", {}, 2), ("dpm2", {}, 2),
    ("dpmpp", {"order": 1}, 1), ("dpmpp", {"order": 2}, 2), ("dpmpp", {"order": 3}, 2),
    ("dpmpp", {"order": 3, "lower_order_final": False}, 2),
    ("ipndm", {}, 2), ("ipndm", {"order": 2}, 2), ("ipndm", {"variable_step": True}, 2),
    ("unipc", {}, 2), ("unipc", {"order": 1}, 2),
    ("unipc", {"lower_order_final": False}, 3),      # UniC-1 makes even the first step 2nd order
    ("deis", {"order": 1}, 1), ("deis", {"order": 2}, 2), ("deis", {}, 2),
    ("euler", {"afs": True}, 1), ("heun", {"afs": True}, 1), ("dpm2", {"afs": True}, 2),
    ("dpmpp", {"afs": True}, 1), ("ipndm", {"afs": True}, 1), ("unipc", {"afs": True}, 1),
    ("deis", {"afs": True}, 1),
]


@pytest.mark.parametrize("name,kw,expected", ORDER_CASES, ids=[f"{n}-{kw}" for n, kw, _ in ORDER_CASES])
def test_converges_to_exact_gaussian_solution(problem, name, kw, expected):
    den, x, exact = problem
    p = observed_order(name, kw, den, x, lambda s: exact, lambda n: polynomial(n, SIGMA_MIN, SIGMA_MAX), (80, 160))
    assert p > expected - 0.3, f"{name} {kw}: observed order {p:.2f}, expected {expected}"


# Nominal order with the start-up error removed: a quadrature ODE dx/dsigma = f(sigma) (D = x - sigma f)
# on a grid whose first three steps have length h^2, so the low-order warm-up costs O(h^4).
# UniPC-p's corrector raises the order to p + 1.
NOMINAL_CASES = [
    ("ipndm", {"variable_step": True, "order": 2}, 2), ("ipndm", {"variable_step": True, "order": 3}, 3),
    ("ipndm", {"variable_step": True, "order": 4}, 4),
    ("deis", {"order": 2}, 2), ("deis", {"order": 3}, 3), ("deis", {"order": 4}, 4),
    ("dpmpp", {"order": 2, "lower_order_final": False}, 2), ("dpmpp", {"order": 3, "lower_order_final": False}, 3),
    ("unipc", {"order": 1, "lower_order_final": False}, 2), ("unipc", {"order": 2, "lower_order_final": False}, 3),
    ("unipc", {"order": 3, "lower_order_final": False}, 4),
]


@pytest.mark.parametrize("name,kw,expected", NOMINAL_CASES, ids=[f"{n}-{kw}" for n, kw, _ in NOMINAL_CASES])
def test_nominal_order_without_startup_error(name, kw, expected):
    g = torch.Generator().manual_seed(1)
    a, b, x = torch.randn(3, 4, 5, dtype=torch.float64, generator=g)
    F = lambda s: a * math.sin(s) - 2 * b * math.cos(s / 2)          # F' = f_t below

    def grid(n, hi=4.0, lo=0.5):
        delta = ((hi - lo) / n) ** 2
        body = torch.linspace(hi - 3 * delta, lo, n + 1, dtype=torch.float64)
        return torch.cat([torch.tensor([hi, hi - delta, hi - 2 * delta], dtype=torch.float64), body])

    exact = lambda s: x + F(float(s[-1])) - F(float(s[0]))
    f_t = lambda s: a * torch.cos(s) + b * torch.sin(s / 2)            # f on the solvers' (B,) sigma tensor
    p = observed_order(name, kw, lambda y, s: y - s[:, None] * f_t(s[:, None]), x, exact, grid, (40, 80))
    assert p > expected - 0.3, f"{name} {kw}: observed order {p:.2f}, expected {expected}"


def test_euler_is_ddim(problem):
    den, x, _ = problem
    sigmas = polynomial(7, SIGMA_MIN, SIGMA_MAX)
    y = x.clone()
    for s, s_next in zip(sigmas[:-1].tolist(), sigmas[1:].tolist()):
        y = (s_next / s) * y + (1 - s_next / s) * den(y, s)              # DDIM in EDM form
    euler = solvers.sample_euler(den, x, sigmas)
    for other in (y, solvers.sample_dpmpp(den, x, sigmas, order=1), solvers.sample_deis(den, x, sigmas, order=1)):
        torch.testing.assert_close(euler, other, rtol=1e-12, atol=1e-12)


def test_ipndm_variable_step_reduces_to_fixed_on_uniform_grid(problem):
    den, x, _ = problem
    sigmas = torch.linspace(SIGMA_MAX, 0.1, 13, dtype=torch.float64)
    for order in (2, 3, 4):
        torch.testing.assert_close(solvers.sample_ipndm(den, x, sigmas, order=order),
                                   solvers.sample_ipndm(den, x, sigmas, order=order, variable_step=True),
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(solvers.SOLVERS))
def test_nfe(problem, name):
    den, x, _ = problem
    sigmas = polynomial(6, SIGMA_MIN, SIGMA_MAX)
    for afs, saved in ((False, 0), (True, 1)):
        counter = CallCounter(den)
        solvers.solve(counter, name, x, sigmas, afs=afs)
        assert counter.calls == 6 * NFE_PER_STEP[name] - saved


@pytest.mark.parametrize("afs", [False, True])
@pytest.mark.parametrize("name", sorted(solvers.SOLVERS))
def test_callback(problem, name, afs):
    den, x, _ = problem
    sigmas = polynomial(5, SIGMA_MIN, SIGMA_MAX)
    seen = []
    out = solvers.solve(den, name, x, sigmas, callback=seen.append, afs=afs)
    assert [c["i"] for c in seen] == list(range(5))
    assert all(set(c) == {"i", "x", "sigma", "sigma_next", "denoised"} for c in seen)
    assert [c["sigma"] for c in seen] == sigmas[:-1].tolist()
    assert [c["sigma_next"] for c in seen] == sigmas[1:].tolist()
    assert all(isinstance(c["sigma"], float) for c in seen)
    assert torch.equal(seen[0]["x"], x) and not torch.equal(seen[-1]["x"], out)
    for c in seen:
        s, xi = c["sigma"], c["x"]
        if afs and c["i"] == 0:
            expected = xi - s * xi / math.sqrt(1 + s ** 2)
        elif name == "unipc" and c["i"] > 0:
            continue        # UniPC reuses the evaluation at its predictor point, not at x_i
        else:
            expected = den(xi, s)
        torch.testing.assert_close(c["denoised"], expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", sorted(solvers.SOLVERS))
def test_deterministic_and_dtype(problem, name):
    den, x, _ = problem
    sigmas = polynomial(5, SIGMA_MIN, SIGMA_MAX)
    assert torch.equal(solvers.solve(den, name, x, sigmas), solvers.solve(den, name, x, sigmas))
    out32 = solvers.solve(den, name, x.float(), sigmas, progress=True)
    assert out32.dtype == torch.float32 and torch.isfinite(out32).all()


@pytest.mark.parametrize("sigmas", [[0.1, 1.0, 10.0], [10.0, 1.0, 0.0], [10.0], [10.0, 10.0, 1.0]],
                         ids=["increasing", "zero", "one-element", "repeated"])
def test_bad_sigmas(problem, sigmas):
    den, x, _ = problem
    for sampler in solvers.SOLVERS.values():
        with pytest.raises(ValueError, match="sigmas"):
            sampler(den, x, torch.tensor(sigmas, dtype=torch.float64))


def test_bad_x(problem):
    den, _, _ = problem
    with pytest.raises(TypeError, match="floating"):
        solvers.sample_euler(den, torch.zeros(2, 3, dtype=torch.int64), polynomial(3, SIGMA_MIN, SIGMA_MAX))


def test_unknown_solver_and_option(problem):
    den, x, _ = problem
    sigmas = polynomial(3, SIGMA_MIN, SIGMA_MAX)
    with pytest.raises(ValueError, match="dpmpp.*euler|euler.*dpmpp"):
        solvers.solve(den, "rk45", x, sigmas)
    for name in solvers.SOLVERS:
        with pytest.raises(TypeError, match="churn"):
            solvers.solve(den, name, x, sigmas, churn=0.5)


@pytest.mark.parametrize("name,allowed", [("dpmpp", "(1, 2, 3)"), ("unipc", "(1, 2, 3)"),
                                          ("ipndm", "(1, 2, 3, 4)"), ("deis", "(1, 2, 3, 4)")])
def test_bad_order(problem, name, allowed):
    den, x, _ = problem
    for order in (0, 5, 2.5, True):
        with pytest.raises(ValueError, match=re.escape(f"order must be one of {allowed}")):
            solvers.solve(den, name, x, polynomial(3, SIGMA_MIN, SIGMA_MAX), order=order)


@pytest.mark.parametrize("name", sorted(solvers.SOLVERS))
def test_nan_names_step_and_sigma(problem, name):
    den, x, _ = problem
    sigmas = polynomial(8, SIGMA_MIN, SIGMA_MAX)
    bad = float(sigmas[4])
    # NaN from the first evaluation at or below sigmas[4]; step 3 reaches it first for every solver
    # except that 1-stage one-step/multistep solvers evaluate there at the start of step 4 (UniPC's
    # corrector evaluates at sigma_next, i.e. in step 3, as do Heun's correction).
    nan_den = lambda y, s: den(y, s) * (float("nan") if bool((s <= bad).all()) else 1.0)
    step = {"heun": 3, "unipc": 3}.get(name, 4)
    with pytest.raises(FloatingPointError, match=rf"step {step} \(sigma={bad:.6g}\)"):
        solvers.solve(nan_den, name, x, sigmas)
    with pytest.raises(FloatingPointError, match="step 0"):
        solvers.solve(lambda y, s: den(y, s) * float("inf"), name, x, sigmas)


def test_solver_info_matches_the_solvers():
    """SOLVER_INFO (the registry's metadata) says what the solvers do: NFE per step and their order option."""
    import inspect

    from gitscore.denoisers import CallCounter, GaussianDenoiser
    from gitscore.solvers import MULTISTEP, SOLVER_INFO, SOLVERS, calls_per_step

    assert set(SOLVER_INFO) == set(SOLVERS)
    gauss = GaussianDenoiser(torch.zeros(2), torch.tensor([0.5, 2.0]))
    x = 80 * torch.randn(3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for name, info in SOLVER_INFO.items():
        for afs in (False, True):
            D = CallCounter(gauss)
            SOLVERS[name](D, x, polynomial(5), afs=afs)
            assert D.calls == 5 * calls_per_step(name) - afs, name
        params = inspect.signature(SOLVERS[name]).parameters
        assert ("order" in params) == (name in MULTISTEP) == bool(info.orders), name
        if info.orders:
            assert params["order"].default == info.order and max(info.orders) >= info.order
            for order in info.orders:
                SOLVERS[name](gauss, x, polynomial(5), order=order)
            with pytest.raises(ValueError, match="order must be one of"):
                SOLVERS[name](gauss, x, polynomial(5), order=max(info.orders) + 1)
    with pytest.raises(ValueError, match="solver must be one of"):
        calls_per_step("rk4")
