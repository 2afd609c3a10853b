"""FD (Fashion-MNIST classifier features, NOT Inception FID) of searched schedules on the shipped network.

Polynomial, GITS (official defaults) and the student-state DP (`gs.optimal.refine(student=True)`)
for Euler and iPNDM at NFE 5 and 6, the same evaluation latents for every schedule, with paired
bootstrap intervals of the FD changes (`gs.metrics.frechet_bootstrap`: the same resampling draws for
every schedule). Writes one JSON:

    python scripts/fd_searched.py --n 2000 --out results/fmnist_fd_searched.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gitscore as gs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=2000, help="samples per schedule (default 2000)")
    p.add_argument("--eval-seed", type=int, default=2, help="evaluation latents' seed (warm-up: seed 0)")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap replicates (default 200)")
    p.add_argument("--solvers", nargs="+", default=["euler", "ipndm"], help="default: euler ipndm")
    p.add_argument("--nfe", nargs="+", type=int, default=[5, 6], help="default: 5 6")
    p.add_argument("--n-warmup", type=int, default=256, help="GITS warm-up trajectories (default 256)")
    p.add_argument("--n-tune", type=int, default=16, help="warm-up latents the student DP tunes on (default 16)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    shape, net = (1, 28, 28), gs.nets.load_pretrained("fmnist_edm")
    # the official defaults, warm-up seed 0 (a smaller warm-up only for the results pipeline's smoke run)
    config = gs.gits.SearchConfig(grid=gs.gits.teacher_grid(), n_warmup=args.n_warmup)
    t0 = time.perf_counter()
    warm = gs.gits.warmup_for(net, shape, config)
    weights = Path(gs.__file__).parent / "weights" / "fmnist_edm.safetensors"
    out = {"model": "fmnist_edm", "sha256": gs.files.sha256_file(weights), "n": args.n,
           "eval_seed": args.eval_seed, "warmup_seed": 0, "n_boot": args.n_boot,
           "note": "FD on Fashion-MNIST classifier features, not Inception FID", "rows": []}
    for solver in args.solvers:
        for steps in args.nfe:
            res = gs.optimal.refine(net, shape, steps, config, solver=solver, student=True, n_tune=args.n_tune,
                                    max_evals=4, warm=warm)
            scheds = {"polynomial": gs.schedules.polynomial(steps), "gits": res.gits_sigmas,
                      "student_dp": res.sigmas}
            boot, fd = {}, {}
            for name, sig in scheds.items():
                x = gs.sampling.sample(net, solver, sig, args.n, seed=args.eval_seed, shape=shape, batch_size=250)
                fd[name], boot[name] = gs.metrics.fd_with_replicates(x, n_boot=args.n_boot)
            row = {"solver": solver, "nfe": steps, "sigmas": {k: v.tolist() for k, v in scheds.items()},
                   "fd": fd}
            for name in ("polynomial", "student_dp"):
                est, lo, hi = gs.metrics.fd_ratio_change(fd[name], fd["gits"], boot[name], boot["gits"])
                row[f"{name}_vs_gits"] = [est, lo, hi]
            out["rows"].append(row)
            print(json.dumps({k: row[k] for k in ("solver", "nfe", "fd", "polynomial_vs_gits",
                                                    "student_dp_vs_gits")}), flush=True)
    out["wall_time_s"] = time.perf_counter() - t0
    gs.files.atomic_write_bytes(args.out, json.dumps(out, indent=1).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
