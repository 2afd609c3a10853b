"""What the step convention costs: n steps = n denoiser calls, the last sigma_min replaced by 0, against
today's extra call, on the shipped Fashion-MNIST network (reference error and FD in the classifier's features,
not Inception).

    python scripts/step_convention.py --out results/fmnist_step_convention.json

Every variant runs Euler (first order: one denoiser call per step) on GITS schedules searched with the official
defaults (gitscore.gits.SearchConfig) on each warm-up seed; for NFE n:

  zero        the n-step GITS schedule with its last sigma_min replaced by 0, as every export now ends
              (gitscore.export.sampler_sigmas): n - 1 Euler steps to sigma_{n-1}, then the step to 0, which is
              the denoiser's output there: n calls.
  sigma_min   the n-step schedule as gitscore's own solvers run it: n Euler steps, stopping at sigma_min: n calls.
  extra       what the exports gave before at the same NFE: the (n-1)-step schedule with a trailing 0 (n - 1
              steps, then the denoiser's output at sigma_min): n calls.
  extra_same  what `--steps n` gave before: the n-step schedule with a trailing 0: n + 1 calls.

Reference error: the per-latent RMSE against the committed reference (Heun-256 to sigma_min, the first --n-ref
latents of results/fmnist_sweep's evaluation seed; `gitscore bench --reference-from` reads it the same way),
for every warm-up seed; intervals are two-level (warm-up seeds, then latents: gitscore.stats.two_level_change).
FD: warm-up seed 0's schedules, --n-fd samples of --fd-seed, paired bootstrap (gitscore.metrics.frechet_bootstrap:
the same draws for every variant). The JSON keeps every per-latent error and every schedule; resumable per seed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
import gitscore as gs  # noqa: E402
from gitscore.files import atomic_write_bytes, sha256_file  # noqa: E402

VARIANTS = ("zero", "sigma_min", "extra", "extra_same")


def schedule_for(result: gs.gits.GITSResult, variant: str, nfe: int) -> tuple[torch.Tensor, str]:
    """(sigmas, ending) of a variant at NFE nfe: ending "zero" (last sigma replaced by 0), "sigma_min" (stop
    there) or "extra" (a trailing 0 appended: one more call)."""
    if variant == "zero":
        return result.schedule(nfe), "zero"
    if variant == "sigma_min":
        return result.schedule(nfe), "sigma_min"
    if variant == "extra":
        return result.schedule(nfe - 1), "extra"
    return result.schedule(nfe), "extra"


def run(model, sigmas: torch.Tensor, ending: str, n: int, seed: int, batch_size: int = 250) -> torch.Tensor:
    """Euler from the latents of `seed` (gitscore.sampling.sample): "sigma_min" stops there; "zero" runs the
    export's loop, Euler to the last positive sigma, then the step to 0 (to_zero: the denoiser's output there),
    as k-diffusion's sample_euler on gitscore.export.sampler_sigmas; "extra" runs to sigma_min, then to 0."""
    stop = sigmas[:-1] if ending == "zero" else sigmas
    return gs.sampling.sample(model.denoiser, "euler", stop, n, seed=seed, shape=model.shape, batch_size=batch_size,
                              to_zero=ending != "sigma_min")


