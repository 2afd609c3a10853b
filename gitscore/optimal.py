"""Beyond GITS: the oracle schedule (the limit) and searches that refine GITS towards it.

- `oracle`: the schedule that minimises the end-to-end error (per-sample RMSE against a converged ODE
  solution, `metrics.rmse_per_sample`) on training latents, by Adam through a differentiable solver on a
  monotone parametrisation of the log sigmas (as LD3, Tong et al. 2025, does): positive increments
  softmax(logits) * (ln sigma_max - ln sigma_min), endpoints fixed. Best iterate kept, never worse than
  its start on its training latents.
- `refine`: GITS's warm-up and DP, then optionally (coeffs) the DP weight chosen on the
  warm-up latents by the target solver's end-to-end error against the teacher's final states, and
  (sweeps) derivative-free coordinate descent on each interior log sigma on the same objective. With
  both off it returns `gits.search`'s schedule exactly.
- `student_dp`: the student-state DP of Optimal Stepsize Distillation (Pei et al. 2025): a DP over the
  teacher grid that carries the target solver's own state (and multistep history) along each best path
  and scores a jump from that state, not from the teacher's (refine(student=True)).
- `method_search`: one entry per method for the CLI and the scripts.

Every search here takes GITS's settings as a `gits.SearchConfig` (or its field names as keywords) plus its
own few settings; the steps are gitscore.solvers' (`solve_differentiable`, `euler_step`, `ipndm_step`,
`dpmpp_update`) and the differentiable KDE is gitscore.denoisers' (`KDEDenoiser.differentiable`).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from tqdm import trange

from . import gits
from .checks import check_choice, check_int, check_positive
from .denoisers import CallCounter
from .gits import SearchConfig, search_config
from .metrics import rmse_per_sample
from .sampling import default_device, latents
from .schedules import check_sigmas
from .solvers import DIFFERENTIABLE, SOLVERS, dpmpp_update, euler_step, ipndm_step, multistep_order, \
    solve_differentiable

__all__ = ["DIFFERENTIABLE", "STUDENT", "METHODS", "COEFFS", "to_logits", "from_logits", "differentiable",
           "OracleResult", "oracle", "method_search",
           "end_to_end_error", "RefineResult", "refine", "student_dp"]


def _check_solver(solver, allowed):
    check_choice("solver", solver, allowed)


# ---------------------------------------------------------------- monotone parametrisation

def to_logits(sigmas) -> torch.Tensor:
    """Logits whose softmax gives the schedule's increments of -ln sigma as fractions of the total."""
    s = check_sigmas(sigmas).to(torch.float64)
    return (s[:-1].log() - s[1:].log()).log()


def from_logits(logits: torch.Tensor, sigma_max: float, sigma_min: float) -> torch.Tensor:
    """Schedule of len(logits) steps from sigma_max to sigma_min, exactly, with ln-increments softmax(logits)."""
    lmax, lmin = math.log(sigma_max), math.log(sigma_min)
    inc = torch.softmax(logits, 0) * (lmax - lmin)
    interior = (lmax - torch.cumsum(inc, 0)[:-1]).exp()
    return torch.cat([logits.new_tensor([sigma_max]), interior, logits.new_tensor([sigma_min])])


# ---------------------------------------------------------------- the oracle

@dataclass
class OracleResult:
    """An oracle schedule and how it was found."""
    sigmas: torch.Tensor        # (n+1,) float64, the best iterate (the start if nothing beat it)
    start: torch.Tensor         # the starting schedule
    start_name: str             # its name among the candidates
    error: float                # mean RMSE of `sigmas` on the training latents (gitscore.solvers)
    start_error: float          # the same for `start`
    history: list               # training loss of every iterate (differentiable solver)
    calls: int                  # denoiser calls (forward), backward passes not counted
    samples: int                # the same in evaluations of single samples
    seconds: float


def end_to_end_error(denoiser, solver: str, x_T, x_ref, sigmas, **options) -> torch.Tensor:
    """Per-sample RMSE (metrics.rmse_per_sample) of `solver` from x_T on `sigmas` against x_ref."""
    return rmse_per_sample(SOLVERS[solver](denoiser, x_T, sigmas, **options), x_ref)


def _candidates(start):
    if torch.is_tensor(start):
        return {"start": start}
    if isinstance(start, dict) and start and all(torch.is_tensor(v) for v in start.values()):
        return start
    raise TypeError("start must be a schedule tensor or a non-empty dict {name: schedule tensor}")


