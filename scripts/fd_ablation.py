"""FD (Fashion-MNIST classifier features, NOT Inception FID) of GITS's ablated schedules on the shipped network.

The DP weight coeff and the cost metric of GITS (one warm-up: 256 iPNDM trajectories on the 61-point
grid, seed 0, as chapter 6), Euler and iPNDM at NFE 5, against the polynomial schedule: FD of the same
evaluation latents for every schedule, with paired bootstrap intervals (`gs.metrics.frechet_bootstrap`,
the same resampling draws for every schedule). Chapter 6 reads the JSON:

    python scripts/fd_ablation.py --n 2000 --out results/fmnist_fd_ablation.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gitscore as gs

COEFFS = (0.9, 1.0, 1.15, 1.3, 1.5)
METRICS = ("dev", "l2", "l1")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=2000, help="samples per schedule (default 2000)")
    p.add_argument("--nfe", type=int, default=5)
    p.add_argument("--eval-seed", type=int, default=2, help="evaluation latents' seed (warm-up: seed 0)")
    p.add_argument("--n-boot", type=int, default=200)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    shape, net = (1, 28, 28), gs.nets.load_pretrained("fmnist_edm")
    grid = gs.gits.teacher_grid(61)
    t0 = time.perf_counter()
    w = gs.gits.warmup(net, shape, 256, grid=grid, teacher="ipndm", seed=0)
    cost = {m: gs.gits.cost_matrix(w.xs, w.ds, grid, m) for m in METRICS}
    scheds = {"polynomial": gs.schedules.polynomial(args.nfe)}
    scheds |= {f"coeff {c:g}": grid[gs.gits.dp(cost["dev"], args.nfe, c)] for c in COEFFS}
    scheds |= {f"metric {m}": grid[gs.gits.dp(cost[m], args.nfe, 1.15)] for m in METRICS if m != "dev"}
    weights = Path(gs.__file__).parent / "weights" / "fmnist_edm.safetensors"
    out = {"model": "fmnist_edm", "sha256": gs.checkpoints.sha256_file(weights), "n": args.n, "nfe": args.nfe,
           "eval_seed": args.eval_seed, "warmup_seed": 0, "n_warmup": 256, "n_boot": args.n_boot,
           "note": "FD on Fashion-MNIST classifier features, not Inception FID",
           "sigmas": {k: v.tolist() for k, v in scheds.items()}, "rows": []}
    for solver in ("euler", "ipndm"):
        fd, boot = {}, {}
        for name, sig in scheds.items():
            x = gs.sampling.sample(net, solver, sig, args.n, seed=args.eval_seed, shape=shape, batch_size=250)
            fd[name], boot[name] = gs.metrics.fd_with_replicates(x, n_boot=args.n_boot)
        for name in scheds:
            est, lo, hi = gs.metrics.fd_ratio_change(fd[name], fd["polynomial"], boot[name], boot["polynomial"])
            out["rows"].append({"solver": solver, "setting": name, "fd": fd[name], "vs_polynomial": [est, lo, hi]})
            print(json.dumps(out["rows"][-1]), flush=True)
    out["wall_time_s"] = time.perf_counter() - t0
    gs.checkpoints.atomic_write_bytes(args.out, json.dumps(out, indent=1).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
