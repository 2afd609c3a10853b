"""One harness for schedule searches: every method behind one signature, with its search cost.

    run(method, denoiser, solver, nfe, seed, config, shape=...) -> Searched(sigmas, evaluations, seconds, info)

`seed` is the warm-up seed: the latents a search may look at are those of this seed (the GITS warm-up's,
`gits.warmup`), never the evaluation latents. Methods (`METHODS`):

- fixed schedules (cost 0): polynomial (EDM, rho 7), logsnr, time_uniform, ays_gaussian (AYS's closed form
  for Gaussian data with the data's standard deviation, gitscore.ays.kl_optimal);
- ays: AYS's KLUB optimisation on the model (gitscore.ays.search; Monte Carlo over training images, seeded);
- gits: GITS with its official defaults (gits.SearchConfig, the warm-up of `seed`);
- refine, student_dp, oracle: gitscore.optimal on that warm-up (refine: DP weight and coordinate descent on
  the first n_tune warm-up latents; student_dp: the student-state DP's own schedule, OSS's batch variant;
  oracle: Adam through the solver against the teacher's end states of n_oracle warm-up latents);
- oss: gitscore.oss (per-sample student-state DP on the first n_oss warm-up latents, step-wise median);
- ld3: gitscore.ld3 on (latent, teacher end state) pairs of the warm-up;
- holdout: ours. Candidates: the fixed schedules, GITS's DP at every weight of optimal.COEFFS, and the
  schedules of refine, student_dp, oss and oracle (HOLDOUT; all fitted on the first n_tune / n_oss / n_oracle
  <= n_tune warm-up latents); chosen by the target
  solver's error against the teacher's end states on n_select *other* warm-up latents (held out from the
  fitting), so the choice is not the one that fits its own tuning latents best.

The warm-up is shared (`Shared`, one per denoiser and seed) and its evaluations are counted in the cost of
every method that uses it (all of it for gits / refine / student_dp / holdout, the trajectories it uses for
oss / ld3 / oracle). Costs are denoiser evaluations of single samples and wall seconds.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from . import ays, gits, optimal, stats
from .checks import check_choice, check_int
from .denoisers import CallCounter
from .gits import SearchConfig
from .ld3 import ld3
from .oss import oss
from .schedules import get_schedule
from .solvers import DIFFERENTIABLE, calls_per_step

__all__ = ["HarnessConfig", "Searched", "Shared", "METHODS", "FIXED", "HOLDOUT", "run", "steps_for", "available",
           "read", "errors", "cost", "mean_interval", "change", "best", "per_sample_best", "cells"]

FIXED = ("polynomial", "logsnr", "time_uniform", "ays_gaussian")
METHODS = FIXED + ("ays", "gits", "refine", "student_dp", "oss", "ld3", "oracle", "holdout")
HOLDOUT = ("refine", "student_dp", "oss", "oracle")   # searched candidates of holdout (with the fixed ones, GITS)


@dataclass(frozen=True)
class HarnessConfig:
    """Every search setting of the harness, once. The sizes are small (sized for a shared 2-core CPU): GITS's
    own warm-up keeps the official defaults; the others fit on a few of its trajectories."""
    search: SearchConfig = field(default_factory=SearchConfig)  # GITS: official defaults (seed set per run)
    sigma_data: float = 0.5     # data std for ays_gaussian (the KDE / network data: pixels in [-1, 1])
    n_tune: int = 8             # warm-up latents refine / student_dp fit
    n_select: int = 32          # further warm-up latents holdout chooses on
    sweeps: int = 1             # refine: coordinate-descent rounds
    max_evals: int = 3          # refine: bounded-Brent iterations per sigma
    n_oss: int = 4              # oss: warm-up latents, one DP each
    ld3_train: int = 8          # ld3: training pairs
    ld3_valid: int = 8          # ld3: validation pairs
    ld3_rounds: int = 2         # ld3: passes over the training pairs
    n_oracle: int = 8           # oracle: warm-up latents trained on
    oracle_iters: int = 10
    oracle_lr: float = 0.03
    ays_mc: int = 32            # ays: Monte Carlo draws of the KLUB
    ays_candidates: int = 4
    ays_sweeps: int = 3


@dataclass
class Searched:
    """A searched (or fixed) schedule and what finding it cost."""
    sigmas: torch.Tensor
    evaluations: int            # denoiser evaluations of single samples, warm-up share included
    seconds: float
    info: dict = field(default_factory=dict)
    own_evaluations: int = 0    # the same without the warm-up's share
    own_seconds: float = 0.0


@dataclass
class Shared:
    """The warm-up of one (denoiser, seed), run on first use and reused by every method."""
    warm: gits.Warmup | None = None
    evaluations: int = 0
    seconds: float = 0.0
    gits: gits.GITSResult | None = None
    found: dict = field(default_factory=dict)  # (method, solver, steps) -> Searched, for holdout to reuse


def available(method: str, solver: str) -> bool:
    """Whether `method` can search for `solver`: ld3 and oracle differentiate through it (DIFFERENTIABLE);
    student_dp and oss step it inside the DP (optimal.STUDENT); every other method runs for any solver."""
    check_choice("method", method, METHODS)
    if method in ("ld3", "oracle"):
        return solver in DIFFERENTIABLE
    if method in ("student_dp", "oss"):
        return solver in optimal.STUDENT
    return True


def steps_for(solver: str, nfe: int) -> int:
    """Steps of `solver` with nfe denoiser calls (ValueError if nfe is not a multiple of its calls per step)."""
    c = calls_per_step(solver)
    if nfe % c:
        raise ValueError(f"nfe={nfe} is not a multiple of {solver}'s {c} calls per step")
    return nfe // c


def _warmup(denoiser, shape, config: SearchConfig, shared: Shared) -> Shared:
    if shared.warm is None:
        counter = CallCounter(denoiser)
        shared.warm = gits.warmup_for(counter, shape, config)
        shared.evaluations, shared.seconds = counter.samples, shared.warm.seconds
    return shared


def _share(shared: Shared, n: int) -> tuple[int, float]:
    """The warm-up's evaluations and seconds for its first n trajectories."""
    frac = n / shared.warm.xs.shape[1]
    return round(shared.evaluations * frac), shared.seconds * frac