def oracle(denoiser, solver: str, x_T: torch.Tensor, x_ref: torch.Tensor, start, *, iters: int = 50,
           lr: float = 0.05, options: dict | None = None, progress: bool = False) -> OracleResult:
    """Schedule minimising the mean RMSE against x_ref of `solver` from the latents x_T (at sigma_max), by Adam.

    `start`: a schedule, or {name: schedule} of which the best on (x_T, x_ref) is the start; all must share
    the endpoints. Parameters: to_logits(start); each iteration runs `sample` and steps Adam on the mean
    RMSE, its rate annealed (cosine) from lr to lr / 20; the best iterate (by the differentiable solver)
    is compared with the start once more by `gitscore.solvers`, so the result is never worse than the
    start on these latents.
    """
    _check_solver(solver, DIFFERENTIABLE)
    check_int("iters", iters, 0)
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if x_T.shape != x_ref.shape:
        raise ValueError(f"x_T and x_ref must have the same shape, got {tuple(x_T.shape)} and {tuple(x_ref.shape)}")
    options, counter, t0 = dict(options or {}), CallCounter(denoiser), time.perf_counter()
    err = lambda s: float(end_to_end_error(counter, solver, x_T, x_ref, s, **options).mean())
    cands = {k: check_sigmas(v).to(torch.float64) for k, v in _candidates(start).items()}
    errors = {k: err(s) for k, s in cands.items()}
    start_name = min(errors, key=errors.get)
    s0 = cands[start_name]
    smax, smin = float(s0[0]), float(s0[-1])

    probe = torch.tensor(smax, dtype=torch.float64, requires_grad=True)
    if iters and not denoiser(x_T[:1], probe).requires_grad:
        raise TypeError("denoiser must be differentiable in x and sigma (a KDEDenoiser is not: "
                        "pass optimal.differentiable(kde))")
    logits = to_logits(s0).requires_grad_(True)
    opt = torch.optim.Adam([logits], lr=lr)
    decay = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(iters, 1), eta_min=lr / 20)
    best, best_loss, history = s0, math.inf, []
    for it in trange(iters + 1, desc=f"oracle {solver} {len(s0) - 1} steps", disable=not progress):
        sigmas = from_logits(logits, smax, smin)
        if not bool((sigmas[1:] < sigmas[:-1]).all()):  # increments underflowed: the optimiser has run away
            break
        with torch.set_grad_enabled(it < iters):
            loss = rmse_per_sample(solve_differentiable(counter, solver, x_T, sigmas, **options), x_ref).mean()
        if not torch.isfinite(loss):
            break
        history.append(loss.item())
        if history[-1] < best_loss:
            best, best_loss = sigmas.detach().clone(), history[-1]
        if it < iters:
            opt.zero_grad()
            loss.backward()
            opt.step()
            decay.step()
    best_error = err(best) if best is not s0 else errors[start_name]
    if not best_error < errors[start_name]:
        best, best_error = s0, errors[start_name]
    return OracleResult(sigmas=best, start=s0, start_name=start_name, error=best_error,
                        start_error=errors[start_name], history=history, calls=counter.calls, samples=counter.samples,
                        seconds=time.perf_counter() - t0)


# ---------------------------------------------------------------- GITS, then tuned on the warm-up

@dataclass
class RefineResult:
    """A refined GITS search: the schedule, GITS's own, and the costs of both parts."""
    sigmas: torch.Tensor        # (n+1,) float64 schedule found
    gits_sigmas: torch.Tensor   # GITS's schedule (DP at the given coeff), = gits.search's
    coeff: float                # DP weight of the schedule the sweeps started from
    tune_error: float | None    # mean RMSE of `sigmas` on the tuning latents vs the teacher's end states
    gits_tune_error: float | None  # the same for gits_sigmas (None when nothing was tuned)
    calls: int                  # denoiser calls (batches), warm-up included unless it was passed in
    samples: int                # denoiser evaluations of single samples, the same way
    seconds: float              # wall time, warm-up included
    timings: dict = field(default_factory=dict)  # seconds: warmup, cost, student, coeff, sweeps
    student_sigmas: torch.Tensor | None = None   # the student-state DP's schedule (student=True), before the choice


def _coordinate_descent(f, sigmas, sweeps, max_evals):
    """Minimise f(sigmas) over each interior ln sigma_i in turn (bounded Brent within its neighbours),
    `sweeps` times."""
    try:
        from scipy.optimize import minimize_scalar
    except ImportError:
        raise ImportError("sweeps > 0 needs scipy (bounded Brent search per sigma), a dependency of gitscore that "
                          "this environment lacks: pip install scipy") from None

    s, best = sigmas.clone(), f(sigmas)
    for _ in range(sweeps):
        for i in range(1, len(s) - 1):
            a, b = math.log(float(s[i + 1])), math.log(float(s[i - 1]))
            margin = 1e-3 * (b - a)

            def g(u, i=i):
                trial = s.clone()
                trial[i] = math.exp(u)
                return f(trial)

            r = minimize_scalar(g, bounds=(a + margin, b - margin), method="bounded",
                                options={"maxiter": max_evals, "xatol": 1e-3 * (b - a)})
            if r.fun < best:
                s[i], best = math.exp(r.x), float(r.fun)
    return s, best


