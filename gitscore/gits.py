"""GITS (Chen et al. 2024, Sec. 4): warm-up on a fine teacher grid, Euler-jump cost matrix, DP over the grid.

The search is solver-independent: the cost of a step sigma_i -> sigma_j is always one Euler jump from
the teacher trajectory, and any solver then runs on the sigmas found (as in the official gits-main).

`SearchConfig` holds every setting of a search with its default, written once (the official code's);
`search_info` (the one search entry, returning a `GITSResult`) and `search` take one, or its field names
as keywords; the searches beyond GITS (gitscore.optimal) take the same configuration or its warm-up.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from . import dist, sampling
from .checks import check_choice, check_int, check_positive
from .sampling import default_device, latents
from .schedules import SIGMA_MAX, SIGMA_MIN, check_sigmas, polynomial
from .solvers import SOLVERS

__all__ = ["METRICS", "SearchConfig", "search_config", "Warmup", "GITSResult", "teacher_grid", "model_grid", "latents",
           "warmup", "warmup_for", "cost_matrix", "dp", "from_warmup", "search_info", "search", "ABLATIONS",
           "ablations", "INTERACTIVE"]

METRICS = ("dev", "l2", "l1")


@dataclass(frozen=True)
class SearchConfig:
    """Every setting of a GITS search, each default written here once: the official code's (gits-main).

    The CLI, `gitscore bench`, the scripts, the chapters and the searches beyond GITS (gitscore.optimal) build
    one of these (or pass its field names as keywords to `search` / `search_info`) instead of retyping the
    defaults. Validated on construction; `replace(**changes)` gives a changed copy (validated again).
    """
    n_warmup: int = 256                # warm-up trajectories of the teacher (Sec. 4.2)
    grid_points: int = 61              # sigmas of the fine teacher grid (polynomial, rho = grid_rho)
    grid_rho: float = 7.0
    teacher: str = "ipndm"             # solver run on the teacher grid
    teacher_options: dict | None = None  # options of the teacher solver (e.g. {"afs": True})
    metric: str = "dev"                # step cost (METRICS)
    coeff: float = 1.15                # DP weight growth per step
    seed: int = 0                      # seed of the warm-up latents (gitscore.sampling.latents)
    batch_size: int | None = None      # samples per denoiser batch (None: all, at most 256)
    dtype: torch.dtype = torch.float32  # the teacher's state
    grid: torch.Tensor | None = field(default=None, repr=False, compare=False)  # explicit teacher grid, else model_grid

    def __post_init__(self):
        check_int("n_warmup", self.n_warmup, 1)
        check_int("grid_points", self.grid_points, 2)
        check_positive("grid_rho", self.grid_rho)
        check_choice("teacher", self.teacher, SOLVERS)
        check_choice("metric", self.metric, METRICS)
        check_positive("coeff", self.coeff)
        check_int("seed", self.seed, 0)
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, 1)
        if self.teacher_options is not None and not isinstance(self.teacher_options, dict):
            raise TypeError(f"teacher_options must be a dict or None, got {type(self.teacher_options).__name__}")
        if not isinstance(self.dtype, torch.dtype) or not self.dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating torch.dtype, got {self.dtype!r}")
        if self.grid is not None:
            object.__setattr__(self, "grid", check_sigmas(self.grid).to(torch.float64))

    def replace(self, **changes) -> SearchConfig:
        """A copy with `changes` (field names of SearchConfig; TypeError naming an unknown one)."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise TypeError(f"unknown search setting(s) {unknown}; SearchConfig has {sorted(names)}")
        return dataclasses.replace(self, **changes) if changes else self

    def teacher_grid(self, denoiser=None) -> torch.Tensor:
        """The teacher grid of this search: `grid` if given, else model_grid(denoiser, grid_points, grid_rho)
        (EDM's [SIGMA_MIN, SIGMA_MAX] for denoiser None)."""
        if self.grid is not None:
            return self.grid
        if denoiser is None:
            return teacher_grid(self.grid_points, rho=self.grid_rho)
        return model_grid(denoiser, self.grid_points, self.grid_rho)