def run(method: str, denoiser, solver: str, nfe: int, seed: int, config: HarnessConfig | None = None, *,
        shape, data: torch.Tensor | None = None, shared: Shared | None = None) -> Searched:
    """The schedule `method` finds for `solver` at `nfe` with warm-up seed `seed` (see the module docstring).

    data: training images (ays only). shared: a Shared of this denoiser and seed to reuse across calls (it keeps
    every search's result, so holdout reuses them and a repeated call costs nothing).
    """
    check_choice("method", method, METHODS)
    config = config or HarnessConfig()
    seed = check_int("seed", seed, 0)
    shared = shared if shared is not None else Shared()
    key = (method, solver, nfe)
    if key not in shared.found:
        shared.found[key] = _run(method, denoiser, solver, nfe, seed, config, shape, data, shared)
    return shared.found[key]


def _run(method, denoiser, solver, nfe, seed, config, shape, data, shared) -> Searched:
    n = steps_for(solver, nfe)
    smin = float(getattr(denoiser, "sigma_min", gits.SIGMA_MIN))
    smax = float(getattr(denoiser, "sigma_max", gits.SIGMA_MAX))
    t0 = time.perf_counter()
    if method in FIXED:
        s = (ays.kl_optimal(n, smin, smax, config.sigma_data) if method == "ays_gaussian"
             else get_schedule(method, n, smin, smax))
        return Searched(s, 0, 0.0)
    if method == "ays":
        if data is None:
            raise ValueError("method 'ays' needs data= (training images: AYS's KLUB is an expectation over data)")
        r = ays.search(denoiser, data, n, sigma_min=smin, sigma_max=smax, n_mc=config.ays_mc,
                       candidates=config.ays_candidates, sweeps=config.ays_sweeps, seed=seed)
        return Searched(r.sigmas, r.samples, r.seconds, {"klub": r.klub, "start_klub": r.start_klub}, r.samples,
                        r.seconds)
    if not available(method, solver):
        allowed = DIFFERENTIABLE if method in ("ld3", "oracle") else optimal.STUDENT
        raise ValueError(f"method {method!r} needs solver in {list(allowed)}, got {solver!r}")
    sc = replace(config.search, seed=seed)
    shared = _warmup(denoiser, shape, sc, shared)
    w = shared.warm
    if shared.gits is None:
        shared.gits = gits.from_warmup(w, 1, metric=sc.metric, coeff=sc.coeff)
    if method == "gits":
        return Searched(shared.gits.schedule(n), shared.evaluations,
                        shared.seconds + time.perf_counter() - t0, {"coeff": sc.coeff})
    tune = dict(warm=w, n_tune=config.n_tune, max_evals=config.max_evals)
    if method in ("refine", "student_dp"):
        r = optimal.refine(denoiser, shape, n, sc, solver=solver, coeffs=optimal.COEFFS if method == "refine" else (),
                           sweeps=config.sweeps if method == "refine" else 0, student=method == "student_dp", **tune)
        s = r.sigmas if method == "refine" else r.student_sigmas
        return Searched(s, shared.evaluations + r.samples, shared.seconds + r.seconds, {"coeff": r.coeff}, r.samples,
                        r.seconds)
    if method == "oss":
        r = oss(denoiser, w.xs[:, :config.n_oss], w.sigmas, n, solver=solver)
        ev, sec = _share(shared, config.n_oss)
        return Searched(r.sigmas, ev + r.samples, sec + r.seconds, {"paths": r.paths}, r.samples, r.seconds)
    if method == "ld3":
        m = config.ld3_train + config.ld3_valid
        r = ld3(optimal.differentiable(denoiser), solver, w.xs[0, :m], w.xs[-1, :m], n, n_valid=config.ld3_valid,
                rounds=config.ld3_rounds, seed=seed)
        ev, sec = _share(shared, m)
        return Searched(r.sigmas, ev + r.samples, sec + r.seconds,
                        {"valid_loss": r.valid_loss, "start_valid_loss": r.start_valid_loss}, r.samples, r.seconds)
    if method == "oracle":
        k = config.n_oracle
        starts = {m: get_schedule(m, n, smin, smax) for m in ("polynomial", "logsnr", "time_uniform")}
        starts["gits"] = shared.gits.schedule(n)
        r = optimal.oracle(optimal.differentiable(denoiser), solver, w.xs[0, :k], w.xs[-1, :k], starts,
                           iters=config.oracle_iters, lr=config.oracle_lr)
        ev, sec = _share(shared, k)
        return Searched(r.sigmas, ev + r.samples, sec + r.seconds, {"start": r.start_name}, r.samples, r.seconds)
    return _holdout(denoiser, solver, nfe, seed, config, shape, shared, smin, smax)