def refine(denoiser, shape, n_steps: int, config: SearchConfig | None = None, *, solver: str = "ipndm",
           coeffs=(), sweeps: int = 0, student: bool = False, n_tune: int | None = None, max_evals: int = 8,
           solver_options: dict | None = None, device=None, progress: bool = False,
           warm: gits.Warmup | None = None, **settings) -> RefineResult:
    """GITS (warm-up, cost matrix, DP; see gits.search_info, whose `config` / `settings` this takes), then tuned
    for `solver` on the warm-up itself.

    The objective of the tuning is the end-to-end error of `solver` from the first n_tune (default: up to 64)
    warm-up latents against the teacher's final states (no extra reference solutions). `coeffs`: other DP
    weights to try besides the config's coeff, the best kept; `student`: the student-state DP (`student_dp`,
    on the same n_tune latents and the teacher's states at every grid point) adds its schedule to those
    candidates; `sweeps`: rounds of coordinate descent on each interior ln sigma (bounded Brent, at most
    max_evals solves per coordinate; accepted only when it lowers the objective). GITS's own schedule is
    always a candidate and wins ties, so the result is never worse than GITS on the objective. With coeffs=(),
    student=False and sweeps=0 the result is gits.search's schedule, exactly. `warm`: a warm-up already run
    with these settings (gits.warmup_for), reused (its cost then is not counted in calls / samples).
    """
    config = search_config(config, **settings)
    coeff, n_warmup = config.coeff, config.n_warmup
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {sorted(SOLVERS)}, got {solver!r}")
    coeffs = [check_positive("coeffs", c) for c in coeffs]
    sweeps = check_int("sweeps", sweeps, 0)
    n_tune = min(n_warmup, 64) if n_tune is None else check_int("n_tune", n_tune, 1, n_warmup)
    max_evals = check_int("max_evals", max_evals, 1)
    grid = config.teacher_grid(denoiser)
    check_int("n_steps", n_steps, 1, len(grid) - 1)

    counter, t0 = CallCounter(denoiser), time.perf_counter()
    if warm is not None and (warm.xs.shape[:2] != (len(grid), n_warmup) or not torch.equal(warm.sigmas, grid)):
        raise ValueError(f"warm must be a warm-up of n_warmup={n_warmup} trajectories on `grid`, got xs of shape "
                         f"{tuple(warm.xs.shape)}")
    w = warm if warm is not None else gits.warmup_for(
        counter, shape, config.replace(grid=grid),
        device=device if device is not None else default_device(denoiser), progress=progress)
    t1 = time.perf_counter()
    g = gits.from_warmup(w, n_steps, metric=config.metric, coeff=coeff)
    gits_sigmas = g.sigmas
    t2 = time.perf_counter()
    timings = {"warmup": w.seconds, "cost": t2 - t1}
    if student and solver not in STUDENT:
        raise ValueError(f"student=True needs solver in {list(STUDENT)}, got {solver!r}")
    if not coeffs and not sweeps and not student:
        return RefineResult(gits_sigmas, gits_sigmas, coeff, None, None, counter.calls, counter.samples,
                            time.perf_counter() - t0, timings)

    x_T, target, options = w.xs[0, :n_tune], w.xs[-1, :n_tune], dict(solver_options or {})
    f = lambda s: float(end_to_end_error(counter, solver, x_T, target, s, **options).mean())
    student_sigmas = None
    if student:
        idx, _ = student_dp(counter, w.xs[:, :n_tune], grid, n_steps, solver=solver, options=options,
                            batch_size=config.batch_size or 256)
        student_sigmas = grid[idx].clone()
        timings["student"] = time.perf_counter() - t2
        t2 = time.perf_counter()
    # The DP weight: GITS's own first, so ties keep it.
    tried = {}
    for c in [coeff, *coeffs]:
        s = g.schedule(n_steps, c)
        key = tuple(s.tolist())
        if key not in tried:
            tried[key] = (f(s), c, s)
    if student and tuple(student_sigmas.tolist()) not in tried:
        tried[tuple(student_sigmas.tolist())] = (f(student_sigmas), coeff, student_sigmas)
    gits_error = tried[tuple(gits_sigmas.tolist())][0]
    best_error, best_coeff, sigmas = min(tried.values(), key=lambda v: v[0])
    t3 = time.perf_counter()
    timings["coeff"] = t3 - t2
    if sweeps:
        sigmas, best_error = _coordinate_descent(f, sigmas, sweeps, max_evals)
        timings["sweeps"] = time.perf_counter() - t3
    return RefineResult(sigmas, gits_sigmas, best_coeff, best_error, gits_error, counter.calls, counter.samples,
                        time.perf_counter() - t0, timings, student_sigmas)


