"""FD (Fashion-MNIST classifier features, NOT Inception FID) of GITS's ablated schedules on the shipped network.

Every ablation of chapter 6, with its settings, at NFE 5 for Euler and iPNDM: the DP weight coeff, the
warm-up size (the first k of the default warm-up), the cost metric (all three from one warm-up: 256 iPNDM
trajectories on the 61-point grid, seed 0), the teacher grid size and the teacher solver (new warm-ups of
32 trajectories, seed 0). Each schedule's FD on the same evaluation latents, against the polynomial
schedule's and against the default GITS schedule's (coeff 1.15, 256 trajectories, dev, 61 points, iPNDM),
each with a paired bootstrap interval (`gs.metrics.fd_ratio_change`, the same resampling draws for
every schedule). A schedule found by several settings is sampled once. Chapter 6 reads the JSON and checks
its schedules against its own:

    python scripts/fd_ablation.py --n 2000 --out results/fmnist_fd_ablation.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gitscore as gs

COEFFS = (0.9, 1.0, 1.1, 1.15, 1.2, 1.3, 1.5)
WARMUPS = (4, 8, 16, 32, 64, 128, 256)
GRIDS = (21, 41, 61, 81)
TEACHERS = ("ipndm", "heun", "euler")
DEFAULT = gs.gits.SearchConfig()  # the official defaults: 256 trajectories, 61 points, iPNDM, dev, coeff 1.15
N_WARMUP, N_WARMUP_SMALL, GRID_POINTS = DEFAULT.n_warmup, 32, DEFAULT.grid_points


def ablated_schedules(net, shape, nfe: int, n_warmup: int = N_WARMUP, n_warmup_small: int = N_WARMUP_SMALL) -> dict:
    """setting name -> (ablation, setting, sigmas) for every ablation: gs.gits.ablations, as chapter 6 runs it.

    n_warmup, n_warmup_small: the main warm-up's and the grid / teacher warm-ups' sizes (smaller only for the
    results pipeline's smoke run; warm-up sizes above n_warmup are left out)."""
    config = DEFAULT.replace(grid=gs.gits.teacher_grid(GRID_POINTS), n_warmup=n_warmup)
    main = gs.gits.search_info(net, shape, nfe, config, keep_warmup=True)
    abl, _ = gs.gits.ablations(net, shape, nfe, main, config, coeffs=COEFFS,
                               warmups=[k for k in WARMUPS if k <= n_warmup], grid_points=GRIDS, teachers=TEACHERS,
                               n_small=n_warmup_small)
    names = {"coeff": "coeff {:g}", "warm-up size": "warm-up {}", "metric": "metric {}", "grid size": "grid {}",
             "teacher": "teacher {}"}
    out = {"polynomial": ("polynomial", "", gs.schedules.polynomial(nfe))}
    return out | {names[a].format(v): (a, v, sig) for (a, v), (_, sig) in abl.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=2000, help="samples per schedule (default 2000)")
    p.add_argument("--nfe", type=int, default=5)
    p.add_argument("--eval-seed", type=int, default=2, help="evaluation latents' seed (warm-up: seed 0)")
    p.add_argument("--n-boot", type=int, default=200)
    p.add_argument("--solvers", nargs="+", default=["euler", "ipndm"], help="default: euler ipndm")
    p.add_argument("--n-warmup", type=int, default=N_WARMUP, help=f"main warm-up trajectories (default {N_WARMUP})")
    p.add_argument("--n-warmup-small", type=int, default=N_WARMUP_SMALL,
                   help=f"grid / teacher warm-up trajectories (default {N_WARMUP_SMALL})")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    shape, net = (1, 28, 28), gs.models.load_model("fmnist", device="cpu").denoiser
    t0 = time.perf_counter()
    scheds = ablated_schedules(net, shape, args.nfe, args.n_warmup, args.n_warmup_small)
    weights = gs.nets.WEIGHTS_DIR / "fmnist_edm.safetensors"
    out = {"model": "fmnist_edm", "sha256": gs.files.sha256_file(weights), "n": args.n, "nfe": args.nfe,
           "eval_seed": args.eval_seed, "warmup_seed": 0, "n_warmup": args.n_warmup,
           "n_warmup_small": args.n_warmup_small,
           "grid_points": GRID_POINTS, "coeff": DEFAULT.coeff, "n_boot": args.n_boot,
           "note": "FD on Fashion-MNIST classifier features, not Inception FID",
           "sigmas": {k: v[2].tolist() for k, v in scheds.items()}, "rows": []}
    for solver in args.solvers:
        fd, boot = {}, {}
        for name, (_, _, sig) in scheds.items():
            key = tuple(sig.tolist())
            if key not in fd:  # each distinct schedule is sampled once
                x = gs.sampling.sample(net, solver, sig, args.n, seed=args.eval_seed, shape=shape, batch_size=250)
                fd[key], boot[key] = gs.metrics.fd_with_replicates(x, n_boot=args.n_boot)
        poly, default = (tuple(scheds[k][2].tolist()) for k in ("polynomial", f"coeff {DEFAULT.coeff:g}"))
        for name, (ablation, setting, sig) in scheds.items():
            key = tuple(sig.tolist())
            vs = {f"vs_{ref}": list(gs.metrics.fd_ratio_change(fd[key], fd[k], boot[key], boot[k]))
                  for ref, k in (("polynomial", poly), ("default", default))}
            out["rows"].append({"solver": solver, "ablation": ablation, "value": setting, "setting": name,
                                "fd": fd[key], "same_as_default": key == default, **vs})
            print(json.dumps(out["rows"][-1]), flush=True)
    out["wall_time_s"] = time.perf_counter() - t0
    gs.files.atomic_write_bytes(args.out, json.dumps(out, indent=1).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