# The search `gitscore search` and `gitscore sample --schedule gits` run unless told otherwise: the official
# defaults with 64 warm-up trajectories instead of 256, 4x fewer model calls for an interactive command. What that
# changes in the schedule and its reference error is measured by benchmarks/bench_search.py (README, "From the
# shell"); the library, `gitscore bench`, the scripts and the book keep SearchConfig's 256.
INTERACTIVE = SearchConfig(n_warmup=64)


def search_config(config: SearchConfig | None = None, **settings) -> SearchConfig:
    """`config` (default SearchConfig()) with the keyword `settings` changed: the one way every search entry
    turns its arguments into a configuration."""
    if config is not None and not isinstance(config, SearchConfig):
        raise TypeError(f"config must be a SearchConfig or None, got {type(config).__name__}")
    return (config or SearchConfig()).replace(**settings)


@dataclass
class Warmup:
    """Teacher trajectories of the warm-up (Sec. 4.2): states at every grid point and directions."""
    xs: torch.Tensor       # (M, n, *shape) teacher states x_i at grid[i], i = 0 .. M-1
    ds: torch.Tensor       # (M-1, n, *shape) teacher directions d_i = (x_i - D(x_i, sigma_i)) / sigma_i
    sigmas: torch.Tensor   # (M,) float64 teacher grid
    seconds: float         # wall time of the teacher runs


@dataclass
class GITSResult:
    """Outcome of a GITS search. `path` / `schedule(n, coeff)` re-run the DP for other step counts or coeffs;
    with the warm-up kept (search_info(keep_warmup=True)), `with_metric` and `first` derive the search with
    another cost metric or on the first k warm-up trajectories, without new teacher runs."""
    sigmas: torch.Tensor   # (n_steps+1,) float64 schedule = grid[indices]
    indices: list          # indices into the teacher grid, first 0, last M-1
    cost: np.ndarray       # (M, M) float64 cost matrix, +inf where i >= j
    grid: torch.Tensor     # (M,) float64 teacher grid
    timings: dict = field(default_factory=dict)  # seconds: warmup, cost, dp
    metric: str = SearchConfig.metric    # cost metric of `cost`
    coeff: float = SearchConfig.coeff    # DP weight of `indices`
    warmup: Warmup | None = field(default=None, repr=False)  # the teacher trajectories, if kept

    def path(self, n_steps: int, coeff: float | None = None) -> list[int]:
        """Grid indices of the n_steps schedule: dp(cost, n_steps, coeff), coeff defaulting to the search's."""
        return dp(self.cost, n_steps, self.coeff if coeff is None else coeff)

    def schedule(self, n_steps: int, coeff: float | None = None) -> torch.Tensor:
        """Another step count's or coeff's schedule from the same warm-up: grid[path(n_steps, coeff)]."""
        return self.grid[self.path(n_steps, coeff)].clone()

    def with_metric(self, metric: str) -> GITSResult:
        """The same search with cost metric `metric` (one of METRICS), from the kept warm-up (itself if the
        metric is its own)."""
        if metric == self.metric:
            return self
        return from_warmup(self._kept("with_metric"), len(self.indices) - 1, metric=metric, coeff=self.coeff,
                           keep_warmup=True)

    def first(self, k: int) -> GITSResult:
        """The same search on the first k warm-up trajectories only (k = 1 .. n_warmup)."""
        w = self._kept("first")
        k = check_int("k", k, 1, w.xs.shape[1])
        return from_warmup(Warmup(w.xs[:, :k], w.ds[:, :k], w.sigmas, w.seconds), len(self.indices) - 1,
                           metric=self.metric, coeff=self.coeff, keep_warmup=True)

    def _kept(self, what):
        if self.warmup is None:
            raise ValueError(f"{what} needs the warm-up: search with search_info(..., keep_warmup=True)")
        return self.warmup


def teacher_grid(n_points: int = SearchConfig.grid_points, sigma_min: float = SIGMA_MIN,
                 sigma_max: float = SIGMA_MAX, rho: float = SearchConfig.grid_rho) -> torch.Tensor:
    """The fine teacher grid of the official code: polynomial (rho=7) with n_points sigmas."""
    return polynomial(check_int("n_points", n_points, 2) - 1, sigma_min, sigma_max, rho)