# ---------------------------------------------------------------- the student-state DP (OSD)

STUDENT = ("euler", "ipndm", "dpmpp")   # solvers the student-state DP steps (one denoiser call per step)


@dataclass
class _Student:
    """States of the target solver at the grid points of one DP level, each on its best path."""
    x: torch.Tensor             # (S, n, ...) state at each of the S grid points
    hist: list                  # per point: the solver's history (iPNDM: directions d; DPM-Solver++: denoised)
    lams: list                  # per point: -ln sigma of that history (DPM-Solver++)


def _jumps(solver, x, den, hist, lams, t_cur, t_next, step, n_steps, options):
    """The target solver's step from x at t_cur (denoised den, history hist / lams) to every sigma of t_next.

    t_next: (J, 1, ..., 1) tensor; returns the J candidate states (J, n, ...) and the history after the step.
    """
    if solver == "euler":
        return euler_step(x, (x - den) / t_cur, t_cur, t_next), [], []
    if solver == "ipndm":
        old_d = (hist + [(x - den) / t_cur])[-options.get("order", 4):]
        return ipndm_step(x, old_d, t_cur, t_next), old_d, []
    old_den, old_lam = (hist + [den])[-3:], (lams + [-math.log(t_cur)])[-3:]
    p = multistep_order(step, n_steps, options.get("order", 3), options.get("lower_order_final", True))
    h = torch.log(t_cur / t_next)
    return dpmpp_update(x, old_den, old_lam, t_cur, t_next, h, torch.expm1(-h), p), old_den, old_lam


def _denoise_all(denoiser, X, sigmas, batch_size):
    """D(X[s], sigmas[s]) for every point s of X (S, n, ...), in batches of batch_size samples with per-sample sigma."""
    S, n = X.shape[:2]
    flat = X.reshape(S * n, *X.shape[2:])
    sig = torch.as_tensor(sigmas, dtype=X.dtype, device=X.device).repeat_interleave(n)
    out = torch.cat([denoiser(flat[a:a + batch_size], sig[a:a + batch_size]) for a in range(0, S * n, batch_size)])
    return out.reshape(X.shape)


@torch.no_grad()
def student_dp(denoiser, xs: torch.Tensor, grid, n_steps: int, *, solver: str = "euler", options: dict | None = None,
               batch_size: int = 256) -> tuple[list[int], float]:
    """Student-state DP over the teacher grid (as Optimal Stepsize Distillation, Pei et al. 2025, does).

    xs: (M, n, ...) teacher states on `grid` (a warm-up's xs), xs[0] the latents. Level k holds, for every grid
    point j, the state z_j^k of `solver` after k steps along the best k-step path to j, where best means
    z_j^k = argmin over i < j of e_j(step(z_i^{k-1}, sigma_i -> sigma_j)), e_j(z) the mean over samples of the
    RMSE against xs[j]; the solver's multistep history travels along the path. The last step ends at M-1.
    Each level costs one denoiser call per sample per source point: about n_steps * M * n evaluations.
    Returns (indices of the path into grid, its final mean RMSE against xs[-1]).
    """
    _check_solver(solver, STUDENT)
    grid = check_sigmas(grid).to(torch.float64)
    M, K = len(grid), check_int("n_steps", n_steps, 1, len(grid) - 1)
    if xs.ndim < 3 or xs.shape[0] != M:
        raise ValueError(f"xs must have shape (M={M}, n, ...) on the grid, got {tuple(xs.shape)}")
    batch_size, options = check_int("batch_size", batch_size, 1), dict(options or {})
    t = grid.tolist()
    shape1 = (-1,) + (1,) * (xs.ndim - 1)
    level, points, ptr = _Student(xs[:1].clone(), [[]], [[]]), [0], []
    for k in range(1, K + 1):
        targets = list(range(k, M - K + k)) if k < K else [M - 1]
        den = _denoise_all(denoiser, level.x, [t[i] for i in points], batch_size)
        best = torch.full((len(targets),), math.inf, dtype=torch.float64)
        src, x_new, hist, lams = [-1] * len(targets), torch.empty_like(xs[:len(targets)]), [None] * len(targets), \
            [None] * len(targets)
        for s, i in enumerate(points):
            J = [a for a, j in enumerate(targets) if j > i]
            if not J:
                continue
            t_next = torch.tensor([t[targets[a]] for a in J], dtype=xs.dtype, device=xs.device).reshape(shape1)
            z, h_i, l_i = _jumps(solver, level.x[s], den[s], level.hist[s], level.lams[s], t[i], t_next, k - 1, K,
                                 options)
            ref = xs[[targets[a] for a in J]]
            err = (z.double() - ref.double()).flatten(2).square().mean(2).sqrt().mean(1).cpu()
            for r, a in enumerate(J):
                if err[r] < best[a]:
                    best[a], src[a], x_new[a], hist[a], lams[a] = err[r], i, z[r], h_i, l_i
        ptr.append(dict(zip(targets, src)))
        level, points = _Student(x_new, hist, lams), targets
    path = [M - 1]
    for k in range(K, 0, -1):
        path.append(ptr[k - 1][path[-1]])
    return path[::-1], float(best[0])


