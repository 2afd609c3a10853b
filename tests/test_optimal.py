"""Oracle schedules and refined GITS: differentiable solvers against gitscore.solvers, gradients against finite
differences, the oracle against brute force, never worse than its start, the search equal to GITS with options off."""
import math

import numpy as np
import pytest
import torch

from gitscore import gits, optimal, solvers
from gitscore.denoisers import CallCounter, DifferentiableKDE, GaussianDenoiser, KDEDenoiser
from gitscore.schedules import logsnr, polynomial, time_uniform

VARS = torch.tensor([0.01, 0.3, 4.0])  # anisotropic Gaussian: no schedule makes every coordinate exact


def gaussian():
    return GaussianDenoiser(torch.zeros(3), VARS)


def latents(n, dtype=torch.float64, seed=0):
    return 80.0 * torch.randn(n, 3, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def exact(x_T, sigma_min=0.002, sigma_max=80.0):
    """PF-ODE solution of N(0, diag(VARS)): each coordinate scales by sqrt((v + s_min^2) / (v + s_max^2))."""
    return x_T * ((VARS + sigma_min ** 2) / (VARS + sigma_max ** 2)).sqrt().to(x_T.dtype)


# ---- differentiable solvers ----

@pytest.mark.parametrize("solver", optimal.DIFFERENTIABLE)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("n", [1, 2, 5, 9])
def test_sample_equals_library_solver(solver, dtype, n):
    D = gaussian()
    x = latents(4, dtype)
    for sigmas in (polynomial(n), logsnr(n), time_uniform(n)):
        ours = solvers.solve_differentiable(D, solver, x, sigmas)
        ref = solvers.SOLVERS[solver](D, x, sigmas)
        tol = 1e-12 if dtype == torch.float64 else 1e-6
        assert ours.dtype == ref.dtype
        torch.testing.assert_close(ours, ref, rtol=tol, atol=tol * float(ref.abs().max()))


@pytest.mark.parametrize("solver,options", [("ipndm", {"order": 2}), ("dpmpp", {"order": 2}),
                                            ("dpmpp", {"lower_order_final": False})])
def test_sample_options_equal_library(solver, options):
    D, x, sigmas = gaussian(), latents(3), polynomial(6)
    torch.testing.assert_close(solvers.solve_differentiable(D, solver, x, sigmas, **options),
                               solvers.SOLVERS[solver](D, x, sigmas, **options), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("solver", optimal.DIFFERENTIABLE)
def test_gradient_matches_finite_differences(solver):
    D, x = gaussian(), latents(5)
    target = exact(x)
    logits = optimal.to_logits(polynomial(4)) + torch.tensor([0.1, -0.2, 0.05, 0.0], dtype=torch.float64)

    def loss(z):
        s = optimal.from_logits(z, 80.0, 0.002)
        return optimal.rmse_per_sample(solvers.solve_differentiable(D, solver, x, s), target).mean()

    z = logits.clone().requires_grad_(True)
    loss(z).backward()
    h = 1e-6
    fd = torch.stack([(loss(logits + h * e) - loss(logits - h * e)) / (2 * h)
                      for e in torch.eye(4, dtype=torch.float64)])
    torch.testing.assert_close(z.grad, fd, rtol=1e-5, atol=1e-8)


def test_logits_round_trip_and_monotone():
    s = polynomial(7)
    back = optimal.from_logits(optimal.to_logits(s), 80.0, 0.002)
    torch.testing.assert_close(back, s, rtol=1e-12, atol=0)
    z = torch.randn(6, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 3
    t = optimal.from_logits(z, 80.0, 0.002)
    assert t[0].item() == 80.0 and t[-1].item() == 0.002 and bool((t[1:] < t[:-1]).all())


def test_sample_rejects_bad_input():
    with pytest.raises(ValueError, match="solver"):
        solvers.solve_differentiable(gaussian(), "heun", latents(2), polynomial(3))
    with pytest.raises(ValueError, match="increasing|decreasing"):
        solvers.solve_differentiable(gaussian(), "euler", latents(2), polynomial(3).flip(0))


# ---- differentiable KDE ----

@pytest.mark.parametrize("sigma", [0.002, 0.05, 0.5, 3.0, 80.0])
def test_softmax_kde_equals_kde(sigma):
    g = torch.Generator().manual_seed(0)
    data = torch.rand(300, 1, 4, 4, generator=g, dtype=torch.float64) * 2 - 1
    x = data[:5] + sigma * torch.randn(5, 1, 4, 4, generator=g, dtype=torch.float64)
    ours = DifferentiableKDE(data)(x, sigma)
    ref = KDEDenoiser(data, device="cpu", dtype=torch.float64, block_size=64)(x, sigma)
    torch.testing.assert_close(ours, ref, rtol=1e-9, atol=1e-9)


def test_softmax_kde_is_differentiable_in_sigma_and_x():
    data = torch.rand(50, 6, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    kde = DifferentiableKDE(data)
    x = torch.rand(3, 6, dtype=torch.float64, requires_grad=True)
    s = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, s: kde(x, s), (x, s))


# ---- the oracle ----

def brute_force_two_steps(solver, x, target, n=4001):
    """Min over the single interior sigma of a 2-step schedule, on a fine grid in ln sigma."""
    u = np.linspace(math.log(0.002), math.log(80.0), n + 2)[1:-1]
    errs = [optimal.end_to_end_error(gaussian(), solver, x, target, torch.tensor([80.0, math.exp(v), 0.002],
                                     dtype=torch.float64)).mean().item() for v in u]
    return min(errs)


@pytest.mark.parametrize("solver", ["euler", "dpmpp"])
def test_oracle_reaches_brute_force_optimum(solver):
    x = latents(32)
    target = exact(x)
    res = optimal.oracle(gaussian(), solver, x, target, polynomial(2), iters=300, lr=0.05)
    best = brute_force_two_steps(solver, x, target)
    assert res.error <= best * (1 + 1e-3)
    assert res.error < res.start_error


@pytest.mark.parametrize("solver", optimal.DIFFERENTIABLE)
@pytest.mark.parametrize("lr", [0.05, 50.0])  # 50: wild steps; the best iterate still never loses to the start
def test_oracle_never_worse_than_its_start(solver, lr):
    D, x = gaussian(), latents(16, torch.float32)
    target = exact(x.double()).float()
    starts = {"polynomial": polynomial(5), "logsnr": logsnr(5), "time_uniform": time_uniform(5)}
    res = optimal.oracle(D, solver, x, target, starts, iters=10, lr=lr)
    start_errors = {k: optimal.end_to_end_error(D, solver, x, target, s).mean().item() for k, s in starts.items()}
    assert res.start_name == min(start_errors, key=start_errors.get)
    assert res.start_error == start_errors[res.start_name]
    # Checked by the library solver, not the differentiable one.
    assert optimal.end_to_end_error(D, solver, x, target, res.sigmas).mean().item() <= min(start_errors.values())
    assert res.sigmas[0] == 80.0 and res.sigmas[-1] == 0.002 and bool((res.sigmas[1:] < res.sigmas[:-1]).all())
    assert res.calls >= 5 * len(res.history) and len(res.history) <= 11


def test_oracle_rejects_bad_input():
    x = latents(2)
    with pytest.raises(ValueError, match="solver"):
        optimal.oracle(gaussian(), "unipc", x, x, polynomial(3))
    with pytest.raises(ValueError, match="iters"):
        optimal.oracle(gaussian(), "euler", x, x, polynomial(3), iters=-1)
    with pytest.raises(ValueError, match="lr"):
        optimal.oracle(gaussian(), "euler", x, x, polynomial(3), lr=0)
    with pytest.raises(TypeError, match="start"):
        optimal.oracle(gaussian(), "euler", x, x, [80.0, 1.0, 0.002])


# ---- refined GITS search ----

SEARCH = dict(n_warmup=24, grid=gits.teacher_grid(21), batch_size=8, seed=3)


@pytest.mark.parametrize("n_steps", [2, 4, 6])
@pytest.mark.parametrize("metric,coeff", [("dev", 1.15), ("l2", 0.9)])
def test_search_with_options_off_is_gits(n_steps, metric, coeff):
    D = gaussian()
    ours = optimal.refine(D, (3,), n_steps, metric=metric, coeff=coeff, **SEARCH)
    ref = gits.search(D, (3,), n_steps, metric=metric, coeff=coeff, **SEARCH)
    assert torch.equal(ours.sigmas, ref) and torch.equal(ours.gits_sigmas, ref)
    assert ours.tune_error is None
    # Cost: the warm-up only, one call per teacher step per batch.
    assert ours.calls == (len(SEARCH["grid"]) - 1) * math.ceil(SEARCH["n_warmup"] / SEARCH["batch_size"])


@pytest.mark.parametrize("solver", ["euler", "ipndm", "unipc"])
def test_search_tuning_never_worse_on_its_objective(solver):
    D = gaussian()
    res = optimal.refine(D, (3,), 4, solver=solver, coeffs=(0.8, 1.0, 1.3), sweeps=1, n_tune=16, **SEARCH)
    assert res.tune_error <= res.gits_tune_error
    torch.testing.assert_close(res.gits_sigmas, gits.search(D, (3,), 4, **SEARCH), rtol=0, atol=0)
    # The reported objective is the solver's error against the teacher's end states on the first 16 latents.
    w = gits.warmup(D, (3,), 24, grid=SEARCH["grid"], batch_size=8, seed=3)
    again = optimal.end_to_end_error(D, solver, w.xs[0, :16], w.xs[-1, :16], res.sigmas).mean().item()
    assert again == pytest.approx(res.tune_error, rel=1e-12)
    assert bool((res.sigmas[1:] < res.sigmas[:-1]).all()) and res.sigmas[0] == 80.0 and res.sigmas[-1] == 0.002


def test_coordinate_descent_finds_two_step_optimum():
    """One sweep on a 2-step schedule is a 1-D bounded minimisation: it must match brute force on its objective."""
    D = gaussian()
    res = optimal.refine(D, (3,), 2, solver="euler", sweeps=1, max_evals=60, n_tune=24, **SEARCH)
    w = gits.warmup(D, (3,), 24, grid=SEARCH["grid"], batch_size=8, seed=3)
    best = brute_force_two_steps("euler", w.xs[0], w.xs[-1], n=4001)
    assert res.tune_error <= best * (1 + 1e-3)


def test_search_rejects_bad_input():
    with pytest.raises(ValueError, match="solver"):
        optimal.refine(gaussian(), (3,), 3, solver="rk4", **SEARCH)
    with pytest.raises(ValueError, match="coeff"):
        optimal.refine(gaussian(), (3,), 3, coeffs=(1.0, -1.0), **SEARCH)
    with pytest.raises(ValueError, match="sweeps"):
        optimal.refine(gaussian(), (3,), 3, sweeps=-1, **SEARCH)
    with pytest.raises(ValueError, match="n_tune"):
        optimal.refine(gaussian(), (3,), 3, n_tune=25, sweeps=1, **SEARCH)




def test_method_search_gits_refine_oracle():
    D, kw = gaussian(), dict(n_warmup=16, grid=gits.teacher_grid(21), batch_size=8, seed=2)
    s_gits, info = optimal.method_search("gits", D, (3,), 3, **kw)
    assert torch.equal(s_gits, gits.search(D, (3,), 3, **kw)) and info["method"] == "gits"
    s_ref, info = optimal.method_search("refine", D, (3,), 3, solver="euler", n_tune=8, max_evals=3, **kw)
    assert info["calls"] > (len(kw["grid"]) - 1) * 2
    s_orc, info = optimal.method_search("oracle", D, (3,), 3, solver="euler", iters=5, n_train=8, ref_steps=64,
                                        n_tune=8, max_evals=3, **kw)
    assert info["train_error"] <= info["start_error"]
    assert info["start"] in ("polynomial", "logsnr", "time_uniform", "refine")
    s_sdp, info = optimal.method_search("student_dp", D, (3,), 3, solver="ipndm", n_tune=8, **kw)
    assert info["method"] == "student_dp" and info["calls"] > (len(kw["grid"]) - 1) * 2
    for s in (s_ref, s_orc, s_sdp):
        assert s[0] == 80.0 and s[-1] == 0.002 and bool((s[1:] < s[:-1]).all())
    with pytest.raises(ValueError, match="solver"):
        optimal.method_search("student_dp", D, (3,), 3, solver="unipc", **kw)
    with pytest.raises(ValueError, match="method"):
        optimal.method_search("ld3", D, (3,), 3, **kw)
    with pytest.raises(ValueError, match="solver"):
        optimal.method_search("oracle", D, (3,), 3, solver="heun", **kw)


def test_oracle_needs_a_differentiable_denoiser():
    data = torch.rand(40, 6, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 2 - 1
    kde = KDEDenoiser(data, device="cpu", dtype=torch.float64)
    x = 80.0 * torch.randn(4, 6, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    ref = solvers.sample_heun(kde, x, polynomial(64))
    with pytest.raises(TypeError, match="differentiable"):
        optimal.oracle(kde, "euler", x, ref, polynomial(3), iters=2)
    soft = optimal.differentiable(kde)
    torch.testing.assert_close(soft(x / 80.0, 0.7), kde(x / 80.0, 0.7), rtol=1e-9, atol=1e-9)
    assert optimal.oracle(soft, "euler", x, ref, polynomial(3), iters=2).error <= \
        optimal.end_to_end_error(kde, "euler", x, ref, polynomial(3)).mean().item()


def test_cli_search_methods(tmp_path, capsys):
    import json
    from gitscore.cli import main, read_schedule
    tiny = ["search", "--model", "gmm-toy", "--steps", "3", "--n-warmup", "16", "--grid-points", "13",
            "--solver", "euler"]
    assert main(tiny + ["--out", str(tmp_path / "g.json")]) == 0
    assert main(tiny + ["--method", "gits", "--out", str(tmp_path / "g2.json")]) == 0
    assert (tmp_path / "g.json").read_bytes() == (tmp_path / "g2.json").read_bytes()
    for method in ("refine", "student_dp", "oracle"):
        path = tmp_path / f"{method}.json"
        assert main(tiny + ["--method", method, "--out", str(path)]) == 0
        doc = json.loads(path.read_text())
        s = read_schedule(path)[0]
        assert doc["method"] == method and doc["solver"] == "euler" and doc["calls"] > 0
        assert len(s) == 4 and s[0] == 80.0 and s[-1] == 0.002 and bool((s[1:] < s[:-1]).all())
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(tiny + ["--method", "no-such-method"])


def test_search_reuses_a_warmup():
    D = gaussian()
    w = gits.warmup(D, (3,), SEARCH["n_warmup"], grid=SEARCH["grid"], batch_size=8, seed=3)
    full = optimal.refine(D, (3,), 4, solver="ipndm", coeffs=(0.9,), sweeps=1, n_tune=8, max_evals=3, **SEARCH)
    again = optimal.refine(D, (3,), 4, solver="ipndm", coeffs=(0.9,), sweeps=1, n_tune=8, max_evals=3, warm=w,
                                **SEARCH)
    assert torch.equal(full.sigmas, again.sigmas)
    assert full.samples - again.samples == SEARCH["n_warmup"] * (len(SEARCH["grid"]) - 1)
    with pytest.raises(ValueError, match="warm"):
        optimal.refine(D, (3,), 4, warm=w, **dict(SEARCH, n_warmup=16))


# ---- the student-state DP ----

GRID9 = gits.teacher_grid(9)


def warm9(teacher="ipndm", n=12):
    return gits.warmup(gaussian(), (3,), n, grid=GRID9, teacher=teacher, batch_size=5, seed=4, dtype=torch.float64)


def recursion(solver, xs, K, options):
    """The DP's definition, spelled out with the library solver: the best k-step path to j extends the best
    (k-1)-step path to the i < j whose solver run (on the whole extended path) lands closest to xs[j]."""
    M = len(GRID9)
    err = lambda path: optimal.end_to_end_error(gaussian(), solver, xs[0], xs[path[-1]], GRID9[path],
                                                **options).mean().item()
    best = {0: [0]}
    for k in range(1, K + 1):
        targets = range(k, M - K + k) if k < K else [M - 1]
        best = {j: min((best[i] + [j] for i in best if i < j), key=err) for j in targets}
    return best[M - 1]


@pytest.mark.parametrize("solver,options", [("euler", {}), ("ipndm", {}), ("ipndm", {"order": 2}),
                                            ("dpmpp", {"lower_order_final": False})])
@pytest.mark.parametrize("K", [1, 3, 4])
def test_student_dp_is_its_recursion(solver, options, K):
    xs = warm9().xs
    idx, error = optimal.student_dp(gaussian(), xs, GRID9, K, solver=solver, options=options)
    assert idx == recursion(solver, xs, K, options)


@pytest.mark.parametrize("solver", optimal.STUDENT)
@pytest.mark.parametrize("K", [1, 2, 3, 5, 8])
def test_student_dp_error_is_the_solvers_own(solver, K):
    """The state carried along the path (with its multistep history, and DPM-Solver++'s lower order on the last
    steps of K) is the library solver's: the DP's final error is the end-to-end error of its schedule."""
    xs = warm9().xs
    idx, error = optimal.student_dp(gaussian(), xs, GRID9, K, solver=solver)
    assert len(idx) == K + 1 and idx[0] == 0 and idx[-1] == 8 and all(np.diff(idx) > 0)
    e2e = optimal.end_to_end_error(gaussian(), solver, xs[0], xs[-1], GRID9[idx]).mean().item()
    assert error == pytest.approx(e2e, rel=1e-12)


@pytest.mark.parametrize("solver", optimal.STUDENT)
def test_student_dp_two_steps_is_exhaustive(solver):
    """With two steps the state after step one is unique per grid point, so the DP is the brute-force optimum."""
    xs = warm9().xs
    idx, error = optimal.student_dp(gaussian(), xs, GRID9, 2, solver=solver)
    brute = {i: optimal.end_to_end_error(gaussian(), solver, xs[0], xs[-1], GRID9[[0, i, 8]]).mean().item()
             for i in range(1, 8)}
    assert idx[1] == min(brute, key=brute.get) and error == pytest.approx(min(brute.values()), rel=1e-12)


@pytest.mark.parametrize("solver", ["euler", "ipndm"])
def test_student_dp_on_the_teachers_own_grid_is_exact(solver):
    """Teacher = student solver and K = M-1: the student walks the teacher's path, so it ends on its state."""
    xs = warm9(teacher=solver).xs
    idx, error = optimal.student_dp(gaussian(), xs, GRID9, 8, solver=solver)
    assert idx == list(range(9)) and error < 1e-12


def test_student_dp_cost_and_batching():
    xs, K, M, n = warm9().xs, 3, 9, 12
    counts = []
    for batch_size in (7, 1000):
        counter = CallCounter(gaussian())
        res = optimal.student_dp(counter, xs, GRID9, K, solver="ipndm", batch_size=batch_size)
        counts.append((res, counter.samples, counter.calls))
    # One evaluation per sample per source point: 1 at level 0, M - K at the levels between.
    assert counts[0][1] == counts[1][1] == n * (1 + (K - 1) * (M - K))
    assert counts[0][0][0] == counts[1][0][0] and counts[0][0][1] == pytest.approx(counts[1][0][1], rel=1e-12)
    assert counts[0][2] > counts[1][2] == K


def test_search_with_student_dp_never_worse_than_gits():
    D = gaussian()
    for solver in optimal.STUDENT:
        res = optimal.refine(D, (3,), 4, solver=solver, student=True, n_tune=16, **SEARCH)
        assert res.tune_error <= res.gits_tune_error
        w = gits.warmup(D, (3,), 24, grid=SEARCH["grid"], batch_size=8, seed=3)
        idx, err = optimal.student_dp(D, w.xs[:, :16], SEARCH["grid"], 4, solver=solver)
        assert torch.equal(res.student_sigmas, SEARCH["grid"][idx])
        assert res.tune_error == pytest.approx(min(err, res.gits_tune_error), rel=1e-4)  # float32 warm-up
    with pytest.raises(ValueError, match="student"):
        optimal.refine(D, (3,), 4, solver="heun", student=True, **SEARCH)


def test_student_dp_rejects_bad_input():
    xs = warm9().xs
    with pytest.raises(ValueError, match="solver"):
        optimal.student_dp(gaussian(), xs, GRID9, 3, solver="unipc")
    with pytest.raises(ValueError, match="xs"):
        optimal.student_dp(gaussian(), xs[:-1], GRID9, 3)
    with pytest.raises(ValueError, match="n_steps"):
        optimal.student_dp(gaussian(), xs, GRID9, 9)


def test_scipy_is_needed_only_for_coordinate_sweeps(monkeypatch):
    # The core imports and runs without scipy; the sweeps say how to get it.
    import subprocess
    import sys

    code = ("import sys; sys.modules['scipy'] = None\n"
            "import gitscore, gitscore.optimal, gitscore.bench, gitscore.cli, gitscore.metrics, gitscore.export\n"
            "print('ok')")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "ok"
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    with pytest.raises(ImportError, match=r"sweeps > 0 needs scipy.*pip install scipy"):
        optimal._coordinate_descent(lambda s: 0.0, torch.tensor([80.0, 1.0, 0.002], dtype=torch.float64), 1, 4)