def model_grid(denoiser, n_points: int = SearchConfig.grid_points, rho: float = SearchConfig.grid_rho) -> torch.Tensor:
    """The teacher grid over the denoiser's own range, its `sigma_min` / `sigma_max` attributes (a diffusers
    model: the sigmas of its first and last timestep; gitscore's EDM models: [SIGMA_MIN, SIGMA_MAX]).

    A denoiser without them is a ValueError: a range silently assumed (EDM's [0.002, 80]) would put the
    schedule where the model was never trained (e.g. outside Stable Diffusion's [0.029, 14.6])."""
    if not (hasattr(denoiser, "sigma_min") and hasattr(denoiser, "sigma_max")):
        raise ValueError(f"the denoiser ({type(denoiser).__name__}) has no sigma_min / sigma_max attributes, so "
                         "its sigma range is unknown: set them (the range it was trained on), or pass "
                         "grid=teacher_grid(n_points, sigma_min, sigma_max)")
    lo, hi = denoiser.sigma_min, denoiser.sigma_max
    try:
        ok = not isinstance(lo, bool) and not isinstance(hi, bool) and 0 < float(lo) < float(hi) < math.inf
    except (TypeError, ValueError, RuntimeError):
        ok = False
    if not ok:
        raise ValueError(f"denoiser.sigma_min / sigma_max must be finite numbers with 0 < sigma_min < sigma_max, "
                         f"got {lo!r}, {hi!r}; or pass grid=teacher_grid(n_points, sigma_min, sigma_max)")
    return teacher_grid(n_points, float(lo), float(hi), rho)


@torch.no_grad()
def warmup(denoiser, shape, n_samples: int = SearchConfig.n_warmup, *, grid=None, teacher: str = SearchConfig.teacher,
           seed: int = SearchConfig.seed, batch_size: int | None = SearchConfig.batch_size,
           dtype=SearchConfig.dtype, device=None, progress: bool = False,
           teacher_options: dict | None = SearchConfig.teacher_options) -> Warmup:
    """Run the teacher solver on the fine grid for n_samples seeded latents x_T = sigma_max z (Sec. 4.2).

    d_i comes from the callback's (x_i, denoised_i), as gits-main records the teacher's d_cur; with
    teacher_options={"afs": True} d_0 is the analytical first step (as there), and for a unipc teacher
    denoised_i is UniPC's reused predictor evaluation, so prefer ipndm / euler / heun as teachers.
    """
    if teacher not in SOLVERS:
        raise ValueError(f"teacher must be one of {sorted(SOLVERS)}, got {teacher!r}")
    n_samples = check_int("n_samples", n_samples, 1)
    batch_size = min(n_samples, 256) if batch_size is None else check_int("batch_size", batch_size, 1)
    shape = tuple(int(s) for s in shape)
    grid = teacher_grid() if grid is None else check_sigmas(grid).to(torch.float64)
    device = default_device(denoiser) if device is None else torch.device(device)
    M = len(grid)

    # Under torchrun each rank holds its own batches' states; they are gathered in order at the end.
    lo, hi = dist.shard(n_samples, batch_size=batch_size)
    xs = torch.empty((M, hi - lo, *shape), dtype=dtype, device=device)
    ds = torch.empty((M - 1, hi - lo, *shape), dtype=dtype, device=device)
    seen = {}

    # The teacher's own state and direction at every grid point, from the solver's callback.
    def record(info):
        i, a, b, x = info["i"], info["start"] - lo, info["stop"] - lo, info["x"]
        xs[i, a:b] = x
        ds[i, a:b] = (x - info["denoised"]) / float(grid[i])
        seen.setdefault(info["start"], []).append(i)

    t0 = time.perf_counter()
    x_0 = sampling.sample(denoiser, teacher, grid, n_samples, seed=seed, shape=shape, batch_size=batch_size,
                          dtype=dtype, device=device, callback=record, progress=progress, desc="GITS warm-up",
                          **dict(teacher_options or {}))
    for steps in seen.values():
        if sorted(steps) != list(range(M - 1)):
            raise RuntimeError(f"teacher {teacher!r} reported steps {sorted(set(steps))[:5]}..., expected 0..{M - 2}")
    xs[M - 1] = x_0[lo:hi].to(device)
    if dist.rank_world()[1] > 1:
        xs = dist.gather(xs.transpose(0, 1).contiguous()).transpose(0, 1)
        ds = dist.gather(ds.transpose(0, 1).contiguous()).transpose(0, 1)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return Warmup(xs=xs, ds=ds, sigmas=grid, seconds=time.perf_counter() - t0)