# ---------------------------------------------------------------- one entry point per method (CLI)

METHODS = ("gits", "refine", "student_dp", "oracle")
COEFFS = (0.8, 0.9, 1.0, 1.1, 1.2, 1.3)   # DP weights `refine` tries besides GITS's coeff


def differentiable(denoiser):
    """The denoiser itself, or for a KDEDenoiser (no_grad) the same function in autograd ops
    (KDEDenoiser.differentiable)."""
    from .denoisers import KDEDenoiser
    return denoiser.differentiable() if isinstance(denoiser, KDEDenoiser) else denoiser


def method_search(method: str, denoiser, shape, n_steps: int, config: SearchConfig | None = None, *,
                  solver: str = "ipndm", sweeps: int = 1, n_tune: int | None = None, max_evals: int = 8,
                  iters: int = 50, lr: float = 0.05, n_train: int = 32, ref_steps: int = 256, device=None,
                  progress: bool = False, **settings) -> tuple[torch.Tensor, dict]:
    """(sigmas, info) of `method`: gits (gits.search), refine (refine with COEFFS and `sweeps`), student_dp
    (refine with student=True: the student-state DP, or GITS where that is better on the warm-up), or oracle.
    GITS's settings: `config` (gits.SearchConfig) with `settings` (its field names) changed; n_tune, max_evals
    as in refine.

    The oracle trains on n_train latents of the config's seed (after its n_warmup warm-up latents) against
    Heun on ref_steps steps (metrics.reference_solution) from the best of polynomial, logSNR, time-uniform and
    the refined GITS schedule.
    """
    config = search_config(config, **settings)
    from .metrics import reference_solution
    from .schedules import logsnr, polynomial, time_uniform
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    if method in ("oracle", "student_dp"):
        _check_solver(solver, DIFFERENTIABLE if method == "oracle" else STUDENT)
    check_int("ref_steps", ref_steps, 1)
    t0 = time.perf_counter()
    tuned = method in ("refine", "oracle")
    res = refine(denoiser, shape, n_steps, config, solver=solver, coeffs=COEFFS if tuned else (),
                 sweeps=sweeps if tuned else 0, student=method == "student_dp", n_tune=n_tune, max_evals=max_evals,
                 device=device, progress=progress)
    info = dict(method=method, solver=solver, coeff=res.coeff, calls=res.calls)
    if method != "oracle":
        return res.sigmas, dict(info, seconds=time.perf_counter() - t0)
    smin, smax = float(res.sigmas[-1]), float(res.sigmas[0])
    device = default_device(denoiser) if device is None else torch.device(device)
    x_T = smax * latents(shape, config.seed, config.n_warmup, config.n_warmup + check_int("n_train", n_train, 1),
                         config.dtype).to(device)
    counter = CallCounter(denoiser)
    x_ref = reference_solution(counter, x_T, n_steps=ref_steps, sigma_min=smin, sigma_max=smax)
    starts = {"polynomial": polynomial(n_steps, smin, smax), "logsnr": logsnr(n_steps, smin, smax),
              "time_uniform": time_uniform(n_steps, smin, smax), "refine": res.sigmas}
    o = oracle(differentiable(denoiser), solver, x_T, x_ref, starts, iters=iters, lr=lr, progress=progress)
    return o.sigmas, dict(info, start=o.start_name, train_error=o.error, start_error=o.start_error,
                          calls=res.calls + counter.calls + o.calls, seconds=time.perf_counter() - t0)