def _holdout(denoiser, solver, nfe, seed, config, shape, shared, smin, smax) -> Searched:
    """Ours: candidates fitted on the first n_tune warm-up latents, chosen on the next n_select."""
    w, n = shared.warm, steps_for(solver, nfe)
    lo, hi = config.n_tune, config.n_tune + config.n_select
    if hi > w.xs.shape[1]:
        raise ValueError(f"n_tune + n_select = {hi} exceeds the warm-up's {w.xs.shape[1]} trajectories")
    fitted = {m: run(m, denoiser, solver, nfe, seed, config, shape=shape, shared=shared)
              for m in HOLDOUT if available(m, solver)}
    counter, t0 = CallCounter(denoiser), time.perf_counter()
    cands = {m: get_schedule(m, n, smin, smax) for m in ("polynomial", "logsnr", "time_uniform")}
    cands["ays_gaussian"] = ays.kl_optimal(n, smin, smax, config.sigma_data)
    for c in (config.search.coeff, *optimal.COEFFS):
        cands[f"gits@{c:g}"] = shared.gits.schedule(n, c)
    cands.update({m: f.sigmas for m, f in fitted.items()})
    x_T, target = w.xs[0, lo:hi], w.xs[-1, lo:hi]
    seen, errors = {}, {}
    for name, s in cands.items():
        key = tuple(s.tolist())
        if key not in seen:
            seen[key] = float(optimal.end_to_end_error(counter, solver, x_T, target, s).mean())
        errors[name] = seen[key]
    best = min(errors, key=errors.get)
    own = sum(f.own_evaluations for f in fitted.values()) + counter.samples
    own_s = sum(f.own_seconds for f in fitted.values()) + time.perf_counter() - t0
    return Searched(cands[best], shared.evaluations + own, shared.seconds + own_s,
                    {"chosen": best, "holdout_errors": errors}, own, own_s)


def read(paths) -> dict:
    """The harness results of several files of one run (scripts/harness.py split by warm-up seeds) merged:
    settings (equal in every file, else ValueError), reference, cells (fixed schedules once, searched ones by
    seed) and headroom; wall_time_s summed. Paths in the order given; a later file adds seeds, never replaces.
    A run still going (or stopped) may be partial: per cell only the warm-up seeds every searched method has are
    kept (the others listed under "dropped"), and a cell missing a method its solver can run is left out."""
    import json
    from pathlib import Path

    out: dict = {}
    for p in paths:
        s = json.loads(Path(p).read_text())
        if not out:
            out = {"settings": s["settings"], "reference": s["reference"], "cells": {}, "headroom": {},
                   "wall_time_s": 0.0, "files": []}
        elif s["settings"] != out["settings"]:
            raise ValueError(f"{p} holds a run with other settings than {out['files'][0]}")
        out["files"].append(str(p))
        out["wall_time_s"] += s.get("wall_time_s", 0.0)
        for key, cell in s["cells"].items():
            merged = out["cells"].setdefault(key, {})
            for m, v in cell.items():
                if "seeds" in v:
                    seeds = merged.setdefault(m, {"seeds": {}})["seeds"]
                    for seed, r in v["seeds"].items():
                        seeds.setdefault(seed, r)
                else:
                    merged.setdefault(m, v)
        for key, h in s.get("headroom", {}).items():
            out["headroom"].setdefault(key, h)
    if not out:
        raise ValueError("paths must name at least one results file")
    # A run still going (or stopped) may hold a seed for some methods of a cell only: keep, per cell, the seeds
    # every searched method has, so that every comparison pairs the same warm-up seeds.
    out["dropped"] = {}
    for key, cell in list(out["cells"].items()):
        wanted = [m for m in METHODS if available(m, key.split()[0])]
        searched = [v["seeds"] for v in cell.values() if "seeds" in v]
        common = set.intersection(*(set(s) for s in searched)) if searched else set()
        for seeds in searched:
            for k in set(seeds) - common:
                out["dropped"].setdefault(key, set()).add(k)
                del seeds[k]
        if key in out["dropped"]:
            out["dropped"][key] = sorted(out["dropped"][key], key=int)
        if not common or any(m not in cell for m in wanted):
            out["dropped"][key] = "all"
            del out["cells"][key]
    return out