def warmup_for(denoiser, shape, config: SearchConfig, *, device=None, progress: bool = False) -> Warmup:
    """The warm-up of the search `config` (its teacher, grid, size, seed and batches)."""
    return warmup(denoiser, shape, config.n_warmup, grid=config.teacher_grid(denoiser), teacher=config.teacher,
                  seed=config.seed, batch_size=config.batch_size, dtype=config.dtype, device=device,
                  progress=progress, teacher_options=config.teacher_options)


@torch.no_grad()
def cost_matrix(xs: torch.Tensor, ds: torch.Tensor, sigmas, metric: str = SearchConfig.metric, *,
                max_elements: int = 2 ** 18) -> np.ndarray:
    """C[i, j] = error of one Euler jump sigma_i -> sigma_j from the teacher point x_i (Sec. 4.2).

    l2 / l1: ||x_i + (sigma_j - sigma_i) d_i - x_j|| per sample, mean over samples.
    dev: distance of the Euler point to the chord x_T -> x_0 of its own teacher trajectory minus that
    of x_j, means over samples (no abs, as in gits-main). Entries with i >= j are +inf.
    `max_elements` bounds the (j-chunk, n, d) temporaries of l2 / l1 (small ones stay in cache: faster).
    """
    check_choice("metric", metric, METRICS)
    sigmas = check_sigmas(sigmas).to(torch.float64)
    M = len(sigmas)
    if xs.ndim < 3 or xs.shape[0] != M:
        raise ValueError(f"xs must have shape (M={M}, n, ...), got {tuple(xs.shape)}")
    if ds.shape[0] not in (M - 1, M) or ds.shape[1:] != xs.shape[1:]:
        raise ValueError(f"ds must have shape ({M - 1} or {M}, {', '.join(map(str, xs.shape[1:]))}), "
                         f"got {tuple(ds.shape)}")
    n = xs.shape[1]
    X, Dd = xs.reshape(M, n, -1), ds[:M - 1].reshape(M - 1, n, -1)
    C = np.full((M, M), np.inf)
    if metric == "dev":
        # Perpendicular part w.r.t. the chord direction u = (x_0 - x_T) / ||x_0 - x_T||, per sample.
        c = X[-1].double()
        u = c - X[0].double()
        u = u / u.norm(dim=-1, keepdim=True)
        perp = lambda v: v - (v * u).sum(-1, keepdim=True) * u
        # c - x_hat = (c - x_i) - h d_i and the projection is linear, so x_hat's distance to the chord
        # is ||A_i - h B_i|| with A_i = P(c - x_i), B_i = P(d_i): three dot products serve every j.
        aa = torch.empty(M, n, dtype=torch.float64, device=X.device)
        ab, bb = torch.empty_like(aa[1:]), torch.empty_like(aa[1:])
        for i in range(M):  # one point at a time: small temporaries stay in cache
            A = perp(c - X[i].double())
            aa[i] = torch.linalg.vecdot(A, A)
            if i < M - 1:
                B = perp(Dd[i].double())
                ab[i], bb[i] = torch.linalg.vecdot(A, B), torch.linalg.vecdot(B, B)
        dev_tea = aa.sqrt().mean(dim=1)  # the teacher point's own distance (0 at x_0)
        h = (sigmas[None, :] - sigmas[:, None]).to(X.device)[:M - 1, :, None]  # (i, j, 1)
        dist = (aa[:M - 1, None] - 2 * h * ab[:, None] + h ** 2 * bb[:, None]).clamp_min(0).sqrt()
        cost = (dist.mean(dim=-1) - dev_tea[None, :]).cpu().numpy()
        iu = np.triu_indices(M, 1)
        C[iu] = cost[iu]
        return C

    # float64 throughout: near sigma_min the jump error is far below float32 resolution of x.
    s = sigmas.to(X.device)
    chunk = max(1, max_elements // X[0].numel())
    for i in range(M - 1):
        x_i, d_i = X[i].double(), Dd[i].double()
        for j0 in range(i + 1, M, chunk):
            j1 = min(j0 + chunk, M)
            h = (s[j0:j1] - s[i]).reshape(-1, 1, 1)
            diff = torch.addcmul(x_i - X[j0:j1].double(), h, d_i)  # x_hat - x_j
            err = torch.linalg.vector_norm(diff, ord=2 if metric == "l2" else 1, dim=-1)
            C[i, j0:j1] = err.mean(dim=1).cpu().numpy()
    return C


def dp(cost, n_steps: int, coeff: float = SearchConfig.coeff) -> list[int]:
    """Dynamic programme of GITS (Sec. 4.2): min over paths 0 = p_0 < ... < p_K = M-1 of
    sum_k coeff**k * C[p_k, p_{k+1}], solved as V[i][1] = C[i][M-1],
    V[j][k] = min_{j < i < M-1} C[j][i] + coeff * V[i][k-1]; path recovered by back-pointers.

    Should a value overflow (huge costs, coeff**k beyond float64), the same minimum is found in a
    scale that cannot overflow (see _dp_scaled); the path returned is always valid.
    """
    C = np.asarray(cost, dtype=np.float64)
    if C.ndim != 2 or C.shape[0] != C.shape[1] or C.shape[0] < 2:
        raise ValueError(f"cost must be a square (M, M) matrix with M >= 2, got shape {C.shape}")
    M = C.shape[0]
    if not np.isfinite(C[np.triu_indices(M, 1)]).all():
        raise ValueError("cost must be finite for every i < j (entries with i >= j are ignored)")
    K = check_int("n_steps", n_steps, 1, M - 1)
    check_positive("coeff", coeff)

    with np.errstate(over="ignore", invalid="ignore"):
        path = _dp_pointers(C, K, lambda k: 1.0, coeff)
    if path is None:
        path = _dp_scaled(C, K, coeff)
    if path is None or not (len(path) == K + 1 and path[0] == 0 and path[-1] == M - 1 and all(np.diff(path) > 0)):
        raise ValueError(f"dp found no valid path of {K} steps (got {path}); the cost matrix is degenerate")
    return path


def _dp_pointers(C, K, weight, coeff):
    """Back-pointer DP for V[k] = min_i w_k C[j, i] + coeff V[k-1][i] (w_k = weight(k)); the path, or None
    if a reachable value overflowed (then the argmin may point anywhere)."""
    M = C.shape[0]
    # Allowed moves j -> i with j < i < M-1 (intermediate points); the last jump always ends at M-1.
    j_idx, i_idx = np.indices((M, M))
    allowed = (i_idx > j_idx) & (i_idx < M - 1)
    V = np.full((K + 1, M), np.inf)
    V[1, :M - 1] = weight(1) * C[:M - 1, M - 1]
    ptr = np.full((K + 1, M), M - 1)
    rows = np.arange(M)
    for k in range(2, K + 1):
        T = np.where(allowed, weight(k) * C, np.inf) + coeff * V[k - 1][None, :]
        ptr[k] = T.argmin(axis=1)
        V[k] = T[rows, ptr[k]]
        if not np.isfinite(V[k, :M - k]).all():  # rows j <= M-1-k have a path of k steps
            return None
    path = [0]
    for k in range(K, 0, -1):
        path.append(int(ptr[k, path[-1]]))
    return path


def _dp_scaled(C, K, coeff):
    """The same DP on C / max|C|, its values divided by coeff**(k-1) when coeff > 1 (weights coeff**-(k-1)
    from exp of a log, which underflow to 0 instead of overflowing): every value stays within K in size."""
    C = C / max(np.abs(C[np.triu_indices(C.shape[0], 1)]).max(), np.finfo(np.float64).tiny)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        if coeff <= 1:
            return _dp_pointers(C, K, lambda k: 1.0, coeff)
        log_c = math.log(coeff)
        return _dp_pointers(C, K, lambda k: math.exp(-(k - 1) * log_c), 1.0)


def search_info(denoiser, shape, n_steps: int, config: SearchConfig | None = None, *, device=None,
                progress: bool = False, keep_warmup: bool = False, **settings) -> GITSResult:
    """GITS search (Sec. 4.2): warm-up, cost matrix, DP; returns the schedule with the cost and timings
    (and the warm-up itself with keep_warmup=True, for GITSResult.with_metric / first).

    The search's settings are `config` (a SearchConfig; default: the official code's) with `settings`, any
    of SearchConfig's field names (n_warmup, grid_points, teacher, metric, coeff, seed, batch_size, grid,
    ...), changed. The default grid is model_grid(denoiser): grid_points sigmas (rho = 7) inside the
    denoiser's own [sigma_min, sigma_max], so the schedule never leaves the range the model was trained on.
    """
    config = search_config(config, **settings)
    check_int("n_steps", n_steps, 1, len(config.teacher_grid(denoiser)) - 1)
    w = warmup_for(denoiser, shape, config, device=device, progress=progress)
    return from_warmup(w, n_steps, metric=config.metric, coeff=config.coeff, keep_warmup=keep_warmup)


def from_warmup(w: Warmup, n_steps: int, *, metric: str = SearchConfig.metric, coeff: float = SearchConfig.coeff,
                keep_warmup: bool = False) -> GITSResult:
    """The rest of the search from a warm-up: cost matrix (metric), then the DP for n_steps at coeff."""
    check_choice("metric", metric, METRICS)
    check_positive("coeff", coeff)
    grid = w.sigmas
    check_int("n_steps", n_steps, 1, len(grid) - 1)
    t0 = time.perf_counter()
    C = cost_matrix(w.xs, w.ds, grid, metric)
    t1 = time.perf_counter()
    indices = dp(C, n_steps, coeff)
    t2 = time.perf_counter()
    return GITSResult(sigmas=grid[indices].clone(), indices=indices, cost=C, grid=grid,
                      timings={"warmup": w.seconds, "cost": t1 - t0, "dp": t2 - t1}, metric=metric, coeff=coeff,
                      warmup=w if keep_warmup else None)


def search(denoiser, shape, n_steps: int, config: SearchConfig | None = None, **kwargs) -> torch.Tensor:
    """GITS schedule: n_steps+1 float64 sigmas picked from the teacher grid (default: model_grid(denoiser),
    inside the denoiser's sigma_min / sigma_max); the schedule of search_info (same arguments)."""
    return search_info(denoiser, shape, n_steps, config, **kwargs).sigmas


ABLATIONS = ("coeff", "warm-up size", "metric", "grid size", "teacher")


def ablations(denoiser, shape, n_steps: int, result: GITSResult, config: SearchConfig, *, coeffs, warmups,
              grid_points, teachers, n_small: int, device=None) -> tuple[dict, dict]:
    """Every one-setting change of the search `config` (whose result, warm-up kept, is `result`) at n_steps.

    coeff: the DP only; warm-up size k: the first k kept trajectories (the latents are seeded per sample, so
    they are a warm-up of size k); metric: the kept warm-up's other cost matrices; grid size and teacher:
    new warm-ups of n_small trajectories over result.grid's range (config's own grid and teacher: the first
    n_small kept trajectories). Returns ({(ablation, setting): (indices into its own grid, sigmas)},
    {(grid points, teacher): seconds of each new warm-up}); `ABLATIONS` names them in order.
    """
    out, seconds = {}, {}
    lo, hi = float(result.grid[-1]), float(result.grid[0])

    def add(ablation, setting, r, coeff=None):
        idx = r.path(n_steps, coeff)
        out[ablation, setting] = (idx, r.grid[idx])

    def new_search(grid, teacher):
        r = search_info(denoiser, shape, n_steps, config.replace(n_warmup=n_small, grid=grid, teacher=teacher),
                        device=device)
        seconds[len(grid), teacher] = r.timings["warmup"]
        return r

    for c in coeffs:
        add("coeff", c, result, c)
    for k in warmups:
        add("warm-up size", k, result.first(k))
    for m in METRICS:
        add("metric", m, result.with_metric(m))
    for gp in grid_points:
        own = gp == len(result.grid)
        add("grid size", gp, result.first(n_small) if own else new_search(teacher_grid(gp, lo, hi, config.grid_rho),
                                                                            config.teacher))
    for t in teachers:
        if t == config.teacher and ("grid size", len(result.grid)) in out:
            out["teacher", t] = out["grid size", len(result.grid)]
        elif t == config.teacher:
            add("teacher", t, result.first(n_small))
        else:
            add("teacher", t, new_search(result.grid, t))
    return out, seconds
