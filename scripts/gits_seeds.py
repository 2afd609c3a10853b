"""GITS against polynomial over several warm-up seeds, with the random-cost DP control, by reference error.

    python scripts/gits_seeds.py --out results/fmnist_gits_seeds.json            # 5 seeds, euler + ipndm
    python scripts/gits_seeds.py --seeds 0 1 2 3 4 5 6 7 --solvers euler ipndm dpmpp unipc deis --out ...

For every warm-up seed s: one GITS search (the official defaults, gits.SearchConfig, warm-up latents of seed s)
whose schedules for every NFE come from the same cost matrix ("gits"), the same search on the first 16 of those
trajectories ("gits16", the warm-up-size claim) and GITS fitted on 16 warm-up trajectories of the null model
(controls.NullDenoiser over the training images, seed s: "null16", that claim's control); for every control
seed c: controls.random_cost_schedule (the same DP on random costs: a schedule fitted to nothing). Each schedule is
scored by the per-latent RMSE against a committed reference (the first n_ref latents of the reference run's
evaluation seed, Heun-256), through metrics.ReferenceScorer. The JSON keeps every per-latent error and every
schedule, with the weights' and the reference's sha256 and the lists warmup_seeds / control_seeds, so the
book's two-level intervals (gitscore.stats: seeds, then latents) are computed from it. Resumable: the file is
rewritten atomically after each seed, and a rerun skips what is there (with the same settings and weights).
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
from gitscore.files import save_run_state, sha256_file  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True, help="the JSON to write (resumed if it exists)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 2, 3, 4, 5],
                   help="warm-up seeds, the evaluation seed (1) left out (default 0 2 3 4 5)")
    p.add_argument("--control-seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4],
                   help="seeds of the random-cost DP control (default 0-4)")
    p.add_argument("--solvers", nargs="+", default=["euler", "ipndm"], choices=sorted(gs.solvers.SOLVERS))
    p.add_argument("--nfe", type=int, nargs="+", default=[5, 6, 8, 10])
    p.add_argument("--reference-from", type=Path, default=Path("results/fmnist_sweep"),
                   help="a bench run of the same network whose reference.safetensors is reused")
    p.add_argument("--n-ref", type=int, default=256, help="latents scored (the reference's first n)")
    d = gs.gits.SearchConfig()
    p.add_argument("--n-warmup", type=int, default=d.n_warmup, help=f"warm-up trajectories (default {d.n_warmup})")
    p.add_argument("--grid-points", type=int, default=d.grid_points,
                   help=f"teacher grid points (default {d.grid_points})")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    run = json.loads((args.reference_from / "results.json").read_text())
    model = gs.models.load_model(run["config"]["model"], device="cpu")
    if run["weights_sha256"] != model.weights_sha256:
        p.error(f"--reference-from {args.reference_from} was made with other weights ({run['weights_sha256'][:12]}, "
                f"the shipped network is {model.weights_sha256[:12]}): rerun its bench first")
    ref_path = args.reference_from / "reference.safetensors"
    reference = gs.results.read_reference(ref_path, run.get("reference", {}))[:args.n_ref]
    eval_seed = run["config"]["eval_seed"]
    if eval_seed in args.seeds:
        p.error(f"--seeds must leave out the evaluation seed {eval_seed}: its warm-up latents are the evaluation "
                "latents, so GITS would be fitted on the samples it is scored on")
    search = gs.gits.SearchConfig(n_warmup=args.n_warmup, grid_points=args.grid_points)
    settings = {"model": run["config"]["model"], "weights_sha256": model.weights_sha256,
                "reference": str(ref_path), "reference_sha256": sha256_file(ref_path), "eval_seed": eval_seed,
                "n_ref": len(reference), "solvers": args.solvers, "nfes": args.nfe,
                "search": {k: v for k, v in vars(search).items() if k not in ("dtype", "grid")}}
    state = json.loads(args.out.read_text()) if args.out.exists() else {}
    if state and state.get("settings") != settings:
        p.error(f"{args.out} holds a run with other settings or weights; use another --out or delete it")
    state.setdefault("settings", settings)
    state.setdefault("polynomial", {})
    state.setdefault("gits", {})
    state.setdefault("random_dp", {})
    state["note"] = ("reference error: per-latent RMSE against Heun-256 of the same latents; GITS searched with the "
                     "official defaults on each warm-up seed; random_dp: GITS's DP over random costs (the control)")
    score = gs.metrics.ReferenceScorer(model.denoiser, reference, seed=eval_seed, shape=model.shape)
    grid = gs.gits.teacher_grid(args.grid_points)
    cells = [(s, n) for s in args.solvers for n in args.nfe if n % gs.solvers.calls_per_step(s) == 0]
    steps = lambda solver, nfe: nfe // gs.solvers.calls_per_step(solver)

    def save(done=False):
        state["warmup_seeds"] = sorted(int(s) for s in state["gits"])
        state["control_seeds"] = sorted(int(s) for s in state["random_dp"])
        save_run_state(args.out, state, prior + time.perf_counter() - t0, done)

    t0, prior = time.perf_counter(), state.get("wall_time_s", 0.0)
    for solver, nfe in cells:
        key = f"{solver} {nfe}"
        if key not in state["polynomial"]:
            sig = gs.schedules.polynomial(steps(solver, nfe))
            state["polynomial"][key] = {"sigmas": sig.tolist(), "errors": _rounded(score(solver, sig))}
    save()
    for seed in args.seeds:
        if str(seed) in state["gits"]:
            continue
        res = gs.gits.search_info(model.denoiser, model.shape, 1, grid=grid, seed=seed, n_warmup=args.n_warmup,
                                  keep_warmup=True)
        null = gs.controls.NullDenoiser(gs.models.fmnist_images("train"), seed=seed)
        small = min(SMALL, args.n_warmup)
        variants = {"gits": res, "gits16": res.first(small),
                    "null16": gs.gits.search_info(null, model.shape, 1, grid=grid, seed=seed, n_warmup=small)}
        for name, r in variants.items():
            out = {"search_seconds": round(r.timings["warmup"] + r.timings["cost"], 1)} if name == "gits" else {}
            for solver, nfe in cells:
                sig = r.schedule(steps(solver, nfe))
                out[f"{solver} {nfe}"] = {"sigmas": sig.tolist(), "errors": _rounded(score(solver, sig))}
            state.setdefault(name, {})[str(seed)] = out
        save()
        print(f"warm-up seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    for seed in args.control_seeds:
        if str(seed) in state["random_dp"]:
            continue
        out = {}
        for solver, nfe in cells:
            sig = gs.controls.random_cost_schedule(grid, steps(solver, nfe), seed)
            out[f"{solver} {nfe}"] = {"sigmas": sig.tolist(), "errors": _rounded(score(solver, sig))}
        state["random_dp"][str(seed)] = out
        save()
        print(f"control seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    save(done=True)
    print(f"wrote {args.out}: {len(cells)} cells, warm-up seeds {state['warmup_seeds']}, "
          f"control seeds {state['control_seeds']}")
    return 0


SMALL = 16  # the small warm-up of the warm-up-size claim (claims: gits_warmup)


def _rounded(errors: torch.Tensor) -> list[float]:
    return [float(f"{v:.6g}") for v in errors.tolist()]


if __name__ == "__main__":
    sys.exit(main())