# ---------------------------------------------------------------- reading the results (chapter 8)

def cells(runs: dict, wanted, names: dict):
    """(label, results, cell, model) for every cell of `wanted` ("euler 5", ...) that each run of `runs`
    (label -> results of `read`) has; model is "NAME solver NFE n", NAME = names[label] (the claims' model name)."""
    for label, results in runs.items():
        for cell in wanted:
            if cell in results["cells"]:
                solver, nfe = cell.split()
                yield label, results, cell, f"{names[label]} {solver} NFE {nfe}"


def errors(results: dict, cell: str, method: str) -> np.ndarray:
    """Per-latent errors of `method` in `cell` ('solver nfe'): (N,) for a fixed schedule, (S, N) for a searched
    one (rows: warm-up seeds in increasing order)."""
    v = results["cells"][cell][method]
    if "seeds" not in v:
        return np.asarray(v["errors"], dtype=np.float64)
    return np.asarray([v["seeds"][k]["errors"] for k in sorted(v["seeds"], key=int)], dtype=np.float64)


def cost(results: dict, cell: str, method: str) -> tuple[float, float]:
    """(denoiser evaluations, seconds) of `method`'s search in `cell`, means over warm-up seeds (0 when fixed)."""
    v = results["cells"][cell][method]
    if "seeds" not in v:
        return 0.0, 0.0
    runs = v["seeds"].values()
    return float(np.mean([r["evaluations"] for r in runs])), float(np.mean([r["seconds"] for r in runs]))


def mean_interval(values: np.ndarray, *, seed: int = 0, n_boot: int = stats.N_BOOT) -> stats.Interval:
    """Mean error with its 95 % interval: two-level (seeds, then latents; stats.two_level_mean) for a searched
    method's (S, N) errors (over latents only while a run has one seed), over latents (stats.bootstrap) for a
    fixed schedule's (N,)."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 2:
        return stats.two_level_mean(v, seed=seed, n_boot=n_boot, resample_seeds=len(v) > 1)
    return stats.bootstrap(v, seed=seed, n_boot=n_boot)


def change(baseline: np.ndarray, candidate: np.ndarray, *, seed: int = 0, n_boot: int = stats.N_BOOT) -> stats.Interval:
    """mean(candidate) / mean(baseline) - 1, paired by latent (and by warm-up seed when both are searched):
    stats.two_level_change when either is searched (a fixed one repeated for every seed), else
    stats.paired_change over latents."""
    b, c = np.asarray(baseline, dtype=np.float64), np.asarray(candidate, dtype=np.float64)
    if b.ndim == 1 and c.ndim == 1:
        return stats.paired_change(b, c, seed=seed, n_boot=n_boot)
    if c.ndim == 1:
        c = np.broadcast_to(c, b.shape)
    return stats.two_level_change(b, c, seed=seed, n_boot=n_boot, resample_seeds=len(c) > 1)


def best(results: dict, cell: str, methods) -> str:
    """The method of `methods` (those run in `cell`) with the least mean error there."""
    run = [m for m in methods if m in results["cells"][cell]]
    if not run:
        raise ValueError(f"none of {list(methods)} was run in cell {cell!r}")
    return min(run, key=lambda m: float(errors(results, cell, m).mean()))


def per_sample_best(results: dict, cell: str, methods) -> np.ndarray:
    """Per latent, the least error of any schedule measured in `cell` (each method of `methods`, each seed), and
    on the latents of the headroom run also of that latent's own student-state DP schedule: (N,)."""
    rows = [np.atleast_2d(errors(results, cell, m)) for m in methods if m in results["cells"][cell]]
    out = np.concatenate(rows).min(axis=0)
    h = results.get("headroom", {}).get(cell)
    if h is not None:
        own = np.asarray(h["errors"], dtype=np.float64)
        out[:len(own)] = np.minimum(out[:len(own)], own)
    return out
