"""Benchmark: solvers x schedules (incl. GITS) x NFE on a denoiser; FD and error against a reference ODE solution.

`gitscore bench --help` (a subcommand of gitscore.cli). Results go to OUT/results.json and OUT/results.csv,
rewritten atomically after every configuration, so a killed run resumes where it stopped. Under torchrun the
samples of every configuration are sharded across ranks by their per-sample seeds (identical to one process).
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from . import dist, gits, metrics, models, results, sampling
from .files import atomic_write_bytes, check_output_dir
from .checks import check_allocation, check_int
from .gits import SearchConfig
from .schedules import SCHEDULES, SIGMA_MAX, SIGMA_MIN, get_schedule
from .solvers import SOLVER_INFO, SOLVERS, calls_per_step

__all__ = ["BenchConfig", "run_bench", "markdown_table", "read_state", "INT_FIELDS", "FIELD_HELP", "GITS_PREFIX",
           "FD_BOOT", "BENCH_MODELS"]

GITS_PREFIX = "gits_"


@dataclass
class BenchConfig:
    model: str = "fmnist"              # "fmnist" (shipped network), "kde" (exact denoiser over the training set), or
    #                                    one of gitscore.models.DATA_MODELS (exact denoiser over a whole data set)
    solvers: list = field(default_factory=lambda: ["euler", "heun", "dpm2", "dpmpp", "unipc", "deis", "ipndm"])
    schedules: list = field(default_factory=lambda: ["polynomial", "logsnr", "time_uniform", "time_quadratic",
                                                     "gits_dev", "gits_l2"])
    nfes: list = field(default_factory=lambda: list(range(3, 11)))
    n_fd: int = 10000                  # samples for the FD (Fashion-MNIST classifier features); 0 = no FD
    n_ref: int = 256                   # samples for the error against the reference solution
    ref_steps: int = 256               # Heun steps of the reference (checked against 2x as many)
    eval_seed: int = 1                 # latents of the evaluation (disjoint from the warm-up seed)
    warmup_seed: int = SearchConfig.seed
    n_warmup: int = SearchConfig.n_warmup
    grid_points: int = SearchConfig.grid_points
    teacher: str = SearchConfig.teacher
    coeff: float = SearchConfig.coeff
    kde_size: int = 60000              # training images in the KDE denoiser (gitscore.models.kde_subset)
    batch_size: int = 500

    def validate(self):
        """Check every field (messages name the --option), before any work."""
        bad = [s for s in self.solvers if s not in SOLVERS]
        if not self.solvers or bad:
            raise ValueError(f"solvers must be among {sorted(SOLVERS)}, got {bad or self.solvers}")
        valid = sorted(SCHEDULES) + [GITS_PREFIX + m for m in gits.METRICS]
        bad = [s for s in self.schedules if s not in valid]
        if not self.schedules or bad:
            raise ValueError(f"schedules must be among {valid}, got {bad or self.schedules}")
        if self.model not in BENCH_MODELS:
            raise ValueError(f"model must be one of {list(BENCH_MODELS)}, got {self.model!r}")
        if self.teacher not in SOLVERS:
            raise ValueError(f"teacher must be one of {sorted(SOLVERS)}, got {self.teacher!r}")
        for name, lo in INT_FIELDS.items():
            setattr(self, name, check_int("--" + name.replace("_", "-"), getattr(self, name), lo))
        models.kde_size_ok(self.kde_size)
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in self.nfes) or not self.nfes:
            raise ValueError(f"--nfe values must be integers >= 1, got {self.nfes}")
        if isinstance(self.coeff, bool) or not isinstance(self.coeff, (int, float)) or not (
                math.isfinite(self.coeff) and self.coeff > 0):
            raise ValueError(f"--coeff must be a finite number > 0, got {self.coeff!r}")
        self._check_reachable()
        self._check_sizes()

    def _check_sizes(self):
        """What the sweep would allocate, bounded by this machine's memory (before any work)."""
        shape, dtype = models.sample_spec(self.model)
        sample = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
        steps = max(self.nfes)
        # a schedule is steps + 1 float64 sigmas, and the solvers keep them as a list of Python floats
        check_allocation(f"--nfe {steps}", 64 * (steps + 1))
        check_allocation(f"--ref-steps {self.ref_steps}", 64 * (2 * self.ref_steps + 1))
        if any(s.startswith(GITS_PREFIX) for s in self.schedules):  # the warm-up keeps every teacher step
            check_allocation(f"--grid-points {self.grid_points} with --n-warmup {self.n_warmup}",
                             2 * self.grid_points * self.n_warmup * sample + 8 * self.grid_points ** 2)
        check_allocation(f"--n-fd {self.n_fd} / --n-ref {self.n_ref}", 3 * max(self.n_fd, self.n_ref) * sample)

    def _check_reachable(self):
        """Every --nfe is a whole number of steps for at least one solver, and GITS has the grid points for it."""
        for n in self.nfes:
            fits = [s for s in self.solvers if n % calls_per_step(s) == 0]
            if not fits:
                two = [s for s, info in SOLVER_INFO.items() if info.calls_per_step == 2]
                raise ValueError(f"--nfe {n} is not reachable by --solvers {' '.join(self.solvers)} "
                                 f"({', '.join(two)} take 2 evaluations per step: use even NFE)")
            steps = max(n // calls_per_step(s) for s in fits)
            if any(s.startswith(GITS_PREFIX) for s in self.schedules) and steps >= self.grid_points:
                raise ValueError(f"--nfe {n} needs {steps} steps, but a GITS schedule on --grid-points "
                                 f"{self.grid_points} has at most {self.grid_points - 1}")

    def search(self, metric: str) -> SearchConfig:
        """The GITS search of the run (its warm-up seed, size, grid, teacher and coeff) with cost `metric`."""
        return SearchConfig(n_warmup=self.n_warmup, grid=gits.teacher_grid(self.grid_points), teacher=self.teacher,
                            metric=metric, coeff=self.coeff, seed=self.warmup_seed,
                            batch_size=min(self.batch_size, self.n_warmup))


BENCH_MODELS = ("fmnist", "kde", *models.DATA_MODELS)  # the models a bench runs on

# Integer fields and their smallest allowed value.
INT_FIELDS = {"n_fd": 0, "n_ref": 1, "ref_steps": 1, "eval_seed": 0, "warmup_seed": 0, "n_warmup": 1,
              "grid_points": 2, "kde_size": 1, "batch_size": 1}
# What each field means, for the CLI's help (`gitscore bench --help` adds the default).
FIELD_HELP = {
    "n_fd": "samples per configuration for the FD (Fashion-MNIST classifier features; fmnist only); 0: no FD",
    "n_ref": "samples per configuration for the RMSE against the reference ODE solution",
    "ref_steps": "Heun steps of the reference solution (checked against twice as many)",
    "eval_seed": "seed of the evaluation latents (keep it apart from --warmup-seed)",
    "warmup_seed": "seed of the GITS warm-up latents",
    "n_warmup": "GITS warm-up trajectories",
    "grid_points": "points of GITS's teacher grid",
    "kde_size": "kde: training images in the exact denoiser (a permutation seeded with 0)",
    "batch_size": "samples per denoiser batch",
    "teacher": "solver GITS runs on its teacher grid during the warm-up",
    "coeff": "GITS's DP weight growth per step",
}


@contextlib.contextmanager
def locked(out: Path, command: str):
    """Hold an exclusive lock on the folder `out` for a run (OUT/.lock through the cross-platform `filelock`;
    OUT/.lock.owner names the holder).

    A second run into the same folder is refused with a message naming the first (its pid and command).
    Under torchrun the main rank locks and every rank learns the outcome.
    """
    from filelock import FileLock, Timeout

    lock, owner, holder = None, out / ".lock.owner", None
    if dist.is_main():
        lock = FileLock(out / ".lock", timeout=0)
        try:
            lock.acquire()
        except Timeout:
            try:
                holder = owner.read_text(errors="replace").strip() or "another process"
            except OSError:
                holder = "another process"
            lock = None
    holder = dist.from_main(holder)
    if holder is not None:
        raise ValueError(f"--out {out} is in use by {holder}; wait for that run to finish or use another --out")
    try:
        if lock is not None:
            owner.write_text(f"pid {os.getpid()} on {socket.gethostname()} ({command})\n")
        yield
    finally:
        if lock is not None:
            owner.unlink(missing_ok=True)
            lock.release()


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except Exception:
        return "unknown"


def _write(out: Path, state: dict) -> None:
    if not dist.is_main():
        return
    atomic_write_bytes(out / "results.json", json.dumps(state, indent=1).encode())
    buf = io.StringIO()
    cols = ["model", "solver", "schedule", "nfe", "steps", "fd", "ref_error", "ref_error_se", "seconds", "sigmas"]
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    for r in state["rows"]:
        w.writerow(r | {"sigmas": " ".join(f"{s:.6g}" for s in r["sigmas"])})
    atomic_write_bytes(out / "results.csv", buf.getvalue().encode())


ROW_KEYS = ("solver", "schedule", "nfe", "ref_error")


def read_state(path: Path) -> dict:
    """The results.json of a bench run ({} if there is none); ValueError naming it if it is not one."""
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        problem = f"is not valid JSON ({str(e)[:80]})"
    else:
        rows = state.get("rows", []) if isinstance(state, dict) else None
        bad = None if rows is None else next((r for r in rows if not (isinstance(r, dict) and all(
            k in r for k in ROW_KEYS))), None) if isinstance(rows, list) else rows
        if rows is None:
            problem = f"must hold a JSON object, got {type(state).__name__}"
        elif not isinstance(rows, list):
            problem = "has 'rows' that is not a list"
        elif bad is not None or not isinstance(state.get("config", {}), dict):
            problem = (f"has a row without {', '.join(ROW_KEYS)} ({str(bad)[:60]})" if bad is not None
                       else "has a 'config' that is not an object")
        else:
            return state
    raise ValueError(f"{path} {problem}: it is not the results of a gitscore bench run (damaged?); "
                     "delete it to start the run over, or use another --out")


def _save_reference(path: Path, ref: torch.Tensor, state: dict) -> None:
    from safetensors.torch import save

    blob = save({"x": ref.contiguous()})
    state["reference"]["sha256"] = hashlib.sha256(blob).hexdigest()
    if dist.is_main():
        atomic_write_bytes(path, blob)


def _reference(denoiser, cfg: BenchConfig, shape, out: Path, state: dict, reuse=None) -> torch.Tensor:
    """Converged reference solutions for the first n_ref evaluation latents (cached in OUT/reference.safetensors,
    whose sha256 results.json records and every load checks)."""
    path = out / "reference.safetensors"
    if path.exists() and "reference" in state:
        return results.read_reference(path, state["reference"])
    if reuse is not None:  # the reference of another run with the same model, eval seed and ref_steps
        other = read_state(Path(reuse) / "results.json")
        oc = other.get("config", {})
        needed = ("model", "eval_seed", "ref_steps", "kde_size", "n_ref")
        if not all(k in oc for k in needed) or not isinstance(other.get("reference"), dict):
            raise ValueError(f"--reference-from {reuse}: its results.json lacks the run's config or reference; "
                             "give the --out folder of a finished bench run")
        mismatch = {k: (oc[k], getattr(cfg, k)) for k in ("model", "eval_seed", "ref_steps", "kde_size")
                    if oc[k] != getattr(cfg, k)}
        if other.get("weights_sha256") != state["weights_sha256"]:
            mismatch["weights_sha256"] = (other.get("weights_sha256"), state["weights_sha256"])
        if mismatch or oc["n_ref"] < cfg.n_ref:
            raise ValueError(f"--reference-from {reuse}: its run differs ({mismatch}, n_ref {oc['n_ref']})")
        ref = results.read_reference(Path(reuse) / "reference.safetensors", other["reference"])[:cfg.n_ref]
        state["reference"] = dict(other["reference"], reused_from=str(reuse))
        _save_reference(path, ref, state)
        return ref
    # metrics.reference_solution's solver and grid, batched and sharded over the evaluation latents.
    # The sweep's sigma range is EDM's for every model (as its base schedules).
    solver, grid = metrics.REFERENCE_SOLVER, lambda n: metrics.reference_grid(None, n, SIGMA_MIN, SIGMA_MAX)
    t0 = time.perf_counter()
    ref = sampling.sample(denoiser, solver, grid(cfg.ref_steps), cfg.n_ref, seed=cfg.eval_seed, shape=shape,
                          batch_size=cfg.batch_size)
    # Convergence check on a subset: the same solver on twice as many steps.
    n_chk = min(cfg.n_ref, 64)
    finer = sampling.sample(denoiser, solver, grid(2 * cfg.ref_steps), n_chk, seed=cfg.eval_seed, shape=shape,
                            batch_size=cfg.batch_size)
    state["reference"] = {"solver": solver, "steps": cfg.ref_steps, "nfe": 2 * cfg.ref_steps,
                          "distance_to_2x_finer": metrics.reference_error(ref[:n_chk], finer),
                          "n_checked": n_chk, "seconds": time.perf_counter() - t0}
    _save_reference(path, ref, state)
    return ref


def _gits_schedules(denoiser, cfg: BenchConfig, shape, state: dict) -> dict:
    """GITS schedules for every needed (metric, steps), from one warm-up on the warm-up seeds."""
    metrics_needed = [s[len(GITS_PREFIX):] for s in cfg.schedules if s.startswith(GITS_PREFIX)]
    steps_needed = sorted({n // calls_per_step(s) for s in cfg.solvers for n in cfg.nfes if n % calls_per_step(s) == 0})
    if not metrics_needed:
        return {}
    cached = state.get("gits", {})
    cached_steps = set(map(int, cached.get("schedules", {}).get(metrics_needed[0], {})))
    if cached.get("metrics") == metrics_needed and cached_steps >= set(steps_needed):
        return {m: {int(k): torch.tensor(v, dtype=torch.float64) for k, v in d.items()}
                for m, d in cached["schedules"].items()}
    res = gits.search_info(denoiser, shape, steps_needed[0], cfg.search(metrics_needed[0]), progress=dist.is_main(),
                           keep_warmup=True)
    found, timings = {}, {"warmup": res.timings["warmup"]}
    for m in metrics_needed:
        r = res.with_metric(m)
        timings[f"cost_{m}"] = r.timings["cost"]
        found[m] = {n: r.schedule(n) for n in steps_needed}
    state["gits"] = {"metrics": metrics_needed, "timings": timings, "teacher": cfg.teacher, "coeff": cfg.coeff,
                     "n_warmup": cfg.n_warmup, "grid_points": cfg.grid_points, "warmup_seed": cfg.warmup_seed,
                     "schedules": {m: {str(n): s.tolist() for n, s in d.items()} for m, d in found.items()}}
    return found


def run_bench(cfg: BenchConfig, out, progress: bool = True, command: str | None = None,
              reference_from=None, *, device=None, checkpoint=None) -> dict:
    """Run (or resume) the sweep; returns the results dict also written to OUT/results.json.

    `device`: where the model computes (None or "auto": CUDA when available); `checkpoint`: for model fmnist,
    a network from `gitscore train` instead of the shipped one (its sha256 is recorded and checked on resume)."""
    cfg.validate()
    out = check_output_dir(out, "--out")
    out.mkdir(parents=True, exist_ok=True)
    command = command or " ".join(sys.argv)
    with locked(out, command):
        return _run_locked(cfg, out, progress, command, reference_from, device, checkpoint)


def _run_locked(cfg: BenchConfig, out: Path, progress: bool, command: str, reference_from, device=None,
                checkpoint=None) -> dict:
    from tqdm import tqdm
    path = out / "results.json"
    state = read_state(path)
    if state and state.get("config") != asdict(cfg):
        raise ValueError(f"{path} holds a run with another configuration; use another --out or delete it")
    state.setdefault("config", asdict(cfg))
    state.setdefault("rows", [])
    state["command"] = command
    state["git_commit"] = _git_commit()
    t_start = time.perf_counter() - state.get("wall_time_s", 0.0)
    model = models.load_model(cfg.model, checkpoint=checkpoint, kde_size=cfg.kde_size if cfg.model == "kde" else None,
                              device=device)
    denoiser, shape = model.denoiser, model.shape
    if ("reference" in state or state["rows"]) and state.get("weights_sha256") != model.weights_sha256:
        raise ValueError(f"{path} holds a run of other weights (sha256 {state.get('weights_sha256')}, the "
                         f"model's now {model.weights_sha256}); use another --out or delete it")
    state["weights_sha256"] = model.weights_sha256
    ref = _reference(denoiser, cfg, shape, out, state, reference_from)
    gits_sched = _gits_schedules(denoiser, cfg, shape, state)
    # FD is scored by the main rank only (the others' state is never written).
    with_fd = bool(cfg.n_fd) and cfg.model == "fmnist" and dist.is_main()
    if with_fd and "noise_floor" not in state:
        state["noise_floor"] = {"fd_train_vs_test": metrics.noise_floor(cfg.n_fd, seed=0), "n_train": cfg.n_fd}
    _write(out, state)

    done = {(r["solver"], r["schedule"], r["nfe"]) for r in state["rows"]}
    todo = [(s, sch, n) for s in cfg.solvers for sch in cfg.schedules for n in cfg.nfes
            if n % calls_per_step(s) == 0 and (s, sch, n) not in done]
    n_samples = max(cfg.n_fd, cfg.n_ref)
    for solver, sched, nfe in tqdm(todo, desc="bench", disable=not (progress and dist.is_main())):
        steps = nfe // calls_per_step(solver)
        if sched.startswith(GITS_PREFIX):
            sigmas = gits_sched[sched[len(GITS_PREFIX):]][steps]
        else:
            sigmas = get_schedule(sched, steps, SIGMA_MIN, SIGMA_MAX)
        t0 = time.perf_counter()
        x = sampling.sample(denoiser, solver, sigmas, n_samples, seed=cfg.eval_seed, shape=shape,
                            batch_size=cfg.batch_size)
        per = metrics.rmse_per_sample(x[:cfg.n_ref], ref)
        row = {"model": cfg.model, "solver": solver, "schedule": sched, "nfe": nfe, "steps": steps,
               "ref_error": per.mean().item(), "ref_error_se": (per.std() / math.sqrt(len(per))).item(),
               "fd": None, "seconds": None, "sigmas": sigmas.tolist(),
               # per evaluation latent (the same latents in every row): paired intervals between rows
               "ref_errors": [float(f"{v:.5g}") for v in per.tolist()]}
        if with_fd:
            # bootstrap replicates over the samples, the same draws in every row (see results.paired_change)
            row["fd"], reps = metrics.fd_with_replicates(x[:cfg.n_fd], n_boot=FD_BOOT)
            row["fd_boot"] = [round(v, 4) for v in reps.tolist()]
        row["seconds"] = time.perf_counter() - t0
        state["rows"].append(row)
        state["wall_time_s"] = time.perf_counter() - t_start
        _write(out, state)
    state["wall_time_s"] = time.perf_counter() - t_start
    if state["rows"]:  # the reference must be converged far below every error scored against it
        smallest = min(r["ref_error"] for r in state["rows"])
        state["reference"]["smallest_ref_error"] = smallest
        state["reference"]["converged_ratio"] = state["reference"]["distance_to_2x_finer"] / smallest
    _write(out, state)
    return state


FD_BOOT = 200  # bootstrap replicates of each row's FD


def markdown_table(state: dict, value: str = "fd") -> str:
    """Rows solver/schedule, columns NFE; `value` is "fd" or "ref_error"."""
    rows = state["rows"]
    nfes = sorted({r["nfe"] for r in rows})
    keys = list(dict.fromkeys((r["solver"], r["schedule"]) for r in rows))
    cell = {(r["solver"], r["schedule"], r["nfe"]): r[value] for r in rows}
    lines = ["| solver | schedule | " + " | ".join(f"NFE {n}" for n in nfes) + " |",
             "|---|---|" + "---|" * len(nfes)]
    for s, sch in keys:
        vals = [cell.get((s, sch, n)) for n in nfes]
        lines.append(f"| {s} | {sch} | " + " | ".join("" if v is None else f"{v:.4g}" for v in vals) + " |")
    return "\n".join(lines)