def calls(sigmas: torch.Tensor, ending: str) -> int:
    return len(sigmas) - 1 + (ending == "extra")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True, help="the JSON to write (resumed if it exists)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 2, 3, 4, 5],
                   help="warm-up seeds, the evaluation seed (1) left out (default 0 2 3 4 5)")
    p.add_argument("--nfe", type=int, nargs="+", default=[5, 6, 8, 10])
    p.add_argument("--reference-from", type=Path, default=Path("results/fmnist_sweep"),
                   help="a bench run of the same network whose reference.safetensors is reused")
    p.add_argument("--n-ref", type=int, default=256, help="latents scored by reference error (default 256)")
    p.add_argument("--n-fd", type=int, default=2000, help="samples per FD (default 2000; 0: no FD)")
    p.add_argument("--fd-seed", type=int, default=2, help="latents of the FD samples (default 2)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates (default 1000)")
    p.add_argument("--n-warmup", type=int, default=gs.gits.SearchConfig.n_warmup)
    p.add_argument("--grid-points", type=int, default=gs.gits.SearchConfig.grid_points)
    args = p.parse_args(argv)

    run_info = json.loads((args.reference_from / "results.json").read_text())
    model = gs.models.load_model(run_info["config"]["model"], device="cpu")
    if run_info["weights_sha256"] != model.weights_sha256:
        p.error(f"--reference-from {args.reference_from} was made with other weights")
    ref_path = args.reference_from / "reference.safetensors"
    reference = gs.results.read_reference(ref_path, run_info.get("reference", {}))[:args.n_ref]
    eval_seed = run_info["config"]["eval_seed"]
    if eval_seed in args.seeds:
        p.error(f"--seeds must leave out the evaluation seed {eval_seed}")
    grid = gs.gits.teacher_grid(args.grid_points)
    settings = {"model": run_info["config"]["model"], "weights_sha256": model.weights_sha256,
                "reference": str(ref_path), "reference_sha256": sha256_file(ref_path), "eval_seed": eval_seed,
                "n_ref": len(reference), "nfes": args.nfe, "solver": "euler", "n_warmup": args.n_warmup,
                "grid_points": len(grid), "n_fd": args.n_fd, "fd_seed": args.fd_seed, "n_boot": args.n_boot}
    state = json.loads(args.out.read_text()) if args.out.exists() else {}
    if state and state.get("settings") != settings:
        p.error(f"{args.out} holds a run with other settings; use another --out or delete it")
    state["settings"] = settings
    state["note"] = __doc__.split("\n\n")[2].strip()
    state.setdefault("seeds", {})
    t0, prior = time.perf_counter(), state.pop("elapsed_s", state.pop("wall_time_s", 0.0))

    def save(done=False):  # "wall_time_s" only when finished: the results pipeline takes it as complete
        state["wall_time_s" if done else "elapsed_s"] = round(prior + time.perf_counter() - t0, 1)
        atomic_write_bytes(args.out, (json.dumps(state, indent=1) + "\n").encode())

    results = {}
    for seed in args.seeds:
        if str(seed) in state["seeds"] and (seed != args.seeds[0] or "fd" in state or not args.n_fd):
            continue
        res = gs.gits.search_info(model.denoiser, model.shape, 1, grid=grid, seed=seed, n_warmup=args.n_warmup)
        results[seed] = res
        out, cache = {}, {}
        for nfe in args.nfe:
            for v in VARIANTS:
                sig, ending = schedule_for(res, v, nfe)
                key = (tuple(sig.tolist()), ending)
                if key not in cache:
                    x = run(model, sig, ending, len(reference), eval_seed)
                    cache[key] = [float(f"{e:.6g}") for e in gs.metrics.rmse_per_sample(x, reference).tolist()]
                out[f"{v} {nfe}"] = {"sigmas": sig.tolist(), "ending": ending, "calls": calls(sig, ending),
                                     "errors": cache[key]}
        state["seeds"][str(seed)] = out
        save()
        print(f"warm-up seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
        if seed == args.seeds[0] and args.n_fd and "fd" not in state:
            fd = {}
            for nfe in args.nfe:
                for v in VARIANTS:
                    sig, ending = schedule_for(res, v, nfe)
                    x = run(model, sig, ending, args.n_fd, args.fd_seed)
                    value, reps = gs.metrics.fd_with_replicates(x, n_boot=args.n_boot)
                    fd[f"{v} {nfe}"] = {"fd": value, "replicates": [float(f"{r:.6g}") for r in reps.tolist()],
                                        "calls": calls(sig, ending)}
                    print(f"FD {v} NFE {nfe}: {value:.4g} ({time.perf_counter() - t0:.0f} s)", flush=True)
            state["fd"] = fd
            save()
    state["summary"] = summary(state, args.nfe)
    state.pop("elapsed_s", None)
    save(done=True)
    print(json.dumps(state["summary"], indent=1))
    return 0


def summary(state: dict, nfes) -> dict:
    """Mean reference error per variant (two-level interval) and the changes of zero against the others."""
    seeds = sorted(state["seeds"], key=int)
    errs = lambda key: torch.tensor([state["seeds"][s][key]["errors"] for s in seeds], dtype=torch.float64).numpy()
    out = {"warmup_seeds": [int(s) for s in seeds], "ref_error": {}, "ref_error_change": {}, "fd": {},
           "fd_change": {}}
    for nfe in nfes:
        for v in VARIANTS:
            iv = gs.stats.two_level_mean(errs(f"{v} {nfe}"))
            out["ref_error"][f"{v} {nfe}"] = [iv.estimate, iv.low, iv.high]
        for other in ("extra", "extra_same", "sigma_min"):
            iv = gs.stats.two_level_change(errs(f"{other} {nfe}"), errs(f"zero {nfe}"))
            out["ref_error_change"][f"zero vs {other} {nfe}"] = [iv.estimate, iv.low, iv.high]
        if "fd" in state:
            fd = state["fd"]
            for v in VARIANTS:
                out["fd"][f"{v} {nfe}"] = fd[f"{v} {nfe}"]["fd"]
            for other in ("extra", "extra_same", "sigma_min"):
                a, b = fd[f"zero {nfe}"], fd[f"{other} {nfe}"]
                est, lo, hi = gs.metrics.fd_ratio_change(a["fd"], b["fd"], a["replicates"], b["replicates"])
                out["fd_change"][f"zero vs {other} {nfe}"] = [est, lo, hi]
    return out


if __name__ == "__main__":
    sys.exit(main())
